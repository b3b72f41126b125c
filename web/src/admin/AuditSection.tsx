import { Anchor } from '@twilio-paste/core/anchor';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { DatePicker } from '@twilio-paste/core/date-picker';
import { Heading } from '@twilio-paste/core/heading';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { Text } from '@twilio-paste/core/text';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { api, errorText, type Schemas } from '../api';
import { TableScroller } from '../supervisor/TableScroller';
import { ErrorCallout } from '../ui/ErrorCallout';
import { LoadState } from '../ui/LoadState';

type Entry = Schemas['AuditEntry'];
type Page = Schemas['AuditPage'];

/** The filters as typed; empty strings are filters not set. */
const EMPTY = { from: '', to: '', actor: '', action: '', targetType: '', targetId: '' };
type Filters = typeof EMPTY;

/** The query of the filters: dates are the admin's local days, sent as instants. */
function queryOf(filters: Filters): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of ['actor', 'action', 'targetType', 'targetId'] as const) {
    const value = filters[key].trim();
    if (value) query.set(key, value);
  }
  if (filters.from) query.set('from', new Date(`${filters.from}T00:00`).toISOString());
  if (filters.to) {
    const end = new Date(`${filters.to}T00:00`);
    end.setDate(end.getDate() + 1);
    query.set('to', end.toISOString());
  }
  return query;
}

/**
 * The audit trail: who changed what in the configuration, who signed in, newest first, a
 * page at a time, with each changed field as it was and became; and its export.
 */
export function AuditSection() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [shown, setShown] = useState<Filters>(EMPTY);
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [busy, setBusy] = useState<'list' | 'more' | null>('list');
  const [failure, setFailure] = useState<string | null>(null);

  const load = (what: Filters, cursor: string | null) => {
    setBusy(cursor ? 'more' : 'list');
    setFailure(null);
    const query = queryOf(what);
    if (cursor) query.set('cursor', cursor);
    api<Page>(`/api/audit?${query}`).then(
      (page) => {
        setEntries((before) => (cursor && before ? [...before, ...page.entries] : page.entries));
        setNextCursor(page.nextCursor);
        setShown(what);
        setBusy(null);
      },
      (error: unknown) => {
        setFailure(errorText(error));
        setBusy(null);
      },
    );
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: the newest entries, once on opening
  useEffect(() => load(EMPTY, null), []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    load(filters, null);
  };
  const set = (key: keyof Filters) => (value: string) =>
    setFilters((f) => ({ ...f, [key]: value }));
  const exportQuery = queryOf(shown);

  return (
    <Box>
      <Heading as="h1" variant="heading20">
        Audit trail
      </Heading>
      <Paragraph>
        Every change to the configuration and every sign-in: who, when, from which address, and each
        changed field as it was and as it became. Secrets are never shown, only that they changed.
        Entries cannot be changed or deleted.
      </Paragraph>
      <Box as="form" onSubmit={submit} aria-label="Filter the audit trail" marginBottom="space60">
        <Box
          display="grid"
          gridTemplateColumns="repeat(auto-fill, minmax(12rem, 1fr))"
          columnGap="space50"
          rowGap="space40"
          marginBottom="space50"
        >
          <DateField label="From" value={filters.from} onChange={set('from')} />
          <DateField label="Until" value={filters.to} onChange={set('to')} />
          <TextField label="Who (email or user id)" value={filters.actor} onChange={set('actor')} />
          <TextField
            label="Action (queue.updated, or queue.)"
            value={filters.action}
            onChange={set('action')}
          />
          <TextField
            label="Target type (queue, number, …)"
            value={filters.targetType}
            onChange={set('targetType')}
          />
          <TextField label="Target id" value={filters.targetId} onChange={set('targetId')} />
        </Box>
        <Box display="flex" columnGap="space40" alignItems="center" flexWrap="wrap">
          <Button type="submit" variant="primary" loading={busy === 'list'}>
            Show entries
          </Button>
          <Button
            variant="secondary"
            onClick={() => {
              setFilters(EMPTY);
              load(EMPTY, null);
            }}
          >
            Clear filters
          </Button>
          <Text as="span">
            Export the entries shown:{' '}
            <Anchor href={`/api/audit/export?${exportQuery}&format=csv`}>CSV</Anchor>
            {' · '}
            <Anchor href={`/api/audit/export?${exportQuery}&format=jsonl`}>JSON Lines</Anchor>
          </Text>
        </Box>
      </Box>
      {failure && (
        <Box marginBottom="space40">
          <ErrorCallout>{`Could not read the audit trail: ${failure}`}</ErrorCallout>
        </Box>
      )}
      <LoadState what="the audit trail" loading={busy === 'list' && entries === null} />
      {entries && entries.length === 0 && <Paragraph>No entries match.</Paragraph>}
      {entries && entries.length > 0 && (
        <>
          <TableScroller label="Audit entries table">
            <Table aria-label="Audit entries, newest first">
              <THead>
                <Tr>
                  <Th>When</Th>
                  <Th>Who</Th>
                  <Th>Action</Th>
                  <Th>Target</Th>
                  <Th>Changes</Th>
                </Tr>
              </THead>
              <TBody>
                {entries.map((entry) => (
                  <EntryRow key={entry.id} entry={entry} />
                ))}
              </TBody>
            </Table>
          </TableScroller>
          {nextCursor && (
            <Box marginTop="space50">
              <Button
                variant="secondary"
                loading={busy === 'more'}
                onClick={() => load(shown, nextCursor)}
              >
                Show older entries
              </Button>
            </Box>
          )}
        </>
      )}
    </Box>
  );
}

