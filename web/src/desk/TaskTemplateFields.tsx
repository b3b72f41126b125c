import { Box } from '@twilio-paste/core/box';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Option, Select } from '@twilio-paste/core/select';
import { Text } from '@twilio-paste/core/text';
import { useId } from 'react';
import type { Schemas } from '../api';
import { fillPlaceholders } from '../content/templateText';
import type { Sender } from './types';

export type TaskTemplate = Schemas['OriginationTemplate'];

/** The task template chosen and the values typed for its placeholders. */
export interface TaskChoice {
  templateId: string;
  variables: Record<string, string>;
}

const STRATEGY_TEXT = {
  'on-reply': "the customer's answer is offered to you",
  'assign-now': 'the conversation opens with you at once',
} as const;

/**
 * "From a task template": pick one of the admin's templates, fill in each placeholder, and
 * read the text the customer will get. Its number and strategy are the template's.
 */
export function TaskTemplateFields({
  templates,
  senders,
  agentName,
  value,
  onChange,
  error,
}: {
  templates: TaskTemplate[];
  senders: Sender[];
  agentName: string;
  value: TaskChoice;
  onChange: (next: TaskChoice) => void;
  /** A 400's field ("templateId", "variables.orderId") and sentence. */
  error: { field: string; message: string } | null;
}) {
  const ids = { template: useId(), preview: useId(), variable: useId() };
  const template = templates.find((t) => t.id === value.templateId);
  const sender = senders.find((s) => s.id === template?.numberId);

  if (templates.length === 0) {
    return (
      <HelpText variant="default">
        No task templates are set up for the numbers you may use.
      </HelpText>
    );
  }
  return (
    <>
      <Box>
        <Label htmlFor={ids.template} required>
          Task template
        </Label>
        <Select
          id={ids.template}
          value={value.templateId}
          onChange={(e) => onChange({ templateId: e.target.value, variables: {} })}
          hasError={error?.field === 'templateId'}
        >
          {templates.map((t) => (
            <Option key={t.id} value={t.id}>
              {t.name}
            </Option>
          ))}
        </Select>
        <HelpText variant={error?.field === 'templateId' ? 'error' : 'default'}>
          {error?.field === 'templateId'
            ? error.message
            : template &&
              `Sent from ${sender?.name ? `${sender.name} (${sender.address})` : (sender?.address ?? 'its number')}; ${STRATEGY_TEXT[template.strategy]}.`}
        </HelpText>
      </Box>
      {template?.variables.map((name) => {
        const fault = error?.field === `variables.${name}` ? error.message : null;
        return (
          <Box key={name}>
            <Label htmlFor={`${ids.variable}-${name}`} required>
              {name}
            </Label>
            <Input
              id={`${ids.variable}-${name}`}
              name={`variables.${name}`}
              type="text"
              value={value.variables[name] ?? ''}
              onChange={(e) =>
                onChange({ ...value, variables: { ...value.variables, [name]: e.target.value } })
              }
              hasError={Boolean(fault)}
              required
            />
            {fault && <HelpText variant="error">{fault}</HelpText>}
          </Box>
        );
      })}
      {template && (
        <Box>
          <Text as="p" id={ids.preview} fontWeight="fontWeightSemibold">
            The customer reads
          </Text>
          <Box
            as="output"
            aria-labelledby={ids.preview}
            display="block"
            padding="space30"
            borderRadius="borderRadius20"
            backgroundColor="colorBackground"
            whiteSpace="pre-wrap"
            data-testid="task-template-preview"
          >
            {fillPlaceholders(template.body, { ...value.variables, agentName })}
          </Box>
        </Box>
      )}
    </>
  );
}
