import { Button } from '@twilio-paste/core/button';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { useState } from 'react';
import { api, errorText } from '../api';
import { useResource } from '../useResource';
import { useArchivable } from './Archiving';
import { CopyField } from './CopyField';
import { NONE, namesById, numberOrNull, numberText, textOrNull } from './convert';
import { EntityForm } from './EntityForm';
import { type Choice, FieldGrid, SelectField, TextField } from './fields';
import { type FormSlot, type Notice, ResourceSection } from './ResourceSection';
import {
  type Account,
  type FlowRow,
  NUMBER_KINDS,
  type NumberKind,
  type NumberRow,
  type Role,
  type TwilioConfigured,
  type TwilioWebhooks,
} from './types';
import { useDraft } from './useDraft';

/** Addresses Parley answers on, with the URLs Twilio must call for each. */
export function NumbersSection() {
  const archivable = useArchivable<NumberRow>('/api/admin/numbers');
  const list = archivable.list;
  const accounts = useResource<Account[]>('/api/admin/accounts');
  const flows = useResource<FlowRow[]>('/api/admin/flows');
  const accountNames = namesById(accounts.data);
  const flowNames = namesById(flows.data);

  return (
    <ResourceSection
      title="Numbers"
      noun="number"
      intro="Phone numbers, short codes, WhatsApp senders and Facebook Messenger pages Parley answers on: which account they belong to, which flow greets the customer, how fast Parley may send from them."
      list={list}
      archive={archivable}
      archiveNote={() =>
        'Texts to it are still stored and answered until you release it on Twilio; agents can no longer start conversations from it.'
      }
      rowLabel={(n) => n.address}
      columns={[
        { header: 'Address', cell: (n) => n.address, nowrap: true },
        { header: 'Name', cell: (n) => n.name || '—' },
        { header: 'Kind', cell: (n) => n.kind, nowrap: true },
        { header: 'Account', cell: (n) => accountNames.get(n.accountId) ?? n.accountId },
        { header: 'Flow', cell: (n) => (n.flowId ? (flowNames.get(n.flowId) ?? n.flowId) : '—') },
        { header: 'Messaging Service', cell: (n) => n.messagingServiceSid ?? '—' },
        { header: 'On Twilio', cell: capabilitiesText },
        {
          header: 'Agents may start',
          cell: (n) =>
            n.effectiveOriginationRoles.length === 0
              ? 'No one'
              : `${n.effectiveOriginationRoles.join(', ')}; ${n.defaultStrategy}`,
        },
        {
          header: 'Send rate',
          cell: (n) => `${n.effectiveSendRate}/s${n.sendRate === null ? ' (default)' : ''}`,
          nowrap: true,
        },
      ]}
      rowActions={(number, notify) => (
        <>
          <ConfigureButton number={number} notify={notify} />
          <CheckTwilioButton number={number} notify={notify} />
        </>
      )}
      aboveTable={<TwilioUrls numbers={list.data ?? []} />}
      renderForm={(slot) => (
        <NumberForm {...slot} accounts={accounts.data ?? []} flows={flows.data ?? []} />
      )}
    />
  );
}

/** The URLs to paste into the Twilio Console; the API gives them per number. */
function TwilioUrls({ numbers }: { numbers: NumberRow[] }) {
  const first = numbers[0];
  if (!first) return null;
  const same = numbers.every(
    (n) =>
      n.webhookUrl === first.webhookUrl &&
      n.fallbackUrl === first.fallbackUrl &&
      n.statusCallbackUrl === first.statusCallbackUrl,
  );
  return (
    <Card padding={['space50', 'space70']}>
      <Heading as="h2" variant="heading40">
        Paste these into Twilio
      </Heading>
      <Paragraph>
        {same ? 'Every number uses the same URLs. ' : 'Edit a number to see its own URLs. '}
        In the Twilio Console, set “A message comes in” to the webhook URL (HTTP POST), “Primary
        handler fails” to the fallback URL and the status callback to the third URL, on the number
        or on its Messaging Service — or press “Set in Twilio” on a row and Parley does it with the
        account's credentials. “Check Twilio” reads back what Twilio has and says whether it is
        Parley's.
      </Paragraph>
      <Paragraph>
        Twilio posts to the fallback URL when the webhook fails or is slow. It is
        WEBHOOK_FALLBACK_URL, else this instance's public URL: with several instances, set it to
        another instance or to the load balancer, so that a message still arrives while this one is
        down.
      </Paragraph>
      <Paragraph>
        A Facebook Messenger page is the exception: Twilio takes a page's callback URL only in its
        Console (Channels → Facebook Messenger → the page), not through its API. Paste the webhook
        URL there, or put the page in a Messaging Service, give its number that service's SID, and
        “Set in Twilio” sets the service. Customers start Messenger conversations: agents cannot
        write first from a page.
      </Paragraph>
      {same && <NumberUrls number={first} />}
    </Card>
  );
}

