import { api } from '../api';
import { useResource } from '../useResource';
import { useArchivable } from './Archiving';
import {
  NONE,
  namesById,
  numberOrDefault,
  numberOrNull,
  numberText,
  skillsText,
  textOrNull,
} from './convert';
import {
  type DispositionRow,
  DispositionsField,
  dispositionRows,
  dispositionsOf,
} from './DispositionsField';
import { EntityForm, FieldSet } from './EntityForm';
import {
  ChecklistField,
  FieldGrid,
  SelectField,
  SwitchField,
  TextAreaField,
  TextField,
} from './fields';
import { LoadThen } from './LoadThen';
import { type FormSlot, ResourceSection } from './ResourceSection';
import { type SkillRow, SkillsField, skillRows, skillsOf } from './SkillsField';
import { TemplateSidsField } from './TemplateSidsField';
import {
  type AdminContentTemplate,
  type Agent,
  type NumberRow,
  type Queue,
  type QueueRow,
  STRATEGIES,
  type Strategy,
} from './types';
import { useDraft } from './useDraft';

const STRATEGY_LABELS: Record<Strategy, string> = {
  'longest-idle': 'Longest idle: the agent who finished last the longest ago',
  'round-robin': 'Round robin: each agent in turn',
  'least-busy': 'Least busy: the agent with the fewest conversations',
};

/** Queues: who takes a flow's conversations, and how they are offered. */
export function QueuesSection() {
  const archivable = useArchivable<QueueRow>('/api/admin/queues');
  const list = archivable.list;
  const agents = useResource<Agent[]>('/api/admin/agents');
  const templates = useResource<AdminContentTemplate[]>('/api/admin/content-templates');
  const approved = templates.data?.filter((t) => t.whatsappStatus === 'approved') ?? [];
  const numbers = useResource<NumberRow[]>('/api/admin/numbers');
  // A default sender is one agents could write first from: not a Messenger page.
  const senders = numbers.data?.filter((n) => n.kind !== 'messenger') ?? [];
  const queueNames = namesById(list.data);

  return (
    <ResourceSection
      title="Queues"
      noun="queue"
      intro="Agents who can take a flow's conversations: how the next agent is chosen, how long an offer waits, where conversations go when nobody takes them."
      list={list}
      archive={archivable}
      rowLabel={(q) => q.name}
      columns={[
        { header: 'Name', cell: (q) => q.name },
        { header: 'Strategy', cell: (q) => q.strategy, nowrap: true },
        { header: 'Priority', cell: (q) => q.priority },
        { header: 'Offer timeout', cell: (q) => `${q.offerTimeoutSeconds} s`, nowrap: true },
        { header: 'Auto-accept', cell: (q) => (q.autoAccept ? 'Yes' : 'No') },
        {
          header: 'Max wait',
          cell: (q) =>
            q.maxWaitSeconds === null
              ? '—'
              : `${q.maxWaitSeconds} s → ${q.overflowQueueId ? (queueNames.get(q.overflowQueueId) ?? '?') : 'message'}`,
        },
        { header: 'Skills', cell: (q) => skillsText(q.requiredSkills) },
        { header: 'Language', cell: (q) => q.language ?? '—' },
        {
          header: 'Wrap-up',
          cell: (q) =>
            q.dispositions.length === 0
              ? '—'
              : `${q.dispositions.length} code${q.dispositions.length === 1 ? '' : 's'}${q.dispositionRequired ? ', required' : ''}`,
          nowrap: true,
        },
      ]}
      renderForm={(slot) =>
        slot.row ? (
          // The list has no members; the queue itself does.
          <LoadThen<Queue> path={`/api/admin/queues/${slot.row.id}`} what="the queue">
            {(queue) => (
              <QueueForm
                {...slot}
                queue={queue}
                queues={archivable.inUse}
                agents={agents.data ?? []}
                templates={approved}
                senders={senders}
              />
            )}
          </LoadThen>
        ) : (
          <QueueForm
            {...slot}
            queue={null}
            queues={archivable.inUse}
            agents={agents.data ?? []}
            templates={approved}
            senders={senders}
          />
        )
      }
    />
  );
}

interface QueueDraft {
  name: string;
  strategy: string;
  priority: string;
  offerTimeoutSeconds: string;
  autoAccept: boolean;
  maxWaitSeconds: string;
  overflowQueueId: string;
  overflowMessage: string;
  requiredSkills: SkillRow[];
  language: string;
  offlineRequeueSeconds: string;
  memberIds: string[];
  contentSids: string[];
  dispositions: DispositionRow[];
  dispositionRequired: boolean;
  defaultSenderNumberId: string;
}

function draftOf(queue: Queue | null): QueueDraft {
  return {
    name: queue?.name ?? '',
    strategy: queue?.strategy ?? 'longest-idle',
    priority: numberText(queue?.priority ?? 0),
    offerTimeoutSeconds: numberText(queue?.offerTimeoutSeconds ?? 30),
    autoAccept: queue?.autoAccept ?? false,
    maxWaitSeconds: numberText(queue?.maxWaitSeconds),
    overflowQueueId: queue?.overflowQueueId ?? NONE,
    overflowMessage: queue?.overflowMessage ?? '',
    requiredSkills: skillRows(queue?.requiredSkills ?? {}),
    language: queue?.language ?? '',
    // A new queue gets the server's default (10 minutes); empty on an existing one: never.
    offlineRequeueSeconds: queue ? numberText(queue.offlineRequeueSeconds) : '600',
    memberIds: queue?.memberIds ?? [],
    contentSids: queue?.contentSids ?? [],
    dispositions: dispositionRows(queue?.dispositions ?? []),
    dispositionRequired: queue?.dispositionRequired ?? false,
    defaultSenderNumberId: queue?.defaultSenderNumberId ?? NONE,
  };
}

