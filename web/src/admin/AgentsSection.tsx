import { Badge } from '@twilio-paste/core/badge';
import { Button } from '@twilio-paste/core/button';
import { InlineCode } from '@twilio-paste/core/inline-code';
import { useState } from 'react';
import { api } from '../api';
import { useSession } from '../session';
import { useResource } from '../useResource';
import { numberOrDefault, numberText, parseList, skillsText } from './convert';
import { EntityForm, FieldSet } from './EntityForm';
import { FieldGrid, SelectField, SwitchField, TextField } from './fields';
import { type FormSlot, ResourceSection } from './ResourceSection';
import { type SkillRow, SkillsField, skillRows, skillsOf } from './SkillsField';
import { type Agent, ROLES } from './types';
import { useDraft } from './useDraft';

/** Users: agents, supervisors and admins, with the routing profile agents are picked by. */
export function AgentsSection() {
  const list = useResource<Agent[]>('/api/admin/agents');
  return (
    <ResourceSection
      title="Agents"
      noun="user"
      intro="Everyone who signs in: agents, supervisors and admins. Capacity is how many conversations of each channel an agent works at once; skills and languages decide which queues' conversations they are offered. Disable a user to keep their history and stop their sign-in."
      list={list}
      rowLabel={(a) => a.name}
      columns={[
        { header: 'Name', cell: (a) => a.name },
        { header: 'Email', cell: (a) => a.email },
        { header: 'Role', cell: (a) => a.role },
        {
          header: 'Capacity SMS / WhatsApp / Messenger',
          cell: (a) => `${a.capacitySms} / ${a.capacityWhatsapp} / ${a.capacityMessenger}`,
        },
        { header: 'Skills', cell: (a) => skillsText(a.skills) },
        { header: 'Languages', cell: (a) => a.languages.join(', ') || '—' },
        {
          header: 'Status',
          cell: (a) =>
            a.disabledAt ? (
              <Badge as="span" variant="error">
                Disabled
              </Badge>
            ) : (
              <Badge as="span" variant="neutral">
                {a.presence}
              </Badge>
            ),
        },
      ]}
      renderForm={(slot) => <AgentForm {...slot} />}
    />
  );
}

interface AgentDraft {
  name: string;
  email: string;
  role: string;
  password: string;
  capacitySms: string;
  capacityWhatsapp: string;
  capacityMessenger: string;
  skills: SkillRow[];
  languages: string;
  disabled: boolean;
}

function draftOf(agent: Agent | null): AgentDraft {
  return {
    name: agent?.name ?? '',
    email: agent?.email ?? '',
    role: agent?.role ?? 'agent',
    password: '',
    capacitySms: numberText(agent?.capacitySms ?? 3),
    capacityWhatsapp: numberText(agent?.capacityWhatsapp ?? 3),
    capacityMessenger: numberText(agent?.capacityMessenger ?? 3),
    skills: skillRows(agent?.skills ?? {}),
    languages: (agent?.languages ?? []).join(', '),
    disabled: agent?.disabledAt !== null && agent?.disabledAt !== undefined,
  };
}

/** 14 characters from an unambiguous alphabet: easy to read out, ~80 bits. */
function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789';
  return Array.from(
    crypto.getRandomValues(new Uint32Array(14)),
    (n) => alphabet[n % alphabet.length],
  ).join('');
}

function AgentForm({ row, onSaved, onCancel }: FormSlot<Agent>) {
  const { me } = useSession();
  const form = useDraft(draftOf(row));
  const { draft } = form;
  const [generated, setGenerated] = useState<string | null>(null);
  // Demoting or disabling yourself would lock you out of this page.
  const self = row?.id === me.id;

  const save = async () => {
    const profile = {
      name: draft.name,
      capacitySms: numberOrDefault(draft.capacitySms),
      capacityWhatsapp: numberOrDefault(draft.capacityWhatsapp),
      capacityMessenger: numberOrDefault(draft.capacityMessenger),
      skills: skillsOf(draft.skills),
      languages: parseList(draft.languages),
    };
    if (row) {
      await api<Agent>(`/api/admin/agents/${row.id}`, {
        method: 'PATCH',
        body: self ? profile : { ...profile, role: draft.role, disabled: draft.disabled },
      });
      onSaved(`Saved ${draft.name}.`);
      return;
    }
    await api<Agent>('/api/admin/agents', {
      body: { ...profile, email: draft.email.trim(), role: draft.role, password: draft.password },
    });
    onSaved(
      generated === draft.password ? (
        <>
          Added {draft.name}. Their password is <InlineCode>{draft.password}</InlineCode> — give it
          to them now, Parley does not show it again.
        </>
      ) : (
        `Added ${draft.name}; they sign in with the password you set.`
      ),
    );
  };

  const generate = () => {
    const password = generatePassword();
    setGenerated(password);
    form.set('password', password);
  };

  return (
    <EntityForm
      title={row ? `Edit ${row.name}` : 'New user'}
      form={form}
      onSave={save}
      onCancel={onCancel}
    >
      <FieldGrid>
        <TextField label="Name" required autoComplete="off" {...form.bind('name')} />
        <TextField
          label="Email"
          type="email"
          required
          readOnly={row !== null}
          autoComplete="off"
          help={row ? 'The email is the sign-in name and cannot change.' : undefined}
          {...form.bind('email')}
        />
        <SelectField
          label="Role"
          options={ROLES.map((role) => ({ value: role, label: role }))}
          disabled={self}
          help={self ? 'You cannot change your own role.' : undefined}
          {...form.bind('role')}
        />
        {!row && (
          <TextField
            label="Password"
            // Shown once generated: the admin has to pass it on.
            type={generated !== null && generated === draft.password ? 'text' : 'password'}
            required
            autoComplete="new-password"
            help="At least 8 characters; Generate makes one to hand over."
            insertAfter={
              <Button variant="link" onClick={generate}>
                Generate
              </Button>
            }
            {...form.bind('password')}
          />
        )}
      </FieldGrid>
      <FieldSet title="Routing profile">
        <FieldGrid>
          <TextField
            label="Capacity SMS"
            type="number"
            min={0}
            max={50}
            help="Concurrent SMS conversations, 0 to 50."
            {...form.bind('capacitySms')}
          />
          <TextField
            label="Capacity WhatsApp"
            type="number"
            min={0}
            max={50}
            help="Concurrent WhatsApp conversations, 0 to 50."
            {...form.bind('capacityWhatsapp')}
          />
          <TextField
            label="Capacity Messenger"
            type="number"
            min={0}
            max={50}
            help="Concurrent Facebook Messenger conversations, 0 to 50."
            {...form.bind('capacityMessenger')}
          />
          <TextField
            label="Languages"
            placeholder="en, fr"
            help="Comma-separated codes, such as en, fr, pt-BR."
            {...form.bind('languages')}
          />
        </FieldGrid>
        <SkillsField label="Skills" help="Levels 0 to 10." {...form.bind('skills')} />
      </FieldSet>
      {row && (
        <SwitchField
          label="Disabled"
          help={
            self ? 'You cannot disable yourself.' : 'A disabled user cannot sign in or take offers.'
          }
          disabled={self}
          {...form.bind('disabled')}
        />
      )}
    </EntityForm>
  );
}
