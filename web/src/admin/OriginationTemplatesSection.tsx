import { Box } from '@twilio-paste/core/box';
import { Truncate } from '@twilio-paste/core/truncate';
import { api } from '../api';
import { useResource } from '../useResource';
import { NONE } from './convert';
import { EntityForm } from './EntityForm';
import { FieldGrid, SelectField, TextAreaField, TextField } from './fields';
import { type FormSlot, ResourceSection } from './ResourceSection';
import type { NumberRow, OriginationTemplate } from './types';
import { useDraft } from './useDraft';

const PATH = '/api/admin/origination-templates';

/** Outreach texts agents and API clients fill in and send: a fixed number and strategy each. */
export function OriginationTemplatesSection() {
  const list = useResource<OriginationTemplate[]>(PATH);
  const numbers = useResource<NumberRow[]>('/api/admin/numbers');
  const addresses = new Map((numbers.data ?? []).map((n) => [n.id, n.address]));

  return (
    <ResourceSection
      title="Task templates"
      noun="task template"
      intro="Texts agents send to start a conversation — “Your order {{orderId}} is ready” — from a fixed number with a fixed strategy. Agents pick one in the desk's New message and fill in each placeholder; API clients send POST /api/originations with templateId and variables. Only users whose role may start conversations from the number see it."
      list={list}
      rowLabel={(r) => r.name}
      columns={[
        { header: 'Name', cell: (r) => r.name },
        { header: 'From', cell: (r) => addresses.get(r.numberId) ?? '?', nowrap: true },
        { header: 'Strategy', cell: (r) => r.strategy, nowrap: true },
        {
          header: 'Text',
          cell: (r) => (
            <Box maxWidth="size40">
              <Truncate title={r.body}>{r.body}</Truncate>
            </Box>
          ),
        },
      ]}
      renderForm={(slot) => (
        <TemplateForm
          {...slot}
          numbers={(numbers.data ?? []).filter((n) => n.kind !== 'messenger')}
        />
      )}
      onDelete={(r) => api(`${PATH}/${r.id}`, { method: 'DELETE' })}
    />
  );
}

function TemplateForm({
  row,
  onSaved,
  onCancel,
  numbers,
}: FormSlot<OriginationTemplate> & { numbers: NumberRow[] }) {
  const form = useDraft({
    name: row?.name ?? '',
    numberId: row?.numberId ?? NONE,
    strategy: (row?.strategy ?? 'on-reply') as string,
    body: row?.body ?? '',
  });
  const { draft } = form;

  const save = async () => {
    const body = {
      name: draft.name.trim(),
      numberId: draft.numberId,
      strategy: draft.strategy,
      body: draft.body,
    };
    const saved = row
      ? await api<OriginationTemplate>(`${PATH}/${row.id}`, { method: 'PATCH', body })
      : await api<OriginationTemplate>(PATH, { body });
    onSaved(`${row ? 'Saved' : 'Added'} task template “${saved.name}”.`);
  };

  return (
    <EntityForm
      title={row ? `Edit task template ${row.name}` : 'New task template'}
      form={form}
      onSave={save}
      onCancel={onCancel}
    >
      <FieldGrid>
        <TextField
          label="Name"
          required
          maxLength={100}
          help="What agents pick it by, up to 100 characters."
          {...form.bind('name')}
        />
        <SelectField
          label="From"
          required
          options={[
            ...(row ? [] : [{ value: NONE, label: 'Choose a number…' }]),
            ...numbers.map((n) => ({
              value: n.id,
              label: n.name ? `${n.name} (${n.address})` : n.address,
            })),
          ]}
          help="The number it is always sent from."
          {...form.bind('numberId')}
        />
        <SelectField
          label="Strategy"
          options={[
            { value: 'on-reply', label: "On reply: the customer's answer is offered to the agent" },
            { value: 'assign-now', label: 'Assign now: the conversation opens with the agent' },
          ]}
          {...form.bind('strategy')}
        />
      </FieldGrid>
      <TextAreaField
        label="Text"
        required
        maxLength={1600}
        help={`${draft.body.length} of 1600 characters. Write a placeholder as {{orderId}}: the sender gives each a value. {{agentName}} becomes the sending agent's name.`}
        {...form.bind('body')}
      />
    </EntityForm>
  );
}