function QueueForm({
  queue,
  onSaved,
  onCancel,
  queues,
  agents,
  templates,
  senders,
}: Omit<FormSlot<QueueRow>, 'row'> & {
  queue: Queue | null;
  queues: QueueRow[];
  agents: Agent[];
  /** The approved content templates its agents may be given. */
  templates: AdminContentTemplate[];
  senders: NumberRow[];
}) {
  const form = useDraft(draftOf(queue));
  const { draft } = form;

  const save = async () => {
    const body = {
      name: draft.name,
      strategy: draft.strategy,
      priority: numberOrDefault(draft.priority),
      offerTimeoutSeconds: numberOrDefault(draft.offerTimeoutSeconds),
      autoAccept: draft.autoAccept,
      maxWaitSeconds: numberOrNull(draft.maxWaitSeconds),
      overflowQueueId: draft.overflowQueueId === NONE ? null : draft.overflowQueueId,
      overflowMessage: textOrNull(draft.overflowMessage),
      requiredSkills: skillsOf(draft.requiredSkills),
      language: textOrNull(draft.language.trim()),
      offlineRequeueSeconds: numberOrNull(draft.offlineRequeueSeconds),
      memberIds: draft.memberIds,
      contentSids: draft.contentSids,
      dispositions: dispositionsOf(draft.dispositions),
      dispositionRequired: draft.dispositionRequired,
      defaultSenderNumberId:
        draft.defaultSenderNumberId === NONE ? null : draft.defaultSenderNumberId,
    };
    const saved = queue
      ? await api<Queue>(`/api/admin/queues/${queue.id}`, { method: 'PATCH', body })
      : await api<Queue>('/api/admin/queues', { body });
    onSaved(`${queue ? 'Saved' : 'Added'} queue “${saved.name}”.`);
  };

  return (
    <EntityForm
      title={queue ? `Edit queue ${queue.name}` : 'New queue'}
      form={form}
      onSave={save}
      onCancel={onCancel}
    >
      <FieldSet title="Routing">
        <FieldGrid>
          <TextField label="Name" required {...form.bind('name')} />
          <SelectField
            label="Strategy"
            options={STRATEGIES.map((s) => ({ value: s, label: STRATEGY_LABELS[s] }))}
            {...form.bind('strategy')}
          />
          <TextField
            label="Priority"
            type="number"
            min={-100}
            max={100}
            help="−100 to 100. Conversations of higher-priority queues are offered first."
            {...form.bind('priority')}
          />
          <TextField
            label="Offer timeout (seconds)"
            type="number"
            min={5}
            max={3600}
            help="How long an agent has to accept before the next one is offered."
            {...form.bind('offerTimeoutSeconds')}
          />
          <SwitchField
            label="Auto-accept"
            help="Assign at once, without an offer to accept."
            {...form.bind('autoAccept')}
          />
          <TextField
            label="Language"
            placeholder="en"
            help="Optional: only agents who speak it (2 to 10 characters)."
            {...form.bind('language')}
          />
        </FieldGrid>
        <SkillsField
          label="Required skills"
          help="An agent needs at least this level of each."
          {...form.bind('requiredSkills')}
        />
      </FieldSet>

      <FieldSet title="When nobody takes it">
        <FieldGrid>
          <TextField
            label="Max wait (seconds)"
            type="number"
            min={10}
            help="Empty: wait as long as it takes. At least 10."
            {...form.bind('maxWaitSeconds')}
          />
          <SelectField
            label="Overflow queue"
            options={[
              { value: NONE, label: 'None' },
              ...queues
                .filter((q) => q.id !== queue?.id)
                .map((q) => ({ value: q.id, label: q.name })),
            ]}
            help="Where a conversation moves after the max wait (it waits there anew)."
            {...form.bind('overflowQueueId')}
          />
        </FieldGrid>
        <TextAreaField
          label="Overflow message"
          maxLength={1600}
          help="Sent to the customer once when the max wait is over. Max wait needs an overflow queue or this message."
          {...form.bind('overflowMessage')}
        />
        <TextField
          label="Offline requeue (seconds)"
          type="number"
          min={0}
          help="Conversations of an agent offline this long go back to the queue. Empty: never."
          {...form.bind('offlineRequeueSeconds')}
        />
      </FieldSet>

      <FieldSet title="Wrap-up">
        <DispositionsField
          label="Dispositions"
          help="What agents pick when they end a conversation: the code is stored and reported (lowercase letters, digits, - and _), the label is what they read."
          {...form.bind('dispositions')}
        />
        <SwitchField
          label="Require a disposition"
          help="Agents cannot end a conversation of this queue without picking one."
          {...form.bind('dispositionRequired')}
        />
      </FieldSet>

      <ChecklistField
        label="Members"
        help={agents.length === 0 ? 'No users yet: add agents first.' : 'Who takes this queue.'}
        options={agents.map((a) => ({
          value: a.id,
          label: `${a.name}${a.disabledAt ? ' (disabled)' : ''}`,
        }))}
        {...form.bind('memberIds')}
      />

      <TemplateSidsField
        label="Templates"
        help="The content templates this queue's agents may send (on WhatsApp, approved ones only). None chosen: every one."
        templates={templates}
        {...form.bind('contentSids')}
      />

      <SelectField
        label="Default sender"
        options={[
          { value: NONE, label: 'None: their first number' },
          ...senders.map((n) => ({
            value: n.id,
            label: n.name ? `${n.name} (${n.address})` : n.address,
          })),
        ]}
        help="The number members start conversations from unless they choose another: preselected in the desk's New message, used by the API and by email-to-SMS."
        {...form.bind('defaultSenderNumberId')}
      />
    </EntityForm>
  );
}
