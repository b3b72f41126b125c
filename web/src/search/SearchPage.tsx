import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { DatePicker } from '@twilio-paste/core/date-picker';
import { Heading } from '@twilio-paste/core/heading';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Option, Select } from '@twilio-paste/core/select';
import { Text } from '@twilio-paste/core/text';
import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { api, errorText, type Schemas } from '../api';
import { CHANNEL_LABELS, type Directory } from '../conversation/types';
import type { Sender } from '../desk/types';
import { STATE_LOOK } from '../supervisor/conversationLook';
import { TranscriptModal } from '../supervisor/TranscriptModal';
import { ErrorCallout } from '../ui/ErrorCallout';
import { LoadState } from '../ui/LoadState';
import { useResource } from '../useResource';

type Hit = Schemas['ConversationHit'];
interface HitPage {
  results: Hit[];
  nextCursor: string | null;
}

const STATES = [
  { value: 'open', label: 'Any open' },
  { value: 'flow', label: 'In flow' },
  { value: 'queued', label: 'Queued' },
  { value: 'offered', label: 'Offered' },
  { value: 'active', label: 'Active' },
  { value: 'closed', label: 'Closed' },
];

/** The form as typed; empty strings are filters not set. */
const EMPTY = {
  q: '',
  phone: '',
  name: '',
  agentId: '',
  queueId: '',
  numberId: '',
  state: '',
  disposition: '',
  scoreMin: '',
  scoreMax: '',
  from: '',
  to: '',
};
type Filters = typeof EMPTY;

/** The query string of a search: dates are the user's local days, sent as instants. */
function queryOf(filters: Filters, cursor: string | null): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    const trimmed = value.trim();
    if (trimmed === '' || key === 'from' || key === 'to') continue;
    query.set(key, trimmed);
  }
  if (filters.from) query.set('from', new Date(`${filters.from}T00:00`).toISOString());
  if (filters.to) {
    const end = new Date(`${filters.to}T00:00`);
    end.setDate(end.getDate() + 1);
    query.set('to', end.toISOString());
  }
  if (cursor) query.set('cursor', cursor);
  return query.toString();
}

/**
 * Search every conversation the user may read (agents: their own and their current
 * customers' past ones; supervisors and admins: all) by words, phone, name and the rest,
 * newest first, a page at a time; a result opens its transcript in place.
 */
export function SearchPage() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [results, setResults] = useState<Hit[] | null>(null);
  const [searched, setSearched] = useState<Filters | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [busy, setBusy] = useState<'search' | 'more' | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [reading, setReading] = useState<Hit | null>(null);
  const directory = useResource<Directory>('/api/directory');
  const numbers = useResource<Sender[]>('/api/numbers/senders');

  const run = (what: Filters, cursor: string | null) => {
    setBusy(cursor ? 'more' : 'search');
    setFailure(null);
    api<HitPage>(`/api/search/conversations?${queryOf(what, cursor)}`).then(
      (page) => {
        setResults((shown) => (cursor && shown ? [...shown, ...page.results] : page.results));
        setNextCursor(page.nextCursor);
        setSearched(what);
        setBusy(null);
      },
      (error: unknown) => {
        setFailure(errorText(error));
        setBusy(null);
      },
    );
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    run(filters, null);
  };
  const set = (key: keyof Filters) => (value: string) =>
    setFilters((f) => ({ ...f, [key]: value }));

  return (
    <Box padding="space60" maxWidth="size140" marginX="auto">
      <Heading as="h1" variant="heading20">
        Search
      </Heading>
      <Box as="form" onSubmit={submit} aria-label="Search conversations" marginBottom="space60">
        <Box
          display="grid"
          gridTemplateColumns="repeat(auto-fill, minmax(13rem, 1fr))"
          columnGap="space50"
          rowGap="space40"
          marginBottom="space50"
        >
          <TextField label="Words in messages" value={filters.q} onChange={set('q')} />
          <TextField label="Phone number" value={filters.phone} onChange={set('phone')} />
          <TextField label="Contact name or email" value={filters.name} onChange={set('name')} />
          <Choice label="Agent" value={filters.agentId} onChange={set('agentId')}>
            {directory.data?.agents.map((agent) => (
              <Option key={agent.id} value={agent.id}>
                {agent.name}
              </Option>
            ))}
          </Choice>
          <Choice label="Queue" value={filters.queueId} onChange={set('queueId')}>
            {directory.data?.queues.map((queue) => (
              <Option key={queue.id} value={queue.id}>
                {queue.name}
              </Option>
            ))}
          </Choice>
          <Choice label="Number" value={filters.numberId} onChange={set('numberId')}>
            {numbers.data?.map((number) => (
              <Option key={number.id} value={number.id}>
                {number.name ? `${number.name} (${number.address})` : number.address}
              </Option>
            ))}
          </Choice>
          <Choice label="State" value={filters.state} onChange={set('state')}>
            {STATES.map((state) => (
              <Option key={state.value} value={state.value}>
                {state.label}
              </Option>
            ))}
          </Choice>
          <TextField
            label="Disposition code"
            value={filters.disposition}
            onChange={set('disposition')}
          />
          <Choice label="Score at least" value={filters.scoreMin} onChange={set('scoreMin')}>
            {[0, 1, 2, 3, 4, 5].map((score) => (
              <Option key={score} value={String(score)}>
                {score}
              </Option>
            ))}
          </Choice>
          <Choice label="Score at most" value={filters.scoreMax} onChange={set('scoreMax')}>
            {[0, 1, 2, 3, 4, 5].map((score) => (
              <Option key={score} value={String(score)}>
                {score}
              </Option>
            ))}
          </Choice>
          <DateField label="Started from" value={filters.from} onChange={set('from')} />
          <DateField label="Started until" value={filters.to} onChange={set('to')} />
        </Box>
        <Box display="flex" columnGap="space40">
          <Button type="submit" variant="primary" loading={busy === 'search'}>
            Search
          </Button>
          <Button
            variant="secondary"
            onClick={() => {
              setFilters(EMPTY);
              setResults(null);
              setNextCursor(null);
              setSearched(null);
            }}
          >
            Clear
          </Button>
        </Box>
      </Box>
      {failure && (
        <Box marginBottom="space40">
          <ErrorCallout>{`Could not search: ${failure}`}</ErrorCallout>
        </Box>
      )}
      <LoadState what="the results" loading={busy === 'search' && results === null} />
      {results && (
        <Box as="section" aria-labelledby="search-results">
          <Heading as="h2" variant="heading40" id="search-results">
            {results.length === 0
              ? 'No conversations found'
              : `${results.length}${nextCursor ? '+' : ''} ${results.length === 1 && !nextCursor ? 'conversation' : 'conversations'}, newest first`}
          </Heading>
          <Box as="ul" margin="space0" padding="space0" listStyleType="none">
            {results.map((hit) => (
              <Result
                key={hit.id}
                hit={hit}
                words={searched?.q ?? ''}
                onRead={() => setReading(hit)}
              />
            ))}
          </Box>
          {nextCursor && searched && (
            <Button
              variant="secondary"
              loading={busy === 'more'}
              onClick={() => run(searched, nextCursor)}
            >
              Load more
            </Button>
          )}
        </Box>
      )}
      {reading && (
        <TranscriptModal
          conversationId={reading.id}
          customerAddress={reading.contactName ?? reading.customerAddress}
          onClose={() => setReading(null)}
        />
      )}
    </Box>
  );
}

