import { Box } from '@twilio-paste/core/box';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Option, Select } from '@twilio-paste/core/select';
import { Text } from '@twilio-paste/core/text';
import { useId } from 'react';
import { fillPlaceholders, placeholdersOf } from './templateText';
import type { ContentTemplate, TemplateChoice } from './types';

/**
 * Where in a template choice the server found a fault: `contentSid`, `variables.<name>`, or
 * '' for the choice as a whole; and its message.
 */
export interface TemplateError {
  at: string;
  message: string;
}

/**
 * Choose a template and fill its placeholders: a select, a field per placeholder (labelled
 * with it, its sample as the placeholder text) and the text the customer will read.
 */
export function TemplateFields({
  label,
  templates,
  value,
  onChange,
  noneLabel,
  help,
  error,
  required = false,
}: {
  label: string;
  templates: ContentTemplate[];
  value: TemplateChoice | null;
  onChange: (choice: TemplateChoice | null) => void;
  /** The option that means "no template". */
  noneLabel: string;
  help?: string;
  error?: TemplateError | undefined;
  required?: boolean;
}) {
  const id = useId();
  const chosen = value ? templates.find((t) => t.sid === value.contentSid) : undefined;
  const choose = (sid: string) => {
    const template = templates.find((t) => t.sid === sid);
    onChange(
      template
        ? {
            contentSid: sid,
            variables: Object.fromEntries(
              placeholdersOf(template.body, template.variables).map((name) => [
                name,
                value?.variables[name] ?? '',
              ]),
            ),
          }
        : null,
    );
  };
  const selectError = error && !error.at.startsWith('variables.') ? error.message : undefined;
  const selectHelp = selectError ?? help;
  return (
    <Box display="flex" flexDirection="column" rowGap="space40">
      <Box>
        <Label htmlFor={`${id}-template`} required={required}>
          {label}
        </Label>
        <Select
          id={`${id}-template`}
          value={value?.contentSid ?? ''}
          onChange={(event) => choose(event.target.value)}
          hasError={Boolean(selectError)}
          aria-describedby={selectHelp ? `${id}-template-help` : undefined}
          required={required}
        >
          <Option value="">{noneLabel}</Option>
          {/* A template chosen before that is no longer offered stays visible as chosen. */}
          {value && !chosen && <Option value={value.contentSid}>{value.contentSid}</Option>}
          {templates.map((template) => (
            <Option key={template.sid} value={template.sid}>
              {`${template.friendlyName} (${template.language})`}
            </Option>
          ))}
        </Select>
        {selectHelp && (
          <HelpText id={`${id}-template-help`} variant={selectError ? 'error' : 'default'}>
            {selectHelp}
          </HelpText>
        )}
      </Box>
      {value && chosen && (
        <>
          {Object.keys(value.variables).length > 0 && (
            <Box
              display="grid"
              gridTemplateColumns={['1fr', '1fr 1fr']}
              columnGap="space50"
              rowGap="space40"
            >
              {Object.entries(value.variables).map(([name, text], index) => {
                const fieldId = `${id}-variable-${index}`;
                const fault = error?.at === `variables.${name}` ? error.message : undefined;
                return (
                  <Box key={name}>
                    <Label htmlFor={fieldId} required>
                      {`{{${name}}}`}
                    </Label>
                    <Input
                      id={fieldId}
                      type="text"
                      value={text}
                      placeholder={chosen.variables[name] ?? ''}
                      onChange={(event) =>
                        onChange({
                          ...value,
                          variables: { ...value.variables, [name]: event.target.value },
                        })
                      }
                      hasError={Boolean(fault)}
                      aria-describedby={fault ? `${fieldId}-help` : undefined}
                      required
                    />
                    {fault && (
                      <HelpText id={`${fieldId}-help`} variant="error">
                        {fault}
                      </HelpText>
                    )}
                  </Box>
                );
              })}
            </Box>
          )}
          <Box>
            <Text as="p" id={`${id}-preview`} fontWeight="fontWeightSemibold">
              Preview
            </Text>
            <Box
              role="group"
              aria-labelledby={`${id}-preview`}
              data-testid="template-preview"
              padding="space30"
              borderStyle="solid"
              borderWidth="borderWidth10"
              borderColor="colorBorderWeaker"
              borderRadius="borderRadius20"
              backgroundColor="colorBackgroundWeak"
            >
              <Text as="p" whiteSpace="pre-wrap">
                {fillPlaceholders(chosen.body, value.variables)}
              </Text>
            </Box>
          </Box>
        </>
      )}
    </Box>
  );
}

/** A 400's field (`template.variables.1`) as the part of the choice it names, if it does. */
export function templateErrorOf(
  field: string | undefined,
  message: string,
  prefix: string,
): TemplateError | undefined {
  if (!field || (field !== prefix && !field.startsWith(`${prefix}.`))) return undefined;
  return { at: field.slice(prefix.length + 1), message };
}
