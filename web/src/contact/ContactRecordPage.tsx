import { AlertDialog } from '@twilio-paste/core/alert-dialog';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import {
  DescriptionList,
  DescriptionListDetails,
  DescriptionListSet,
  DescriptionListTerm,
} from '@twilio-paste/core/description-list';
import { Heading } from '@twilio-paste/core/heading';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { ListItem, UnorderedList } from '@twilio-paste/core/list';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { Text } from '@twilio-paste/core/text';
import { TextArea } from '@twilio-paste/core/textarea';
import { type FormEvent, type ReactNode, useEffect, useId, useState } from 'react';
import { ApiError, api, errorText } from '../api';
import { CHANNEL_LABELS } from '../conversation/types';
import { useSession } from '../session';
import { ErrorCallout } from '../ui/ErrorCallout';
import { LoadState } from '../ui/LoadState';
import { formatDay, PastConversations } from './PastConversations';
import type { ContactEdit, ContactRecord, ErasureReport } from './types';
import { useContactRecord } from './useContactRecord';

/** What Twilio's webhook fields are called here (FromCity → city, …). */
const TWILIO_LABELS: Record<string, string> = {
  city: 'City',
  state: 'State',
  zip: 'ZIP',
  country: 'Country',
  profileName: 'Profile name',
  referralHeadline: 'Ad headline',
  referralSourceType: 'Ad source type',
  referralSourceUrl: 'Ad source',
};

/**
 * A contact's record (/contacts/{id}): the details agents keep (name, email, notes, custom
 * attributes), what Twilio told and bots collected, consent per sender, and every
 * conversation, each opening in place to its transcript.
 */
export function ContactRecordPage({ contactId }: { contactId: string }) {
  const record = useContactRecord(contactId);
  const contact = record.data;
  const { me } = useSession();
  return (
    <Box padding="space60" maxWidth="size120" marginX="auto" data-testid="contact-record">
      <LoadState what="the contact" loading={contact === null} error={record.error} />
      {contact && (
        <>
          <Heading as="h1" variant="heading20">
            {contact.displayName ?? contact.address}
          </Heading>
          <Text as="p" color="colorTextWeak" marginBottom="space60">
            {CHANNEL_LABELS[contact.channel]} · {contact.address} · known since{' '}
            {formatDay(contact.createdAt)}
          </Text>
          <Section title="Details">
            <DetailsForm contact={contact} onSaved={record.refresh} />
          </Section>
          {Object.keys(contact.twilioAttributes).length > 0 && (
            <Section title="From Twilio">
              <DescriptionList>
                {Object.entries(contact.twilioAttributes).map(([key, value]) => (
                  <DescriptionListSet key={key}>
                    <DescriptionListTerm>{TWILIO_LABELS[key] ?? key}</DescriptionListTerm>
                    <DescriptionListDetails>{value}</DescriptionListDetails>
                  </DescriptionListSet>
                ))}
              </DescriptionList>
            </Section>
          )}
          <Section title="Collected by bots">
            <Collected contact={contact} />
          </Section>
          <Section title="Consent">
            {contact.erasedAt ? (
              <Text as="p" color="colorTextWeak">
                Erased: an opt-out they gave is kept apart, with their address alone, so they are
                never texted again.
              </Text>
            ) : (
              <Consents contact={contact} />
            )}
          </Section>
          <Section title="Conversations">
            <PastConversations conversations={contact.conversations} headingAs="h3" />
            {contact.originations.length > 0 && (
              <>
                <Heading as="h3" variant="heading50">
                  Texts awaiting a reply
                </Heading>
                <UnorderedList marginBottom="space0">
                  {contact.originations.map((origination) => (
                    <ListItem key={origination.messageId}>
                      {formatDay(origination.createdAt)} · {origination.agentName ?? 'agent'} from{' '}
                      {origination.numberAddress}: “{origination.body}”
                    </ListItem>
                  ))}
                </UnorderedList>
              </>
            )}
          </Section>
          {me.role === 'admin' && (
            <Section title="Erasure">
              <EraseContact contact={contact} onErased={record.refresh} />
            </Section>
          )}
        </>
      )}
    </Box>
  );
}

/**
 * The right to erasure, for admins: behind a confirmation, since it cannot be undone. Says
 * what was erased, here and on Twilio, and what Twilio could not do (erasing again retries).
 */
