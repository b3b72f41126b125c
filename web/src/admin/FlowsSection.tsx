import { Callout, CalloutHeading } from '@twilio-paste/core/callout';
import { ListItem, UnorderedList } from '@twilio-paste/core/list';
import type { AutomatedMessage } from '../../../src/events';
import { api } from '../api';
import { useResource } from '../useResource';
import { useArchivable } from './Archiving';
import { NONE, namesById, numberOrDefault, numberOrNull, numberText, textOrNull } from './convert';
import { EntityForm, FieldSet } from './EntityForm';
import { FieldGrid, SelectField, SwitchField, TextAreaField, TextField } from './fields';
import { LoadThen } from './LoadThen';
import {
  MessageVariantsField,
  type VariantRow,
  variantRows,
  variantsOf,
} from './MessageVariantsField';
import { type FormSlot, ResourceSection } from './ResourceSection';
import {
  type HolidayRow,
  HolidaysField,
  HoursField,
  type IntervalRow,
  withKeys,
  withoutKeys,
} from './ScheduleFields';
import type { AdminContentTemplate, Flow, FlowRow, QueueRow } from './types';
import { useDraft } from './useDraft';
import { type WindowTemplates, WindowTemplatesField } from './WindowTemplatesField';

/** Flows: what happens to a conversation before an agent has it. */
export function FlowsSection() {
  const archivable = useArchivable<FlowRow>('/api/admin/flows');
  const list = archivable.list;
  const queues = useResource<QueueRow[]>('/api/admin/queues');
  const templates = useResource<AdminContentTemplate[]>('/api/admin/content-templates');
  const approved = templates.data?.filter((t) => t.whatsappStatus === 'approved') ?? [];
  const queueNames = namesById(queues.data);

  return (
    <ResourceSection
      title="Flows"
      noun="flow"
      intro="What a customer meets before an agent: operating hours, automated messages, an optional bot, the queue that takes over, attachments, inactivity close and the survey."
      list={list}
      archive={archivable}
      rowLabel={(f) => f.name}
      columns={[
        { header: 'Name', cell: (f) => f.name },
        { header: 'Business name', cell: (f) => f.businessName || '—' },
        { header: 'Time zone', cell: (f) => f.timeZone },
        { header: 'Queue', cell: (f) => (f.queueId ? (queueNames.get(f.queueId) ?? '?') : '—') },
        { header: 'Out of hours', cell: (f) => f.outOfHoursAction },
        { header: 'Bot', cell: (f) => (f.botUrl ? 'Yes' : 'No') },
        {
          header: 'Attachments',
          cell: (f) =>
            `Customers: ${f.allowAttachments ? 'yes' : 'no'}, agents: ${f.allowAgentAttachments ? 'yes' : 'no'}`,
        },
        {
          header: 'Inactivity close',
          cell: (f) => (f.inactivityCloseMinutes ? `${f.inactivityCloseMinutes} min` : 'Never'),
        },
      ]}
      renderForm={(slot) =>
        slot.row ? (
          // The list has no hours or holidays; the flow itself does.
          <LoadThen<Flow> path={`/api/admin/flows/${slot.row.id}`} what="the flow">
            {(flow) => (
              <FlowForm {...slot} flow={flow} queues={queues.data ?? []} templates={approved} />
            )}
          </LoadThen>
        ) : (
          <FlowForm {...slot} flow={null} queues={queues.data ?? []} templates={approved} />
        )
      }
    />
  );
}

const PLACEHOLDERS = 'You can use {businessName}, {queuePosition} and {agentName}.';

interface FlowDraft {
  name: string;
  businessName: string;
  timeZone: string;
  queueId: string;
  hours: IntervalRow[];
  holidays: HolidayRow[];
  initialMessage: string;
  outOfHoursMessage: string;
  outOfHoursAction: string;
  queuePositionMessage: string;
  finalMessage: string;
  helpMessage: string;
  botUrl: string;
  botRetries: string;
  botTimeoutMs: string;
  allowAttachments: boolean;
  allowAgentAttachments: boolean;
  attachmentsRefusedMessage: string;
  inactivityCloseMinutes: string;
  surveyMessage: string;
  surveyScale: string;
  surveyWindowHours: string;
  surveyCommentPrompt: string;
  surveyThanksMessage: string;
  affinityTtlHours: string;
  affinityBeyondCapacity: boolean;
  greetOutreachReplies: boolean;
  language: string;
  messageVariants: VariantRow[];
  windowTemplates: WindowTemplates;
}

