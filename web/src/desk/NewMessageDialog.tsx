import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Radio, RadioGroup } from '@twilio-paste/core/radio-group';
import { Option, Select } from '@twilio-paste/core/select';
import { TextArea } from '@twilio-paste/core/textarea';
import type { CountryCode } from 'libphonenumber-js';
import { useEffect, useId, useState } from 'react';
import { isCountryCode, normalisePhone } from '../../../src/phone-numbers';
import { ApiError, api, errorText } from '../api';
import { type TemplateError, templateErrorOf } from '../content/TemplateFields';
import { TemplatePicker } from '../content/TemplatePicker';
import type { ServiceWindow, TemplateChoice } from '../content/types';
import { useSession } from '../session';
import { FormDialog } from '../ui/FormDialog';
import { type Attachment, AttachmentCards, AttachmentPicker, SegmentCounter } from './Composer';
import { type TaskChoice, type TaskTemplate, TaskTemplateFields } from './TaskTemplateFields';
import type { Sender } from './types';

type Strategy = 'assign-now' | 'on-reply';

/** The country a national number is read in: the sending number's account's, as the server. */
function countryOf(sender: Sender | undefined): CountryCode {
  const country = sender?.defaultCountry;
  return country && isCountryCode(country) ? country : 'US';
}

interface WindowAnswer {
  /** What was asked: a change of number or address asks again. */
  key: string;
  window: ServiceWindow | null;
  error: string | null;
}

/**
 * The customer-service window between a WhatsApp sender and the address typed, asked once
 * both are filled (after a pause in typing); null for other senders and while unknown.
 */
