import { Box } from '@twilio-paste/core/box';
import { HelpText } from '@twilio-paste/core/help-text';
import { AUTOMATED_MESSAGES, type AutomatedMessage } from '../../../src/events';
import { TemplateFields } from '../content/TemplateFields';
import type { ContentTemplate, TemplateChoice } from '../content/types';
import type { Bound } from './useDraft';

/** Automated message → its template; only the messages that have one. */
export type WindowTemplates = Record<string, TemplateChoice>;

/** How the admin console names each automated message. */
export const MESSAGE_LABELS: Record<AutomatedMessage, string> = {
  initial: 'Initial message',
  outOfHours: 'Out-of-hours message',
  queuePosition: 'Queue position message',
  help: 'Help message',
  attachmentsRefused: 'Attachments refused message',
  overflow: 'Overflow message',
  final: 'Final message',
  survey: 'Survey message',
  surveyComment: 'Survey comment prompt',
  surveyThanks: 'Survey thanks message',
};

/**
 * Per automated message, the approved template sent in its place once a WhatsApp
 * conversation's window has closed. `shown` are the messages the flow has text for; one
 * with a template already chosen stays shown so that it can be removed.
 */
export function WindowTemplatesField({
  value,
  onChange,
  error,
  errorAt,
  shown,
  templates,
}: Bound<WindowTemplates> & { shown: AutomatedMessage[]; templates: ContentTemplate[] }) {
  const messages = AUTOMATED_MESSAGES.filter((key) => shown.includes(key) || value[key]);
  const set = (key: AutomatedMessage, choice: TemplateChoice | null) => {
    const next = { ...value };
    if (choice) next[key] = choice;
    else delete next[key];
    onChange(next);
  };
  return (
    <Box display="flex" flexDirection="column" rowGap="space60">
      <HelpText>
        WhatsApp takes free text only within 24 hours of the customer's last message. After that,
        the template chosen here goes instead of the message; without one, nothing goes.
        {templates.length === 0 && ' No approved template yet: sync them in Templates.'}
      </HelpText>
      {messages.map((key) => {
        const at = errorAt?.startsWith(`${key}.`) ? errorAt.slice(key.length + 1) : undefined;
        return (
          <TemplateFields
            key={key}
            label={`${MESSAGE_LABELS[key]}: template`}
            templates={templates}
            value={value[key] ?? null}
            onChange={(choice) => set(key, choice)}
            noneLabel="None: not sent once the window has closed"
            help="Values may use {{customerName}}, {{agentName}} and {{businessName}}."
            error={error && at !== undefined ? { at, message: error } : undefined}
          />
        );
      })}
    </Box>
  );
}