/** A new flow starts from the server's defaults. */
function draftOf(flow: Flow | null): FlowDraft {
  return {
    name: flow?.name ?? '',
    businessName: flow?.businessName ?? '',
    timeZone: flow?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    queueId: flow?.queueId ?? NONE,
    hours: withKeys(flow?.hours ?? []),
    holidays: withKeys(flow?.holidays ?? []),
    initialMessage: flow?.initialMessage ?? '',
    outOfHoursMessage: flow?.outOfHoursMessage ?? '',
    outOfHoursAction: flow?.outOfHoursAction ?? 'queue',
    queuePositionMessage: flow?.queuePositionMessage ?? '',
    finalMessage: flow?.finalMessage ?? '',
    helpMessage: flow?.helpMessage ?? '',
    botUrl: flow?.botUrl ?? '',
    botRetries: numberText(flow?.botRetries ?? 2),
    botTimeoutMs: numberText(flow?.botTimeoutMs ?? 5000),
    allowAttachments: flow?.allowAttachments ?? true,
    allowAgentAttachments: flow?.allowAgentAttachments ?? true,
    attachmentsRefusedMessage: flow?.attachmentsRefusedMessage ?? '',
    inactivityCloseMinutes: numberText(flow?.inactivityCloseMinutes),
    surveyMessage: flow?.surveyMessage ?? '',
    surveyScale: flow?.surveyScale ?? 'score',
    surveyWindowHours: numberText((flow?.surveyWindowMinutes ?? 1440) / 60),
    surveyCommentPrompt: flow?.surveyCommentPrompt ?? '',
    surveyThanksMessage: flow?.surveyThanksMessage ?? '',
    affinityTtlHours: numberText(flow?.affinityTtlHours ?? 168),
    affinityBeyondCapacity: flow?.affinityBeyondCapacity ?? false,
    greetOutreachReplies: flow?.greetOutreachReplies ?? false,
    language: flow?.language ?? 'en',
    messageVariants: variantRows(flow?.messageVariants ?? {}),
    windowTemplates: flow?.windowTemplates ?? {},
  };
}

function bodyOf(draft: FlowDraft) {
  return {
    name: draft.name,
    businessName: draft.businessName,
    timeZone: draft.timeZone,
    queueId: draft.queueId === NONE ? null : draft.queueId,
    hours: withoutKeys(draft.hours),
    holidays: withoutKeys(draft.holidays),
    initialMessage: textOrNull(draft.initialMessage),
    outOfHoursMessage: textOrNull(draft.outOfHoursMessage),
    outOfHoursAction: draft.outOfHoursAction,
    queuePositionMessage: textOrNull(draft.queuePositionMessage),
    finalMessage: textOrNull(draft.finalMessage),
    helpMessage: textOrNull(draft.helpMessage),
    botUrl: textOrNull(draft.botUrl.trim()),
    botRetries: numberOrDefault(draft.botRetries),
    botTimeoutMs: numberOrDefault(draft.botTimeoutMs),
    allowAttachments: draft.allowAttachments,
    allowAgentAttachments: draft.allowAgentAttachments,
    attachmentsRefusedMessage: textOrNull(draft.attachmentsRefusedMessage),
    inactivityCloseMinutes: numberOrNull(draft.inactivityCloseMinutes),
    surveyMessage: textOrNull(draft.surveyMessage),
    surveyScale: draft.surveyScale === 'yes-no' ? ('yes-no' as const) : ('score' as const),
    surveyWindowMinutes: Math.round(Number(draft.surveyWindowHours || 24) * 60),
    surveyCommentPrompt: textOrNull(draft.surveyCommentPrompt),
    surveyThanksMessage: textOrNull(draft.surveyThanksMessage),
    affinityTtlHours: numberOrDefault(draft.affinityTtlHours),
    affinityBeyondCapacity: draft.affinityBeyondCapacity,
    greetOutreachReplies: draft.greetOutreachReplies,
    language: draft.language.trim(),
    messageVariants: variantsOf(draft.messageVariants),
    windowTemplates: draft.windowTemplates,
  };
}

/**
 * The automated messages the draft has text for (a template only replaces a message that is
 * sent), and the queue's overflow message, whose text is the queue's.
 */
