import { Box } from '@twilio-paste/core/box';
import { HelpText } from '@twilio-paste/core/help-text';
import { Label } from '@twilio-paste/core/label';
import { Option, Select } from '@twilio-paste/core/select';
import { Text } from '@twilio-paste/core/text';
import { TextArea } from '@twilio-paste/core/textarea';
import { useEffect, useId, useState } from 'react';
import { ApiError, api, errorText } from '../api';
import type { Transcript } from '../conversation/types';
import { FormDialog } from '../ui/FormDialog';

/**
 * Ends the conversation with its wrap-up: a disposition from the queue's codes (marked
 * required when the queue requires one) and a summary. The server decides; its refusal
 * is shown as it says it.
 */
export function EndDialog({
  conversation,
  isOpen,
  onClose,
  onEnded,
}: {
  conversation: Transcript['conversation'];
  isOpen: boolean;
  onClose: () => void;
  onEnded: () => void;
}) {
  const [disposition, setDisposition] = useState('');
  const [summary, setSummary] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [dispositionError, setDispositionError] = useState(false);
  const [busy, setBusy] = useState(false);
  const dispositionId = useId();
  const summaryId = useId();
  const { dispositions, dispositionRequired } = conversation;

  useEffect(() => {
    if (!isOpen) return;
    setError(null);
    setDispositionError(false);
  }, [isOpen]);

  const submit = async () => {
    setBusy(true);
    try {
      await api(`/api/conversations/${conversation.id}/end`, {
        body: {
          ...(disposition ? { disposition } : {}),
          ...(summary.trim() ? { summary } : {}),
        },
      });
      onEnded();
    } catch (failure) {
      setError(errorText(failure));
      setDispositionError(failure instanceof ApiError && failure.field === 'disposition');
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormDialog
      heading="End conversation"
      isOpen={isOpen}
      onClose={onClose}
      onSubmit={submit}
      submitLabel="End conversation"
      busy={busy}
      error={error}
    >
      <Text as="p">
        The customer gets the final message. Their next text starts a new conversation.
      </Text>
      {dispositions.length > 0 && (
        <Box>
          <Label htmlFor={dispositionId} required={dispositionRequired}>
            Disposition
          </Label>
          <Select
            id={dispositionId}
            value={disposition}
            hasError={dispositionError}
            onChange={(event) => {
              setDisposition(event.target.value);
              setDispositionError(false);
            }}
          >
            <Option value="">{dispositionRequired ? 'Choose…' : 'None'}</Option>
            {dispositions.map((choice) => (
              <Option key={choice.code} value={choice.code}>
                {choice.label}
              </Option>
            ))}
          </Select>
          {dispositionRequired && (
            <HelpText variant={dispositionError ? 'error' : 'default'}>
              {conversation.queueName ?? 'This queue'} requires one.
            </HelpText>
          )}
        </Box>
      )}
      <Box>
        <Label htmlFor={summaryId}>Summary</Label>
        <TextArea
          id={summaryId}
          value={summary}
          maxLength={2000}
          onChange={(event) => setSummary(event.target.value)}
        />
      </Box>
    </FormDialog>
  );
}