function NumberUrls({ number }: { number: NumberRow }) {
  return (
    <FieldGrid>
      <CopyField label="Webhook URL (incoming messages)" value={number.webhookUrl} />
      <CopyField label="Fallback URL (when the webhook fails)" value={number.fallbackUrl} />
      <CopyField label="Status callback URL" value={number.statusCallbackUrl} />
    </FieldGrid>
  );
}

/**
 * What Twilio said of the number when it was added: its SID and, for a phone number, SMS and
 * MMS. Not checked: added before the check, or a Messenger page without a Messaging Service.
 */
function capabilitiesText(number: NumberRow): string {
  if (!number.twilioSid) return 'Not checked';
  if (number.capabilities === null) return `Found (${number.twilioSid})`;
  const found = number.capabilities.map((one) => one.toUpperCase()).join(', ') || 'No SMS or MMS';
  return `${found} (${number.twilioSid})`;
}

const RESOURCE_NAMES: Record<TwilioConfigured['configured'], string> = {
  'messaging-service': 'Messaging Service',
  'whatsapp-sender': 'WhatsApp sender',
  'short-code': 'short code',
  number: 'number',
};

/** Twilio's settings read back, in a sentence: Parley's, or what differs. */
function webhooksNotice(number: NumberRow, found: TwilioWebhooks): Notice {
  const { current, expected } = found;
  const where = `Twilio's ${RESOURCE_NAMES[current.configured]} ${current.sid}`;
  if (found.matches) {
    const statuses = current.statusCallbackUrl
      ? ` and delivery statuses to ${current.statusCallbackUrl}`
      : '';
    return {
      variant: 'success',
      content: `${number.address}: ${where} sends incoming messages to ${current.webhookUrl}, falls back to ${current.fallbackUrl}${statuses}, as Parley expects.`,
    };
  }
  const differences = [
    current.webhookUrl !== expected.webhookUrl &&
      `the webhook is ${current.webhookUrl ?? 'not set'} (Parley's: ${expected.webhookUrl})`,
    current.fallbackUrl !== expected.fallbackUrl &&
      `the fallback is ${current.fallbackUrl ?? 'not set'} (Parley's: ${expected.fallbackUrl})`,
    current.configured !== 'short-code' &&
      current.statusCallbackUrl !== expected.statusCallbackUrl &&
      `the status callback is ${current.statusCallbackUrl ?? 'not set'} (Parley's: ${expected.statusCallbackUrl})`,
  ].filter(Boolean);
  return {
    variant: 'error',
    content: `${number.address}: ${where} is not set as Parley expects: ${differences.join('; ')}. Press “Set in Twilio” to set it.`,
  };
}