function messagesWithText(draft: FlowDraft): AutomatedMessage[] {
  const texts: [AutomatedMessage, string][] = [
    ['initial', draft.initialMessage],
    ['outOfHours', draft.outOfHoursMessage],
    ['queuePosition', draft.queuePositionMessage],
    ['help', draft.helpMessage],
    ['attachmentsRefused', draft.attachmentsRefusedMessage],
    ['final', draft.finalMessage],
    ['survey', draft.surveyMessage],
    ['surveyComment', draft.surveyCommentPrompt],
    ['surveyThanks', draft.surveyThanksMessage],
  ];
  return [...texts.filter(([, text]) => text.trim()).map(([key]) => key), 'overflow'];
}

/** IANA zones the browser knows, plus UTC (which Chrome leaves out) and the current one. */
function timeZoneChoices(current: string) {
  const zones = new Set(['UTC', current, ...Intl.supportedValuesOf('timeZone')]);
  return [...zones].sort().map((zone) => ({ value: zone, label: zone }));
}

function FlowForm({
  flow,
  onSaved,
  onCancel,
  queues,
  templates,
}: Omit<FormSlot<FlowRow>, 'row'> & {
  flow: Flow | null;
  queues: QueueRow[];
  /** The approved content templates, for a closed WhatsApp window. */
  templates: AdminContentTemplate[];
}) {
  const form = useDraft(draftOf(flow));

  const save = async () => {
    const body = bodyOf(form.draft);
    const saved = flow
      ? await api<Flow>(`/api/admin/flows/${flow.id}`, { method: 'PATCH', body })
      : await api<Flow>('/api/admin/flows', { body });
    onSaved([`${flow ? 'Saved' : 'Added'} flow “${saved.name}”.`, ...saved.warnings].join(' '));
  };

  return (
    <EntityForm
      title={flow ? `Edit flow ${flow.name}` : 'New flow'}
      form={form}
      onSave={save}
      onCancel={onCancel}
    >
      {flow && flow.warnings.length > 0 && (
        <Callout variant="warning">
          <CalloutHeading as="h3">Check these settings</CalloutHeading>
          <UnorderedList marginBottom="space0">
            {flow.warnings.map((warning) => (
              <ListItem key={warning}>{warning}</ListItem>
            ))}
          </UnorderedList>
        </Callout>
      )}
      <FieldSet title="General">
        <FieldGrid>
          <TextField label="Name" required {...form.bind('name')} />
          <TextField
            label="Business name"
            help="Fills {businessName} in the messages."
            {...form.bind('businessName')}
          />
          <SelectField
            label="Time zone"
            options={timeZoneChoices(form.draft.timeZone)}
            help="Operating hours and holidays are in this zone."
            {...form.bind('timeZone')}
          />
          <SelectField
            label="Target queue"
            options={[
              { value: NONE, label: 'No queue' },
              ...queues.map((q) => ({ value: q.id, label: q.name })),
            ]}
            help="Where conversations go after the flow."
            {...form.bind('queueId')}
          />
        </FieldGrid>
      </FieldSet>

      <FieldSet title="Operating hours">
        <HoursField {...form.bind('hours')} />
        <HolidaysField help="Closed all day, in the flow's time zone." {...form.bind('holidays')} />
      </FieldSet>

      <FieldSet title="Messages">
        <FieldGrid>
          <TextAreaField
            label="Initial message"
            maxLength={1600}
            help={`Sent when a conversation starts. ${PLACEHOLDERS}`}
            {...form.bind('initialMessage')}
          />
          <TextAreaField
            label="Out-of-hours message"
            maxLength={1600}
            help="Sent instead when the flow is closed."
            {...form.bind('outOfHoursMessage')}
          />
          <SelectField
            label="Out of hours, then"
            options={[
              { value: 'queue', label: 'Queue it for when agents are back' },
              { value: 'close', label: 'Close the conversation' },
            ]}
            {...form.bind('outOfHoursAction')}
          />
          <TextAreaField
            label="Queue position message"
            maxLength={1600}
            help="Sent while waiting; {queuePosition} is the place in line."
            {...form.bind('queuePositionMessage')}
          />
          <TextAreaField
            label="Final message"
            maxLength={1600}
            help="Sent when the agent ends the conversation."
            {...form.bind('finalMessage')}
          />
          <TextAreaField
            label="Help message"
            maxLength={1600}
            help="The answer to HELP where Twilio does not answer it (a short code or WhatsApp sender outside a Messaging Service, Messenger). Elsewhere Twilio answers: set its reply in the Messaging Service's Advanced Opt-Out."
            {...form.bind('helpMessage')}
          />
          <TextField
            label="Language of these messages"
            placeholder="en"
            help="A BCP 47 tag such as en, es or fr-CA. Customers whose contact has another language get its messages below, if any."
            {...form.bind('language')}
          />
        </FieldGrid>
        <SwitchField
          label="Greet replies to an agent's outreach"
          help="Off: a customer answering an agent's text gets no initial message; the conversation starts with the agent's text."
          {...form.bind('greetOutreachReplies')}
        />
        <MessageVariantsField
          shown={messagesWithText(form.draft)}
          {...form.bind('messageVariants')}
        />
      </FieldSet>

      <FieldSet title="Survey">
        <TextAreaField
          label="Survey question"
          maxLength={1600}
          help="Sent after the final message. The customer's answer is kept on the conversation instead of opening a new one. Empty: no survey."
          {...form.bind('surveyMessage')}
        />
        <FieldGrid>
          <SelectField
            label="Answer"
            options={[
              { value: 'score', label: 'A score from 1 to 5' },
              { value: 'yes-no', label: 'Yes or no' },
            ]}
            help="Anything else opens a new conversation."
            {...form.bind('surveyScale')}
          />
          <TextField
            label="Answer within (hours)"
            type="number"
            min={1}
            max={168}
            step="any"
            help="A reply after this opens a new conversation."
            {...form.bind('surveyWindowHours')}
          />
        </FieldGrid>
        <FieldGrid>
          <TextAreaField
            label="Comment prompt"
            maxLength={1600}
            help="Optional: asked after the answer; the reply within the hour is kept as the comment."
            {...form.bind('surveyCommentPrompt')}
          />
          <TextAreaField
            label="Thanks message"
            maxLength={1600}
            help="Optional: sent once the survey is complete."
            {...form.bind('surveyThanksMessage')}
          />
        </FieldGrid>
      </FieldSet>

      <FieldSet title="Once the WhatsApp window has closed">
        <WindowTemplatesField
          shown={messagesWithText(form.draft)}
          templates={templates}
          {...form.bind('windowTemplates')}
        />
      </FieldSet>

      <FieldSet title="Bot">
        <TextField
          label="Bot URL"
          type="url"
          placeholder="https://bot.example.com/parley"
          help="Optional: Parley POSTs each customer message here before handing over to the queue."
          {...form.bind('botUrl')}
        />
        <FieldGrid>
          <TextField
            label="Bot retries"
            type="number"
            min={0}
            max={10}
            help="0 to 10; after the last one the conversation goes to the queue."
            {...form.bind('botRetries')}
          />
          <TextField
            label="Bot timeout (ms)"
            type="number"
            min={100}
            max={30000}
            help="100 to 30000 per attempt."
            {...form.bind('botTimeoutMs')}
          />
        </FieldGrid>
      </FieldSet>

      <FieldSet title="Conversation">
        <SwitchField
          label="Customers may send attachments"
          help="Off: customers' pictures and files are refused, and the message below is sent."
          {...form.bind('allowAttachments')}
        />
        <SwitchField
          label="Agents may send attachments"
          help="Off: replies and new conversations from agents carry text only; the server refuses attachments."
          {...form.bind('allowAgentAttachments')}
        />
        <TextAreaField
          label="Attachments refused message"
          maxLength={1600}
          help="Sent when a customer's attachment is refused."
          {...form.bind('attachmentsRefusedMessage')}
        />
        <FieldGrid>
          <TextField
            label="Inactivity auto-close (minutes)"
            type="number"
            min={1}
            max={43200}
            help="Close a conversation quiet this long. Empty: never."
            {...form.bind('inactivityCloseMinutes')}
          />
          <TextField
            label="Affinity TTL (hours)"
            type="number"
            min={1}
            max={2160}
            help="How long a customer's reply goes back to the agent who texted them (1 to 2160)."
            {...form.bind('affinityTtlHours')}
          />
        </FieldGrid>
        <SwitchField
          label="Affinity beyond capacity"
          help="Offer that agent the reply even when they are at capacity."
          {...form.bind('affinityBeyondCapacity')}
        />
      </FieldSet>
    </EntityForm>
  );
}