function useOutreachWindow(
  sender: Sender | undefined,
  to: string,
  country: CountryCode,
): { window: ServiceWindow | null; error: string | null } {
  const key = sender?.kind === 'whatsapp' && to ? `${sender.id} ${to}` : null;
  const [answer, setAnswer] = useState<WindowAnswer | null>(null);
  useEffect(() => {
    if (key === null || !sender) return;
    let current = true;
    const timer = setTimeout(() => {
      const query = new URLSearchParams({ numberId: sender.id, to, defaultCountry: country });
      api<ServiceWindow>(`/api/service-window?${query}`).then(
        (answered) => current && setAnswer({ key, window: answered, error: null }),
        (failure: unknown) =>
          current && setAnswer({ key, window: null, error: errorText(failure) }),
      );
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [key, sender, to, country]);
  return answer && answer.key === key ? answer : { window: null, error: null };
}

/**
 * Text a customer first. `assign-now` opens the conversation with me at once; `on-reply`
 * only sends, and the customer's answer is offered back to me. The numbers offered are those
 * my role may start conversations from, my queue's default sender preselected with its
 * default strategy; or an admin's task template gives the number, strategy and text.
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
  const [template, setTemplate] = useState<TemplateChoice | null>(null);
  const [templateAsked, setTemplateAsked] = useState(false);
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [tasks, setTasks] = useState<TaskTemplate[]>([]);
  const [task, setTask] = useState<TaskChoice | null>(null);
  const { me } = useSession();
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
        const preferred = list.find((s) => s.default) ?? list[0];
        setNumberId(preferred?.id ?? '');
        if (preferred) setStrategy(preferred.defaultStrategy);
      })
      .catch((failure) => setError(errorText(failure)));
    api<TaskTemplate[]>('/api/origination-templates')
      .then(setTasks)
      .catch((failure) => setError(errorText(failure)));
  }, [isOpen]);

  const chooseSender = (id: string) => {
    setNumberId(id);
    const chosen = senders.find((s) => s.id === id);
    if (chosen) setStrategy(chosen.defaultStrategy);
  };

  const sender = senders.find((s) => s.id === numberId);
  const taskNumberId = task ? tasks.find((t) => t.id === task.templateId)?.numberId : undefined;
  const country = countryOf(taskNumberId ? senders.find((s) => s.id === taskNumberId) : sender);
  const recipient = to.trim() ? normalisePhone(to, country) : undefined;
  const toProblem =
    to.trim() && !recipient
      ? `Not a phone number: write it as +14255550123, 14255550123 or a ${country} number`
      : null;

  const outreach = useOutreachWindow(sender, recipient ? to.trim() : '', country);
  const windowClosed = outreach.window !== null && !outreach.window.open;
  // Outside the window only a template goes; within it, one on request.
  const usingTemplate =
    sender?.kind === 'whatsapp' &&
    (windowClosed || (templateAsked && outreach.window?.templatesAllowed !== false));
  const templateFault: TemplateError | undefined = fieldError
    ? templateErrorOf(fieldError.field, fieldError.message, 'template')
    : undefined;

  const submit = async () => {
    if (!recipient) {
      setFieldError({ field: 'to', message: toProblem ?? 'Enter the customer’s number' });
      return;
    }
    if (!task && usingTemplate && !template) {
      setFieldError({ field: 'template.contentSid', message: 'Choose a template' });
      return;
    }
    setBusy(true);
    setError(null);
    setFieldError(null);
    try {
      const result = await api<{ conversationId: string | null }>('/api/originations', {
        body: task
          ? { to: recipient, defaultCountry: country, ...task }
          : {
              to: recipient,
              defaultCountry: country,
              numberId: numberId || undefined,
              ...(usingTemplate
                ? { template }
                : { body, attachments: attachments.map((a) => a.token) }),
              strategy,
            },
      });
      setTo('');
      setBody('');
      setAttachments([]);
      setTemplate(null);
      setTemplateAsked(false);
      setTask(null);
      onSent(result.conversationId);
    } catch (failure) {
      if (failure instanceof ApiError && failure.field) {
        setFieldError({ field: failure.field, message: failure.message });
        // The fields shown say it beside them (the number, or a task template's); others here.
        const besideField =
          failure.field === 'to' ||
          (task
            ? failure.field === 'templateId' || failure.field.startsWith('variables.')
            : failure.field === 'numberId');
        if (!besideField) setError(failure.message);
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
            (recipient
              ? `Sends to ${recipient}`
              : `+14255550123, 14255550123 or a ${country} number`)}
        </HelpText>
      </Box>
      {tasks.length > 0 && (
        <RadioGroup
          name="kind"
          legend="What to send"
          value={task ? 'task' : 'message'}
          onChange={(value) => {
            setFieldError(null);
            setTask(value === 'task' ? { templateId: tasks[0]?.id ?? '', variables: {} } : null);
          }}
          orientation="horizontal"
        >
          <Radio value="message">A message</Radio>
          <Radio value="task">From a task template</Radio>
        </RadioGroup>
      )}
      {task ? (
        <TaskTemplateFields
          templates={tasks}
          senders={senders}
          agentName={me.name}
          value={task}
          onChange={(next) => {
            setTask(next);
            setFieldError(null);
          }}
          error={fieldError}
        />
      ) : (
        <>
          <Box>
            <Label htmlFor={ids.sender}>From</Label>
            <Select id={ids.sender} value={numberId} onChange={(e) => chooseSender(e.target.value)}>
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
          {outreach.error && (
            <HelpText variant="warning">
              {`Could not tell whether the customer-service window is open: ${outreach.error}`}
            </HelpText>
          )}
          {windowClosed && (
            <HelpText variant="default" data-testid="service-window">
              {outreach.window?.templatesAllowed
                ? 'The customer-service window is closed: only an approved template can start this conversation.'
                : 'The customer-service window is closed: nothing can be sent until the customer writes.'}
            </HelpText>
          )}
          {usingTemplate && sender ? (
            <>
              <TemplatePicker
                numberId={sender.id}
                value={template}
                onChange={(next) => {
                  setTemplate(next);
                  if (templateFault) setFieldError(null);
                }}
                error={templateFault}
              />
              {!windowClosed && (
                <Box>
                  <Button variant="secondary" size="small" onClick={() => setTemplateAsked(false)}>
                    Write a message
                  </Button>
                </Box>
              )}
            </>
          ) : (
            <>
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
                <SegmentCounter
                  text={body}
                  id={ids.bodyHelp}
                  hint="Counted in SMS segments as you type"
                />
              </Box>
              <Box display="flex" flexWrap="wrap" columnGap="space30" alignItems="center">
                <AttachmentPicker
                  attachments={attachments}
                  onChange={setAttachments}
                  onError={setError}
                />
                {sender?.kind === 'whatsapp' && outreach.window?.templatesAllowed !== false && (
                  <Button variant="secondary" size="small" onClick={() => setTemplateAsked(true)}>
                    Template
                  </Button>
                )}
              </Box>
              <AttachmentCards attachments={attachments} onChange={setAttachments} />
            </>
          )}
        </>
      )}
    </FormDialog>
  );
}