function EntryRow({ entry }: { entry: Entry }) {
  const fields = [
    ...new Set([...Object.keys(entry.before ?? {}), ...Object.keys(entry.after ?? {})]),
  ];
  return (
    <Tr>
      <Td whiteSpace="nowrap">
        <time dateTime={entry.at}>
          {new Date(entry.at).toLocaleString(undefined, {
            dateStyle: 'medium',
            timeStyle: 'medium',
          })}
        </time>
      </Td>
      <Td>
        <Text as="span" fontWeight="fontWeightSemibold">
          {entry.actor}
        </Text>
        {entry.ip && (
          <Text as="span" display="block" color="colorTextWeak" fontSize="fontSize20">
            from {entry.ip}
          </Text>
        )}
      </Td>
      <Td>
        <Text as="code" fontFamily="fontFamilyCode">
          {entry.action}
        </Text>
      </Td>
      <Td>
        {entry.targetType && (
          <>
            {entry.targetType}
            <Text as="span" display="block" color="colorTextWeak" fontSize="fontSize20">
              {entry.targetId}
            </Text>
          </>
        )}
      </Td>
      <Td>
        {fields.length > 0 && (
          <Box as="ul" margin="space0" paddingLeft="space0" listStyleType="none">
            {fields.map((field) => (
              <Box as="li" key={field} marginBottom="space10">
                <Text as="span" fontWeight="fontWeightSemibold">
                  {field}
                </Text>
                : {entry.before && <Value value={entry.before[field]} />}
                {entry.before && entry.after && (
                  <>
                    <span aria-hidden="true"> → </span>
                    <ScreenReaderOnly> changed to </ScreenReaderOnly>
                  </>
                )}
                {entry.after && <Value value={entry.after[field]} />}
                {!entry.after && ' (removed)'}
              </Box>
            ))}
          </Box>
        )}
        {entry.detail && (
          <Text as="span" display="block" color="colorTextWeak" fontSize="fontSize20">
            {Object.entries(entry.detail)
              .map(([key, value]) => `${key}: ${textOf(value)}`)
              .join(', ')}
          </Text>
        )}
      </Td>
    </Tr>
  );
}

function Value({ value }: { value: unknown }) {
  return (
    <Text as="span" wordBreak="break-word">
      {textOf(value)}
    </Text>
  );
}

/** A field's value as read: nothing as "none", text as it is, anything else as JSON. */
function textOf(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'string') return value === '' ? '""' : value;
  return JSON.stringify(value);
}

function TextField({
  label,
  value,
  onChange,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
}) {
  const id = useId();
  return (
    <Box>
      <Label htmlFor={id}>{label}</Label>
      <Input id={id} type="text" value={value} onChange={(event) => onChange(event.target.value)} />
    </Box>
  );
}

function DateField({
  label,
  value,
  onChange,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
}) {
  const id = useId();
  return (
    <Box>
      <Label htmlFor={id}>{label}</Label>
      <DatePicker id={id} value={value} onChange={(event) => onChange(event.target.value)} />
    </Box>
  );
}
