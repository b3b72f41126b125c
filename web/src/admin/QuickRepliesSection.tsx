import { Box } from '@twilio-paste/core/box';
import { Truncate } from '@twilio-paste/core/truncate';
import { api } from '../api';
import { useResource } from '../useResource';
import { NONE, namesById } from './convert';
import { EntityForm } from './EntityForm';
import { FieldGrid, SelectField, TextAreaField, TextField } from './fields';
import { type FormSlot, ResourceSection } from './ResourceSection';
import type { QueueRow, QuickReply } from './types';
import { useDraft } from './useDraft';

const PATH = '/api/admin/quick-replies';

/** Canned answers agents insert in the desk, for every queue or one. */
export function QuickRepliesSection() {
  const list = useResource<QuickReply[]>(PATH);
  const queues = useResource<QueueRow[]>('/api/admin/queues');
  const queueNames = namesById(queues.data);

  return (
    <ResourceSection
      title="Quick replies"
      noun="quick reply"
      intro="Prepared texts agents drop into the composer in the desk. One for all queues is for every agent; one for a queue is for that queue's members only (supervisors and admins see them all)."
      list={list}
      rowLabel={(r) => r.title}
      columns={[
        { header: 'Title', cell: (r) => r.title },
        {
          header: 'Body',
          cell: (r) => (
            // Long bodies would make the table very wide; the form shows them whole.
            <Box maxWidth="size40">
              <Truncate title={r.body}>{r.body}</Truncate>
            </Box>
          ),
        },
        {
          header: 'Queue',
          cell: (r) => (r.queueId ? (queueNames.get(r.queueId) ?? '?') : 'All queues'),
        },
      ]}
      renderForm={(slot) => <QuickReplyForm {...slot} queues={queues.data ?? []} />}
      onDelete={(r) => api(`${PATH}/${r.id}`, { method: 'DELETE' })}
    />
  );
}

function QuickReplyForm({
  row,
  onSaved,
  onCancel,
  queues,
}: FormSlot<QuickReply> & { queues: QueueRow[] }) {
  const form = useDraft({
    title: row?.title ?? '',
    body: row?.body ?? '',
    queueId: row?.queueId ?? NONE,
  });
  const { draft } = form;

  const save = async () => {
    const body = {
      title: draft.title.trim(),
      body: draft.body,
      queueId: draft.queueId === NONE ? null : draft.queueId,
    };
    const saved = row
      ? await api<QuickReply>(`${PATH}/${row.id}`, { method: 'PATCH', body })
      : await api<QuickReply>(PATH, { body });
    onSaved(`${row ? 'Saved' : 'Added'} quick reply “${saved.title}”.`);
  };

  return (
    <EntityForm
      title={row ? `Edit quick reply ${row.title}` : 'New quick reply'}
      form={form}
      onSave={save}
      onCancel={onCancel}
    >
      <FieldGrid>
        <TextField
          label="Title"
          required
          maxLength={100}
          help="What agents pick it by, up to 100 characters."
          {...form.bind('title')}
        />
        <SelectField
          label="Queue"
          options={[
            { value: NONE, label: 'All queues' },
            ...queues.map((q) => ({ value: q.id, label: q.name })),
          ]}
          {...form.bind('queueId')}
        />
      </FieldGrid>
      <TextAreaField
        label="Body"
        required
        maxLength={1600}
        help={`The text sent to the customer; ${draft.body.length} of 1600 characters. {{customerName}} becomes the customer's name (nothing when unknown), {{agentName}} the agent's, when the agent inserts it.`}
        {...form.bind('body')}
      />
    </EntityForm>
  );
}