function EraseContact({ contact, onErased }: { contact: ContactRecord; onErased: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [erasing, setErasing] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const [report, setReport] = useState<ErasureReport | null>(null);
  const erase = async () => {
    setConfirming(false);
    setErasing(true);
    setFailure(null);
    try {
      setReport(await api<ErasureReport>(`/api/contacts/${contact.id}/erase`, { method: 'POST' }));
      onErased();
    } catch (error) {
      setFailure(`Could not erase the contact: ${errorText(error)}`);
    } finally {
      setErasing(false);
    }
  };
  return (
    <Box display="flex" flexDirection="column" rowGap="space40" alignItems="flex-start">
      <Text as="p">
        {contact.erasedAt
          ? `Erased on ${formatDay(contact.erasedAt)}. Erase again to retry what Twilio could not do.`
          : 'Erase this person: their messages’ text and media (here and on Twilio), notes on their conversations and their details. Conversations stay, anonymous, for reports; an opt-out stays, so they are never texted again.'}
      </Text>
      <Button variant="destructive" loading={erasing} onClick={() => setConfirming(true)}>
        Erase contact
      </Button>
      {failure && <ErrorCallout>{failure}</ErrorCallout>}
      {report && (
        <Text as="p" role="status" data-testid="erasure-report">
          Erased {report.parley.messages} messages, {report.parley.media} media and{' '}
          {report.parley.notes} notes. On Twilio: {report.twilio.redacted} of{' '}
          {report.twilio.messages} messages redacted, {report.twilio.mediaDeleted} media deleted
          {report.twilio.failures.length > 0
            ? `; ${report.twilio.failures.length} failed (erase again to retry).`
            : '.'}
        </Text>
      )}
      <AlertDialog
        heading="Erase this contact?"
        isOpen={confirming}
        destructive
        onConfirm={erase}
        onConfirmLabel="Erase"
        onDismiss={() => setConfirming(false)}
        onDismissLabel="Keep it"
      >
        Their messages’ text and media, notes on their conversations and their details are removed
        here and on Twilio. This cannot be undone.
      </AlertDialog>
    </Box>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Box as="section" marginBottom="space80">
      <Heading as="h2" variant="heading40">
        {title}
      </Heading>
      {children}
    </Box>
  );
}

interface AttributeRow {
  /** Stable across renames, for React's keys. */
  rowId: number;
  key: string;
  value: string;
}

interface Draft {
  name: string;
  email: string;
  notes: string;
  attributes: AttributeRow[];
}

let nextRowId = 0;

function draftOf(contact: ContactRecord): Draft {
  return {
    name: contact.name ?? '',
    email: contact.email ?? '',
    notes: contact.notes ?? '',
    attributes: Object.keys(contact.attributes)
      .sort()
      .map((key) => ({ rowId: nextRowId++, key, value: contact.attributes[key] ?? '' })),
  };
}

/**
 * What the draft changes of the contact: only those fields and attributes, so that an edit
 * of someone else at the same time survives (a removed or renamed attribute is deleted).
 * A string is a problem to show instead.
 */
function editOf(contact: ContactRecord, draft: Draft): ContactEdit | string {
  const edit: ContactEdit = {};
  if (draft.name.trim() !== (contact.name ?? '')) edit.name = draft.name.trim() || null;
  if (draft.email.trim() !== (contact.email ?? '')) edit.email = draft.email.trim() || null;
  if (draft.notes !== (contact.notes ?? '')) edit.notes = draft.notes.trim() ? draft.notes : null;
  const attributes: Record<string, string | null> = {};
  const seen = new Set<string>();
  for (const row of draft.attributes) {
    const key = row.key.trim();
    if (!key && !row.value) continue;
    if (!key) return 'Give each attribute a name.';
    if (seen.has(key)) return `Two attributes are named “${key}”.`;
    seen.add(key);
    if (contact.attributes[key] !== row.value) attributes[key] = row.value;
  }
  for (const key of Object.keys(contact.attributes)) if (!seen.has(key)) attributes[key] = null;
  if (Object.keys(attributes).length > 0) edit.attributes = attributes;
  return edit;
}

/**
 * The draft's changes carried onto a newer record (someone else saved meanwhile): what they
 * changed stays, unless this draft changes the same field or attribute. Blank rows stay, and
 * a row this draft changes stays the same row, so the field being typed in keeps its focus.
 */
function rebase(draft: Draft, edit: ContactEdit, contact: ContactRecord): Draft {
  const next = draftOf(contact);
  if (edit.name !== undefined) next.name = draft.name;
  if (edit.email !== undefined) next.email = draft.email;
  if (edit.notes !== undefined) next.notes = draft.notes;
  for (const [key, value] of Object.entries(edit.attributes ?? {})) {
    const others = next.attributes.filter((row) => row.key !== key);
    const mine = draft.attributes.find((row) => row.key.trim() === key) ?? {
      rowId: nextRowId++,
      key,
      value: value ?? '',
    };
    next.attributes = value === null ? others : [...others, mine];
  }
  next.attributes.push(...draft.attributes.filter((row) => !row.key.trim() && !row.value));
  return next;
}

function DetailsForm({ contact, onSaved }: { contact: ContactRecord; onSaved: () => void }) {
  const id = useId();
  // The record the draft started from: a change by someone else replaces an untouched draft.
  const [base, setBase] = useState(contact);
  const [draft, setDraft] = useState(() => draftOf(contact));
  const [saving, setSaving] = useState(false);
  const [failure, setFailure] = useState<{ message: string; field?: string } | null>(null);
  const [saved, setSaved] = useState(false);
  const pending = editOf(base, draft);
  const dirty = typeof pending === 'string' || Object.keys(pending).length > 0;
  useEffect(() => {
    if (contact === base) return;
    // The edit is read from the draft as it is when the update applies, not as this render
    // saw it: a key typed since then (the newer record can arrive mid-typing) must stay. A
    // draft that does not make sense yet (a nameless attribute) stays as typed.
    setDraft((d) => {
      const edit = editOf(base, d);
      return typeof edit === 'string' ? d : rebase(d, edit, contact);
    });
    setBase(contact);
  }, [contact, base]);

  // Every change applies to the draft as it is then, never to a render's copy of it.
  const update = (change: (d: Draft) => Partial<Draft>) => {
    setSaved(false);
    setDraft((d) => ({ ...d, ...change(d) }));
  };
  const set = (change: Partial<Draft>) => update(() => change);
  const setRow = (rowId: number, change: Partial<AttributeRow>) =>
    update((d) => ({
      attributes: d.attributes.map((r) => (r.rowId === rowId ? { ...r, ...change } : r)),
    }));

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (typeof pending === 'string') {
      setFailure({ message: pending, field: 'attributes' });
      return;
    }
    setSaving(true);
    setFailure(null);
    try {
      const updated = await api<ContactRecord>(`/api/contacts/${contact.id}`, {
        method: 'PATCH',
        body: pending,
      });
      setBase(updated);
      setDraft(draftOf(updated));
      setSaved(true);
      onSaved();
    } catch (error) {
      setFailure({
        message: `Could not save the contact: ${errorText(error)}`,
        field: error instanceof ApiError ? error.field : undefined,
      });
    } finally {
      setSaving(false);
    }
  };

  const errorOn = (field: string) =>
    failure?.field === field || failure?.field?.startsWith(`${field}.`);
  return (
    <Box as="form" onSubmit={save} display="flex" flexDirection="column" rowGap="space50">
      <Box>
        <Label htmlFor={`${id}-name`}>Name</Label>
        <Input
          id={`${id}-name`}
          type="text"
          value={draft.name}
          maxLength={200}
          hasError={errorOn('name')}
          onChange={(e) => set({ name: e.target.value })}
          aria-describedby={`${id}-name-help`}
        />
        <HelpText id={`${id}-name-help`}>
          {contact.twilioAttributes.profileName
            ? `Empty: the profile name their channel sent, “${contact.twilioAttributes.profileName}”.`
            : 'How agents see this customer.'}
        </HelpText>
      </Box>
      <Box>
        <Label htmlFor={`${id}-email`}>Email</Label>
        <Input
          id={`${id}-email`}
          type="email"
          value={draft.email}
          hasError={errorOn('email')}
          onChange={(e) => set({ email: e.target.value })}
        />
      </Box>
      <Box>
        <Label htmlFor={`${id}-notes`}>Notes</Label>
        <TextArea
          id={`${id}-notes`}
          value={draft.notes}
          maxLength={10_000}
          hasError={errorOn('notes')}
          onChange={(e) => set({ notes: e.target.value })}
          aria-describedby={`${id}-notes-help`}
        />
        <HelpText id={`${id}-notes-help`}>
          About the person, for every agent; never sent to them.
        </HelpText>
      </Box>
      <Box as="fieldset" borderStyle="none" padding="space0" margin="space0">
        <Text as="legend" fontWeight="fontWeightSemibold" marginBottom="space30">
          Custom attributes
        </Text>
        {draft.attributes.length === 0 && (
          <Text as="p" color="colorTextWeak" marginBottom="space30">
            None yet.
          </Text>
        )}
        <Box display="flex" flexDirection="column" rowGap="space30" marginBottom="space30">
          {draft.attributes.map((row, index) => (
            <Box key={row.rowId} display="flex" columnGap="space30" alignItems="center">
              <Box flexBasis="40%">
                <Input
                  type="text"
                  aria-label={`Attribute ${index + 1} name`}
                  value={row.key}
                  maxLength={64}
                  placeholder="name, e.g. plan"
                  hasError={failure?.field === `attributes.${row.key.trim()}`}
                  onChange={(e) => setRow(row.rowId, { key: e.target.value })}
                />
              </Box>
              <Box flexGrow={1}>
                <Input
                  type="text"
                  aria-label={`Attribute ${index + 1} value`}
                  value={row.value}
                  maxLength={1_000}
                  onChange={(e) => setRow(row.rowId, { value: e.target.value })}
                />
              </Box>
              <Button
                variant="secondary"
                size="small"
                onClick={() =>
                  update((d) => ({ attributes: d.attributes.filter((r) => r.rowId !== row.rowId) }))
                }
              >
                Remove<ScreenReaderOnly> attribute {index + 1}</ScreenReaderOnly>
              </Button>
            </Box>
          ))}
        </Box>
        <Button
          variant="secondary"
          size="small"
          onClick={() => {
            const blank = { rowId: nextRowId++, key: '', value: '' };
            update((d) => ({ attributes: [...d.attributes, blank] }));
          }}
        >
          Add attribute
        </Button>
      </Box>
      {failure && <ErrorCallout>{failure.message}</ErrorCallout>}
      <Box display="flex" columnGap="space40" alignItems="center">
        <Button type="submit" variant="primary" loading={saving} disabled={!dirty}>
          Save
        </Button>
        {saved && !dirty && (
          <Text as="span" color="colorTextSuccess" role="status">
            Saved
          </Text>
        )}
      </Box>
    </Box>
  );
}

