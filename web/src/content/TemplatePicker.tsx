import { Callout, CalloutText } from '@twilio-paste/core/callout';
import { LoadState } from '../ui/LoadState';
import { useResource } from '../useResource';
import { type TemplateError, TemplateFields } from './TemplateFields';
import type { ContentTemplate, TemplateChoice } from './types';

/**
 * The templates the signed-in agent may send from a number (in a conversation, within its
 * queue's list), to choose one and fill it in.
 */
export function TemplatePicker({
  numberId,
  conversationId,
  value,
  onChange,
  error,
}: {
  numberId: string;
  conversationId?: string;
  value: TemplateChoice | null;
  onChange: (choice: TemplateChoice | null) => void;
  error?: TemplateError | undefined;
}) {
  const query = new URLSearchParams({ numberId });
  if (conversationId) query.set('conversationId', conversationId);
  const templates = useResource<ContentTemplate[]>(`/api/content-templates?${query}`);
  if (!templates.data) {
    return <LoadState what="the templates" error={templates.error} />;
  }
  if (templates.data.length === 0) {
    return (
      <Callout variant="warning">
        <CalloutText>
          No approved template may be sent from this number: an admin syncs them from Twilio and
          picks those of your queue.
        </CalloutText>
      </Callout>
    );
  }
  return (
    <TemplateFields
      label="Template"
      templates={templates.data}
      value={value}
      onChange={onChange}
      noneLabel="Choose a template"
      error={error}
      required
    />
  );
}
