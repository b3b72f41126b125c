import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { HelpText } from '@twilio-paste/core/help-text';
import { Label } from '@twilio-paste/core/label';
import { TextArea } from '@twilio-paste/core/textarea';
import { type FormEvent, useId, useState } from 'react';
import { api, errorText } from '../api';
import { ErrorCallout } from '../ui/ErrorCallout';

/**
 * Writes an internal note on a conversation, for colleagues: it joins the transcript,
 * marked as internal, and is never sent to the customer. The transcript shows it once the
 * live event arrives; `onAdded` may refresh it sooner.
 */
export function NoteForm({
  conversationId,
  onAdded,
}: {
  conversationId: string;
  onAdded?: () => void;
}) {
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fieldId = useId();
  const helpId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!body.trim() || busy) return;
    setBusy(true);
    setError(null);
    try {
      await api(`/api/conversations/${conversationId}/notes`, { body: { body } });
      setBody('');
      onAdded?.();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box as="form" onSubmit={submit} data-testid="note-form">
      {error && (
        <Box marginBottom="space30">
          <ErrorCallout>{error}</ErrorCallout>
        </Box>
      )}
      <Label htmlFor={fieldId}>Internal note — not sent to the customer</Label>
      <TextArea
        id={fieldId}
        value={body}
        maxLength={4000}
        resize="vertical"
        aria-describedby={helpId}
        onChange={(event) => setBody(event.target.value)}
      />
      <HelpText id={helpId}>Only agents and supervisors see it, in the transcript.</HelpText>
      <Box marginTop="space30">
        <Button
          variant="secondary"
          size="small"
          type="submit"
          loading={busy}
          disabled={!body.trim()}
        >
          Add note
        </Button>
      </Box>
    </Box>
  );
}