function Collected({ contact }: { contact: ContactRecord }) {
  if (contact.collected.length === 0) {
    return (
      <Text as="p" color="colorTextWeak">
        Nothing yet.
      </Text>
    );
  }
  return (
    <Table>
      <THead>
        <Tr>
          <Th>Attribute</Th>
          <Th>Value</Th>
          <Th>Collected</Th>
        </Tr>
      </THead>
      <TBody>
        {contact.collected.map((item) => (
          <Tr key={item.key}>
            <Td>{item.key}</Td>
            <Td>{item.value}</Td>
            <Td>{formatDay(item.collectedAt)}</Td>
          </Tr>
        ))}
      </TBody>
    </Table>
  );
}

function Consents({ contact }: { contact: ContactRecord }) {
  if (contact.consents.length === 0) {
    return (
      <Text as="p" color="colorTextWeak">
        No sender has written to them yet.
      </Text>
    );
  }
  return (
    <Table>
      <THead>
        <Tr>
          <Th>Sender</Th>
          <Th>Messages</Th>
          <Th>Since</Th>
        </Tr>
      </THead>
      <TBody>
        {contact.consents.map((consent) => (
          <Tr key={consent.sender}>
            <Td>{consent.senderLabel}</Td>
            <Td>
              {consent.optedOut ? (
                <Badge as="span" variant="error">
                  Opted out
                </Badge>
              ) : (
                <Badge as="span" variant="success">
                  Subscribed
                </Badge>
              )}
            </Td>
            <Td>{consent.changedAt ? formatDay(consent.changedAt) : 'Always'}</Td>
          </Tr>
        ))}
      </TBody>
    </Table>
  );
}