function Result({ hit, words, onRead }: { hit: Hit; words: string; onRead: () => void }) {
  const look = STATE_LOOK[hit.state];
  const customer = hit.contactName
    ? `${hit.contactName} (${hit.customerAddress})`
    : hit.customerAddress;
  const started = new Date(hit.createdAt).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
  return (
    <Box
      as="li"
      borderStyle="solid"
      borderWidth="borderWidth10"
      borderColor="colorBorderWeaker"
      borderRadius="borderRadius30"
      padding="space50"
      marginBottom="space40"
    >
      <Box display="flex" flexWrap="wrap" alignItems="center" columnGap="space40" rowGap="space20">
        <Text as="span" fontWeight="fontWeightSemibold">
          {customer}
        </Text>
        <Badge as="span" variant={look.variant}>
          {look.label}
        </Badge>
        <Text as="span" color="colorTextWeak">
          Started <time dateTime={hit.createdAt}>{started}</time> · {CHANNEL_LABELS[hit.channel]} to{' '}
          {hit.numberAddress}
          {hit.queueName && ` · ${hit.queueName}`} · {hit.agentName ?? 'no agent'}
          {hit.disposition && ` · ${hit.disposition}`}
          {hit.score !== null &&
            ` · ${hit.scale === 'yes-no' ? (hit.score ? 'satisfied' : 'not satisfied') : `score ${hit.score}`}`}
        </Text>
        <Box marginLeft="auto">
          <Button
            variant="secondary"
            size="small"
            onClick={onRead}
            aria-label={`Read conversation with ${customer}`}
          >
            Read
          </Button>
        </Box>
      </Box>
      {hit.match && (
        <Paragraph marginBottom="space0">
          <Highlighted text={hit.match.snippet} words={words} />{' '}
          <Text as="span" color="colorTextWeak" fontSize="fontSize20">
            <time dateTime={hit.match.createdAt}>
              {new Date(hit.match.createdAt).toLocaleString(undefined, {
                dateStyle: 'short',
                timeStyle: 'short',
              })}
            </time>
          </Text>
        </Paragraph>
      )}
    </Box>
  );
}

/** The text with each of the searched words marked, as the server matched them (any case). */
function Highlighted({ text, words }: { text: string; words: string }) {
  const terms = words
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0 && word.toLowerCase() !== 'or')
    .map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (terms.length === 0) return <>{text}</>;
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(${terms.join('|')})(?![\\p{L}\\p{N}])`, 'giu');
  return (
    <>
      {text.split(pattern).map((part, index) =>
        index % 2 === 1 ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed text
          <Box as="mark" key={index} backgroundColor="colorBackgroundWarningWeakest">
            {part}
          </Box>
        ) : (
          part
        ),
      )}
    </>
  );
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

function Choice({
  label,
  value,
  onChange,
  children,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  children: ReactNode;
}) {
  const id = useId();
  return (
    <Box>
      <Label htmlFor={id}>{label}</Label>
      <Select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        <Option value="">Any</Option>
        {children}
      </Select>
    </Box>
  );
}
