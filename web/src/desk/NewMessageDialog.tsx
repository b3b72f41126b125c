import { Box } from '@twilio-paste/core/box';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Radio, RadioGroup } from '@twilio-paste/core/radio-group';
import { Option, Select } from '@twilio-paste/core/select';
import { TextArea } from '@twilio-paste/core/textarea';
import { type CountryCode, getCountries, parsePhoneNumberFromString } from 'libphonenumber-js';
import { useEffect, useId, useState } from 'react';
import { ApiError, api, errorText } from '../api';
import { FormDialog } from '../ui/FormDialog';
import { type Attachment, AttachmentCards, AttachmentPicker, SegmentCounter } from './Composer';
import type { Sender } from './types';

type Strategy = 'assign-now' | 'on-reply';

/** The country a national number is read in: the browser's region, else the US. */
function browserCountry(): CountryCode {
  const region = navigator.language.split('-')[1]?.toUpperCase();
  return region && (getCountries() as string[]).includes(region) ? (region as CountryCode) : 'US';
}

/**
 * Text a customer first. `assign-now` opens the conversation with me at once; `on-reply`
 * only sends, and the customer's answer is offered back to me.
 */
export function NewMessageDialog({
  isOpen,
  onClose,
  onSent,
}: {
  isOpen: boolean;
  onClose: () => void;
  onSent: (conversationId: string | null) => void;
}) {
  const [senders, setSenders] = useState<Sender[]>([]);
  const [to, setTo] = useState('');
  const [numberId, setNumberId] = useState('');
  const [strategy, setStrategy] = useState<Strategy>('on-reply');
  const [body, setBody] = useState('');
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const country = browserCountry();
  const ids = {
    heading: useId(),
    to: useId(),
    toHelp: useId(),
    sender: useId(),
    body: useId(),
    bodyHelp: useId(),
  };

  useEffect(() => {
    if (!isOpen) return;
    setError(null);
    setFieldError(null);
    api<Sender[]>('/api/numbers/senders')
      .then((list) => {
        setSenders(list);
        setNumberId((list.find((s) => s.default) ?? list[0])?.id ?? '');
      })
      .catch((failure) => setError(errorText(failure)));
  }, [isOpen]);

  const parsed = to.trim() ? parsePhoneNumberFromString(to.trim(), country) : undefined;
  const toProblem =
    to.trim() && !parsed?.isPossible()
      ? `Not a phone number (E.164 such as +15551234567, or a ${country} number)`
      : null;

  const submit = async () => {
    if (!parsed?.isPossible()) {
      setFieldError({ field: 'to', message: toProblem ?? 'Enter the customer’s number' });
      return;
    }
    setBusy(true);
    setError(null);
    setFieldError(null);
    try {
      const result = await api<{ conversationId: string | null }>('/api/originations', {
        body: {
          to: parsed.number,
          defaultCountry: country,
          numberId: numberId || undefined,
          body,
          attachments: attachments.map((a) => a.token),
          strategy,
        },
      });
      setTo('');
      setBody('');
      setAttachments([]);
      onSent(result.conversationId);
    } catch (failure) {
      if (failure instanceof ApiError && failure.field) {
        setFieldError({ field: failure.field, message: failure.message });
      } else setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  const toError = fieldError?.field === 'to' ? fieldError.message : toProblem;
  return (
    <FormDialog
      heading="New message"
      isOpen={isOpen}
      onClose={onClose}
      onSubmit={submit}
      submitLabel="Send"
      busy={busy}
      error={error}
    >
      <Box>
        <Label htmlFor={ids.to} required>
          To
        </Label>
        <Input
          id={ids.to}
          name="to"
          type="tel"
          value={to}
          onChange={(e) => setTo(e.target.value)}
          hasError={Boolean(toError)}
          aria-describedby={ids.toHelp}
          placeholder="+15551234567"
          required
        />
        <HelpText id={ids.toHelp} variant={toError ? 'error' : 'default'}>
          {toError ??
            (parsed?.isPossible() ? `Sends to ${parsed.number}` : `E.164, or a ${country} number`)}
        </HelpText>
      </Box>
      <Box>
        <Label htmlFor={ids.sender}>From</Label>
        <Select id={ids.sender} value={numberId} onChange={(e) => setNumberId(e.target.value)}>
          {senders.map((sender) => (
            <Option key={sender.id} value={sender.id}>
              {sender.name ? `${sender.name} (${sender.address})` : sender.address}
            </Option>
          ))}
        </Select>
        {fieldError?.field === 'numberId' && (
          <HelpText variant="error">{fieldError.message}</HelpText>
        )}
      </Box>
      <RadioGroup
        name="strategy"
        legend="When the customer answers"
        value={strategy}
        onChange={(value) => setStrategy(value as Strategy)}
      >
        <Radio value="on-reply" helpText="Their answer is offered to you first">
          Offer me their reply (on-reply)
        </Radio>
        <Radio value="assign-now" helpText="The conversation is yours right away">
          Open the conversation now (assign-now)
        </Radio>
      </RadioGroup>
      <Box>
        <Label htmlFor={ids.body} required>
          Message
        </Label>
        <TextArea
          id={ids.body}
          name="body"
          value={body}
          onChange={(e) => setBody(e.target.value)}
          aria-describedby={ids.bodyHelp}
          hasError={fieldError?.field === 'body'}
          required={attachments.length === 0}
        />
        <SegmentCounter text={body} id={ids.bodyHelp} hint="Counted in SMS segments as you type" />
      </Box>
      <Box display="flex" flexWrap="wrap" columnGap="space30" alignItems="center">
        <AttachmentPicker attachments={attachments} onChange={setAttachments} onError={setError} />
      </Box>
      <AttachmentCards attachments={attachments} onChange={setAttachments} />
    </FormDialog>
  );
}