/** A button that calls Twilio for the number and says the outcome as a notice. */
function TwilioButton({
  label,
  number,
  notify,
  run,
}: {
  label: string;
  number: NumberRow;
  notify: (notice: Notice) => void;
  run: () => Promise<Notice>;
}) {
  const [busy, setBusy] = useState(false);
  const click = async () => {
    setBusy(true);
    try {
      notify(await run());
    } catch (failure) {
      notify({ variant: 'error', content: `${number.address}: ${errorText(failure)}` });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Button variant="secondary" size="small" loading={busy} onClick={click}>
      {label}
      <ScreenReaderOnly> for {number.address}</ScreenReaderOnly>
    </Button>
  );
}

const readBack = async (number: NumberRow) =>
  webhooksNotice(
    number,
    await api<TwilioWebhooks>(`/api/admin/numbers/${number.id}/twilio-webhooks`),
  );

/**
 * Points the Twilio number (or its Messaging Service, WhatsApp sender, short code) at Parley,
 * then reads Twilio's settings back and says whether they are Parley's.
 */
function ConfigureButton({
  number,
  notify,
}: {
  number: NumberRow;
  notify: (notice: Notice) => void;
}) {
  const configure = async () => {
    await api<TwilioConfigured>(`/api/admin/numbers/${number.id}/configure-twilio`, {
      method: 'POST',
    });
    return readBack(number);
  };
  return <TwilioButton label="Set in Twilio" number={number} notify={notify} run={configure} />;
}

/** Reads Twilio's webhook settings for the number back, without changing them. */
function CheckTwilioButton({
  number,
  notify,
}: {
  number: NumberRow;
  notify: (notice: Notice) => void;
}) {
  return (
    <TwilioButton
      label="Check Twilio"
      number={number}
      notify={notify}
      run={() => readBack(number)}
    />
  );
}

/**
 * Who may start conversations from a number, as one choice: the API's originationAllowed
 * (off: no one) and originationRoles (null: the kind's default) together.
 */
const ORIGINATION_CHOICES = {
  default: { label: "The kind's default: admins on a short code, everyone elsewhere", roles: null },
  everyone: { label: 'Everyone', roles: ['agent', 'supervisor', 'admin'] },
  supervisors: { label: 'Supervisors and admins', roles: ['supervisor', 'admin'] },
  admins: { label: 'Admins only', roles: ['admin'] },
  off: { label: 'No one', roles: [] },
} as const satisfies Record<string, { label: string; roles: readonly Role[] | null }>;
type OriginationChoice = keyof typeof ORIGINATION_CHOICES | 'custom';

function originationChoiceOf(row: NumberRow | null): OriginationChoice {
  if (!row) return 'default';
  if (!row.originationAllowed) return 'off';
  if (row.originationRoles === null) return 'default';
  const same = (roles: readonly Role[] | null) =>
    roles !== null &&
    roles.length === row.originationRoles?.length &&
    roles.every((r) => row.originationRoles?.includes(r));
  const found = (Object.keys(ORIGINATION_CHOICES) as (keyof typeof ORIGINATION_CHOICES)[]).find(
    (key) => key !== 'off' && same(ORIGINATION_CHOICES[key].roles),
  );
  return found ?? 'custom';
}

/** The API fields for the choice; a custom set of roles made through the API is kept. */
function originationFields(choice: string) {
  if (choice === 'off') return { originationAllowed: false };
  if (!(choice in ORIGINATION_CHOICES)) return { originationAllowed: true };
  const { roles } = ORIGINATION_CHOICES[choice as keyof typeof ORIGINATION_CHOICES];
  return { originationAllowed: true, originationRoles: roles === null ? null : [...roles] };
}

/** The kind select's "work it out from the address" choice. */
const AUTOMATIC: string = '';

function isNumberKind(value: string): value is NumberKind {
  return (NUMBER_KINDS as readonly string[]).includes(value);
}

function NumberForm({
  row,
  onSaved,
  onCancel,
  accounts,
  flows,
}: FormSlot<NumberRow> & { accounts: Account[]; flows: FlowRow[] }) {
  const form = useDraft({
    accountId: row?.accountId ?? (accounts.length === 1 ? (accounts[0]?.id ?? NONE) : NONE),
    address: row?.address ?? '',
    kind: row?.kind ?? AUTOMATIC,
    name: row?.name ?? '',
    messagingServiceSid: row?.messagingServiceSid ?? '',
    flowId: row?.flowId ?? NONE,
    sendRate: numberText(row?.sendRate),
    originationRoles: originationChoiceOf(row) as string,
    defaultStrategy: (row?.defaultStrategy ?? 'on-reply') as string,
  });
  const { draft } = form;

  const save = async () => {
    const changes = {
      kind: isNumberKind(draft.kind) ? draft.kind : undefined,
      name: draft.name,
      messagingServiceSid: textOrNull(draft.messagingServiceSid.trim()),
      flowId: draft.flowId === NONE ? null : draft.flowId,
      sendRate: numberOrNull(draft.sendRate),
      ...originationFields(draft.originationRoles),
      defaultStrategy: draft.defaultStrategy === 'assign-now' ? 'assign-now' : 'on-reply',
    };
    // Account and address are who the number is: the API does not change them.
    const saved = row
      ? await api<NumberRow>(`/api/admin/numbers/${row.id}`, { method: 'PATCH', body: changes })
      : await api<NumberRow>('/api/admin/numbers', {
          body: { ...changes, accountId: draft.accountId, address: draft.address.trim() },
        });
    onSaved(`${row ? 'Saved' : 'Added'} number ${saved.address}.`);
  };

  const accountChoices: Choice[] = [
    ...(row ? [] : [{ value: NONE, label: 'Choose an account…' }]),
    ...accounts.map((a) => ({ value: a.id, label: `${a.name} (${a.accountSid})` })),
  ];
  const kindChoices: Choice[] = [
    ...(row ? [] : [{ value: AUTOMATIC, label: 'From the address' }]),
    ...NUMBER_KINDS.map((kind) => ({ value: kind, label: kind })),
  ];

  return (
    <EntityForm
      title={row ? `Edit number ${row.address}` : 'New number'}
      form={form}
      onSave={save}
      onCancel={onCancel}
    >
      <FieldGrid>
        <TextField
          label="Address"
          required
          readOnly={row !== null}
          placeholder="+15551234567"
          help={
            row
              ? 'The address cannot change; add a new number instead.'
              : "+14252306549, 14252306549 or national format in the account's country ((425) 230-6549), a short code (12345), whatsapp:+14252306549 or messenger: and the Facebook page id (messenger:104123456789012). Parley checks that the account has it on Twilio."
          }
          {...form.bind('address')}
        />
        <SelectField
          label="Account"
          required
          disabled={row !== null}
          options={accountChoices}
          help={accounts.length === 0 ? 'Add an account first.' : undefined}
          {...form.bind('accountId')}
        />
        <SelectField
          label="Kind"
          options={kindChoices}
          help="Sets the default send rate: long code 1/s, toll-free 3/s, short code 100/s, WhatsApp and Messenger 80/s."
          {...form.bind('kind')}
        />
        <TextField label="Name" help="For people: shown to agents." {...form.bind('name')} />
        <TextField
          label="Messaging Service SID"
          placeholder="MG…"
          autoComplete="off"
          help="Optional. Set when the number sends through a Messaging Service."
          {...form.bind('messagingServiceSid')}
        />
        <SelectField
          label="Flow"
          options={[
            { value: NONE, label: 'No flow' },
            ...flows.map((f) => ({ value: f.id, label: f.name })),
          ]}
          help="What greets a customer who texts this number."
          {...form.bind('flowId')}
        />
        <TextField
          label="Send rate (segments per second)"
          type="number"
          min={0}
          step="any"
          placeholder={
            row ? `${row.effectiveSendRate} (default for ${row.kind})` : 'Default for the kind'
          }
          help="Empty: the default for the kind."
          {...form.bind('sendRate')}
        />
        <SelectField
          label="Who may start conversations"
          options={[
            ...Object.entries(ORIGINATION_CHOICES).map(([value, { label }]) => ({ value, label })),
            ...(draft.originationRoles === 'custom'
              ? [{ value: 'custom', label: `As set: ${row?.originationRoles?.join(', ')}` }]
              : []),
          ]}
          help="Which roles may text a customer first from this number (desk, API, email-to-SMS). Short codes' campaigns are approved for set messages, so only admins by default."
          {...form.bind('originationRoles')}
        />
        <SelectField
          label="Default strategy"
          options={[
            { value: 'on-reply', label: "On reply: the customer's answer is offered to the agent" },
            { value: 'assign-now', label: 'Assign now: the conversation opens with the agent' },
          ]}
          help="Preselected in the desk's New message; used when an origination names none."
          {...form.bind('defaultStrategy')}
        />
      </FieldGrid>
      {row && <NumberUrls number={row} />}
    </EntityForm>
  );
}
