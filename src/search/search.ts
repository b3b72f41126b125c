/**
 * Search over conversations and contacts: by words in messages, phone number (any format),
 * name, agent, queue, number, state, disposition, survey score and date, newest first, a page
 * at a time behind an opaque cursor. Agents find only what they may read (access.ts);
 * supervisors and admins everything. Reads only.
 *
 * Words are matched with PostgreSQL's full-text search ('simple' configuration: no stemming,
 * any language) through the GIN index on messages, whose expression the queries repeat
 * exactly. How a search by words stays fast on millions of messages depends on how many
 * messages hold them, so it is asked first (at most FEW_MATCHES + 1 of them are read):
 * - few: the matching messages' conversations are gathered from the index, then filtered,
 *   sorted and cut to a page — the cost follows the matches, however old they are;
 * - many (a common word): conversations are walked newest first (by an index that fits the
 *   other filters) and each is kept when one of its messages holds the words — the walk
 *   stops at a page, which a common word fills within a few dozen conversations.
 * Either way the snippet (the conversation's newest matching message) is made for the page's
 * rows only.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { type Channel, channelOfKind, withoutChannelPrefix } from '../addresses.js';
import type { Role } from '../auth/users.js';
import {
  readableBeyondOwn,
  readableByAgent,
  readsEveryConversation,
} from '../conversations/access.js';
import type { ConversationFilter, ConversationState } from '../conversations/views.js';
import { CONTACT_SEARCH_TEXT } from '../db/schema.js';
import { type Executor, queryRows } from '../db/store.js';
import { AppError } from '../errors.js';
import type { SurveyScale } from '../events.js';
import { normalisePhone } from '../phone-numbers.js';

/**
 * Up to this many matching messages, a search by words starts from them; above, from the
 * conversations (see the top of this file). Measured with bench/search.ts: both ways cost
 * about the same near it.
 */
export const FEW_MATCHES = 2000;

/** Who is searching: agents find only what they may read. */
export interface Searcher {
  id: string;
  role: Role;
}

export interface ConversationSearch {
  /** Words, all of which a message of the conversation (or its contact's name) holds. */
  words?: string | undefined;
  /** A phone number in any format, or at least 3 of its digits. */
  phone?: string | undefined;
  /** The country a national-format phone number is read in; see phoneAddresses. */
  defaultCountry?: CountryCode | undefined;
  /** The start of the words of the contact's name (or email). */
  name?: string | undefined;
  agentId?: string | undefined;
  queueId?: string | undefined;
  numberId?: string | undefined;
  state?: ConversationFilter | undefined;
  disposition?: string | undefined;
  scoreMin?: number | undefined;
  scoreMax?: number | undefined;
  /** Conversations that started at or after this instant… */
  from?: Date | undefined;
  /** …and before this one. */
  to?: Date | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface ConversationHit {
  id: string;
  state: ConversationState;
  createdAt: Date;
  closedAt: Date | null;
  contactId: string;
  customerAddress: string;
  contactName: string | null;
  numberId: string;
  numberAddress: string;
  channel: Channel;
  queueId: string | null;
  queueName: string | null;
  agentId: string | null;
  agentName: string | null;
  disposition: string | null;
  score: number | null;
  scale: SurveyScale | null;
  /** The newest message holding the words; null without words or when only the name did. */
  match: { messageId: string; snippet: string; createdAt: Date } | null;
}

export interface Page<T> {
  results: T[];
  /** Gives the next page; null on the last. */
  nextCursor: string | null;
}

/** Conversations matching every given filter, newest first. */
export async function searchConversations(
  db: Executor,
  searcher: Searcher,
  search: ConversationSearch,
): Promise<Page<ConversationHit>> {
  const filters: SQL[] = [];
  const equal = (column: string, value: string | undefined, cast = '') => {
    if (value !== undefined) filters.push(sql`c.${sql.raw(column)} = ${value}${sql.raw(cast)}`);
  };
  equal('agent_id', search.agentId, '::uuid');
  equal('queue_id', search.queueId, '::uuid');
  equal('number_id', search.numberId, '::uuid');
  equal('disposition', search.disposition);
  if (search.state === 'open') filters.push(sql`c.state <> 'closed'`);
  else equal('state', search.state);
  if (search.from) filters.push(sql`c.created_at >= ${search.from.toISOString()}::timestamptz`);
  if (search.to) filters.push(sql`c.created_at < ${search.to.toISOString()}::timestamptz`);
  if (search.scoreMin !== undefined || search.scoreMax !== undefined) {
    // A scalar subquery, not EXISTS (which the planner makes a join, after the words' check):
    // a cheap lookup by key, checked before the words are.
    // Scores of 1-5 surveys only: a yes/no survey keeps 1 / 0, which is not a score.
    filters.push(sql`(SELECT s.score FROM survey_responses s
                       WHERE s.conversation_id = c.id AND s.scale = 'score')
                       BETWEEN ${search.scoreMin ?? 0} AND ${search.scoreMax ?? 5}`);
  }
  if (search.phone !== undefined) {
    filters.push(sql`c.contact_id IN (${contactsByPhone(await phoneMatch(db, search))})`);
  }
  if (search.name !== undefined) {
    filters.push(sql`c.contact_id IN (${contactsByName(search.name, 'name')})`);
  }
  const after = search.cursor === undefined ? undefined : decodeCursor(search.cursor);
  if (after) {
    filters.push(sql`(c.created_at, c.id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  }
  const agent = readsEveryConversation(searcher.role) ? undefined : searcher.id;
  const newest = (from: SQL, only: SQL[]) =>
    sql`SELECT c.* FROM ${from} WHERE ${sql.join([sql`true`, ...filters, ...only], sql` AND `)}
        ORDER BY c.created_at DESC, c.id DESC LIMIT ${search.limit + 1}`;
  /**
   * The page, walking conversations newest first, of those holding `only` too: an agent's
   * own by their index, with the few others they may read added.
   */
  const walked = (only: SQL[]) =>
    agent === undefined
      ? newest(sql`conversations c`, only)
      : sql`SELECT c.* FROM (
              (${newest(sql`conversations c`, [...only, sql`c.agent_id = ${agent}::uuid`])})
              UNION ALL
              (${newest(sql`conversations c`, [
                ...only,
                sql`c.agent_id IS DISTINCT FROM ${agent}::uuid`,
                sql`c.id IN (${readableBeyondOwn(agent)})`,
              ])})) c
            ORDER BY c.created_at DESC, c.id DESC LIMIT ${search.limit + 1}`;

  let page = walked([]);
  let snippet = sql`NULL::uuid AS match_id, NULL::text AS snippet, NULL::float8 AS match_ms`;
  let matching = sql``;
  if (search.words !== undefined) {
    const words = sql`websearch_to_tsquery('simple', ${requireWords(search.words, 'q')})`;
    const byName = sql`SELECT ct.id FROM contacts ct
                        WHERE to_tsvector('simple', ${CONTACT_SEARCH_TEXT}) @@ ${words}`;
    // A conversation's messages, read by its index and not the words' one: OFFSET 0 keeps
    // the planner from handing the words down into the scan, where it would read every
    // message holding them (each time, or once into a hash) to intersect them with the
    // conversation's.
    const messagesOf = (order: SQL) => sql`(SELECT m.id, m.body, m.created_at FROM messages m
                                            WHERE m.conversation_id = c.id ${order} OFFSET 0) m`;
    if (await hasFewMatches(db, words)) {
      // The conversations holding the words, from the indexes; each then read by its key
      // (OFFSET 0 again: not a scan of every conversation to join them).
      const hits = sql`(SELECT m.conversation_id AS id FROM messages m
                         WHERE to_tsvector('simple', m.body) @@ ${words}
                           AND m.conversation_id IS NOT NULL
                        UNION
                        SELECT n.id FROM conversations n WHERE n.contact_id IN (${byName})) hits
                       CROSS JOIN LATERAL (SELECT * FROM conversations c WHERE c.id = hits.id
                                           OFFSET 0) c`;
      page = newest(hits, agent === undefined ? [] : [readableByAgent(sql`c`, agent)]);
    } else {
      page = walked([
        sql`(EXISTS (SELECT 1 FROM ${messagesOf(sql``)} WHERE to_tsvector('simple', m.body) @@ ${words})
             OR c.contact_id IN (${byName}))`,
      ]);
    }
    snippet = sql`hit.id AS match_id,
      ts_headline('simple', hit.body, ${words},
                  'MaxFragments=1, MaxWords=24, MinWords=8, StartSel="", StopSel=""') AS snippet,
      (extract(epoch FROM hit.created_at) * 1000)::float8 AS match_ms`;
    matching = sql`LEFT JOIN LATERAL (
        SELECT m.id, m.body, m.created_at
          FROM ${messagesOf(sql`ORDER BY m.created_at DESC, m.id DESC`)}
         WHERE to_tsvector('simple', m.body) @@ ${words}
         ORDER BY m.created_at DESC, m.id DESC LIMIT 1) hit ON true`;
  }

  const rows = await queryRows<HitRow>(
    db,
    sql`SELECT c.id, c.state, c.contact_id, c.customer_address, c.number_id, n.address AS number_address,
          n.kind AS number_kind, c.queue_id, q.name AS queue_name, c.agent_id, u.name AS agent_name,
          coalesce(ct.name, ct.attributes ->> 'profileName') AS contact_name,
          c.disposition, s.score, s.scale,
          (extract(epoch FROM c.created_at) * 1000)::float8 AS created_ms,
          (extract(epoch FROM c.closed_at) * 1000)::float8 AS closed_ms,
          ${cursorAt('c')} AS cursor_at,
          ${snippet}
        FROM (${page}) c
        JOIN numbers n ON n.id = c.number_id
        JOIN contacts ct ON ct.id = c.contact_id
        LEFT JOIN queues q ON q.id = c.queue_id
        LEFT JOIN users u ON u.id = c.agent_id
        LEFT JOIN survey_responses s ON s.conversation_id = c.id
        ${matching}
        ORDER BY c.created_at DESC, c.id DESC`,
  );
  return pageOf(rows, search.limit, (row) => ({
    id: row.id,
    state: row.state,
    createdAt: new Date(row.created_ms),
    closedAt: row.closed_ms === null ? null : new Date(row.closed_ms),
    contactId: row.contact_id,
    customerAddress: row.customer_address,
    contactName: row.contact_name,
    numberId: row.number_id,
    numberAddress: row.number_address,
    channel: channelOfKind(row.number_kind),
    queueId: row.queue_id,
    queueName: row.queue_name,
    agentId: row.agent_id,
    agentName: row.agent_name,
    disposition: row.disposition,
    score: row.score,
    scale: row.scale,
    match:
      row.match_id === null || row.match_ms === null
        ? null
        : {
            messageId: row.match_id,
            snippet: row.snippet ?? '',
            createdAt: new Date(row.match_ms),
          },
  }));
}

interface HitRow {
  id: string;
  state: ConversationState;
  contact_id: string;
  customer_address: string;
  number_id: string;
  number_address: string;
  number_kind: string;
  queue_id: string | null;
  queue_name: string | null;
  agent_id: string | null;
  agent_name: string | null;
  contact_name: string | null;
  disposition: string | null;
  score: number | null;
  scale: SurveyScale | null;
  created_ms: number;
  closed_ms: number | null;
  cursor_at: string;
  match_id: string | null;
  snippet: string | null;
  match_ms: number | null;
}

/** Whether at most FEW_MATCHES messages hold the words (reads at most one more). */
async function hasFewMatches(db: Executor, words: SQL): Promise<boolean> {
  const [row] = await queryRows<{ matches: number }>(
    db,
    sql`SELECT count(*)::int AS matches FROM (
          SELECT 1 FROM messages m WHERE to_tsvector('simple', m.body) @@ ${words}
          LIMIT ${FEW_MATCHES + 1}) found`,
  );
  return row!.matches <= FEW_MATCHES;
}

export interface ContactSearch {
  /** A name, an email or a phone number (any format, or at least 3 of its digits). */
  q?: string | undefined;
  defaultCountry?: CountryCode | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface ContactHit {
  id: string;
  address: string;
  name: string | null;
  email: string | null;
  createdAt: Date;
  /** The contact's conversations the searcher may read, and when the latest started. */
  conversations: number;
  lastConversationAt: Date | null;
}

/**
 * Contacts by name or email (the start of their words) or by phone number, newest first;
 * agents find only the contacts of conversations they may read.
 */
export async function searchContacts(
  db: Executor,
  searcher: Searcher,
  search: ContactSearch,
): Promise<Page<ContactHit>> {
  // Erased people are not found: what remains of them is anonymous, or a record of their
  // opt-out, found again once they write again (it holds their new conversations).
  const filters: SQL[] = [
    sql`(ct.erased_at IS NULL
         OR (ct.address NOT LIKE 'erased:%'
             AND EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = ct.id)))`,
  ];
  if (search.q !== undefined) {
    // Without a letter it can only be a phone number, typed any way.
    filters.push(
      /\p{L}/u.test(search.q)
        ? sql`ct.id IN (${contactsByName(search.q, 'q')})`
        : sql`ct.id IN (${contactsByPhone(await phoneMatch(db, { phone: search.q, defaultCountry: search.defaultCountry }, 'q'))})`,
    );
  }
  const readable = readsEveryConversation(searcher.role)
    ? sql`true`
    : readableByAgent(sql`c`, searcher.id);
  if (!readsEveryConversation(searcher.role)) {
    filters.push(
      sql`EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = ct.id AND ${readable})`,
    );
  }
  const after = search.cursor === undefined ? undefined : decodeCursor(search.cursor);
  if (after) {
    filters.push(sql`(ct.created_at, ct.id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  }
  const where = sql`WHERE ${sql.join(filters, sql` AND `)}`;
  const rows = await queryRows<{
    id: string;
    address: string;
    name: string | null;
    email: string | null;
    created_ms: number;
    cursor_at: string;
    conversations: number;
    last_ms: number | null;
  }>(
    db,
    sql`SELECT p.id, p.address, coalesce(p.name, p.attributes ->> 'profileName') AS name, p.email,
          (extract(epoch FROM p.created_at) * 1000)::float8 AS created_ms,
          ${cursorAt('p')} AS cursor_at, held.conversations, held.last_ms
        FROM (SELECT ct.* FROM contacts ct ${where}
              ORDER BY ct.created_at DESC, ct.id DESC LIMIT ${search.limit + 1}) p
        CROSS JOIN LATERAL (
          SELECT count(*)::int AS conversations,
                 (extract(epoch FROM max(c.created_at)) * 1000)::float8 AS last_ms
            FROM conversations c WHERE c.contact_id = p.id AND ${readable}) held
        ORDER BY p.created_at DESC, p.id DESC`,
  );
  return pageOf(rows, search.limit, (row) => ({
    id: row.id,
    address: row.address,
    name: row.name,
    email: row.email,
    createdAt: new Date(row.created_ms),
    conversations: row.conversations,
    lastConversationAt: row.last_ms === null ? null : new Date(row.last_ms),
  }));
}

/** What a phone filter matches: exact addresses, or addresses holding some digits. */
type PhoneMatch = { addresses: string[] } | { digits: string };

/**
 * The addresses a phone number typed any way may be: E.164 as typed, or a national format
 * read in `defaultCountry` and in the calling code of each of Parley's numbers (a business
 * on +1 numbers finds `(425) 230-6549` as +14252306549), each on SMS and on WhatsApp. What
 * is no whole number but has at least 3 digits matches the addresses holding them (the last
 * four, say).
 */
async function phoneMatch(
  db: Executor,
  search: { phone?: string | undefined; defaultCountry?: CountryCode | undefined },
  field = 'phone',
): Promise<PhoneMatch> {
  const typed = withoutChannelPrefix((search.phone ?? '').trim());
  const found = new Set<string>();
  const add = (phone: string | undefined) => phone && found.add(phone);
  add(normalisePhone(typed, search.defaultCountry));
  if (!typed.startsWith('+')) {
    for (const callingCode of await callingCodesOfNumbers(db)) {
      const parsed = parsePhoneNumberFromString(typed, { defaultCallingCode: callingCode });
      if (parsed?.isPossible()) add(parsed.number);
    }
  }
  if (found.size > 0)
    return { addresses: [...found].flatMap((e164) => [e164, `whatsapp:${e164}`]) };
  const digits = typed.replace(/\D/g, '');
  if (digits.length < 3 || /[\p{L}]/u.test(typed)) {
    throw new AppError(
      'bad_request',
      `${field} must be a phone number (E.164 or national format) or at least 3 of its digits`,
      field,
    );
  }
  return { digits };
}

/** The calling codes of Parley's phone numbers (WhatsApp senders' included). */
async function callingCodesOfNumbers(db: Executor): Promise<Set<string>> {
  const rows = await queryRows<{ address: string }>(
    db,
    sql`SELECT DISTINCT address FROM numbers WHERE kind NOT IN ('messenger', 'short-code')`,
  );
  const codes = new Set<string>();
  for (const row of rows) {
    const code = parsePhoneNumberFromString(withoutChannelPrefix(row.address))?.countryCallingCode;
    if (code) codes.add(code);
  }
  return codes;
}

/** SQL: the ids of the contacts a phone filter matches. */
function contactsByPhone(match: PhoneMatch): SQL {
  if ('addresses' in match) {
    return sql`SELECT ct.id FROM contacts ct WHERE ct.address IN (${sql.join(
      match.addresses.map((address) => sql`${address}`),
      sql`, `,
    )})`;
  }
  // Digits only, so no LIKE wildcard can slip in; contacts are read whole (tens of thousands).
  // An erased contact's pseudonym (erased:<id>) has digits too, and no phone number.
  return sql`SELECT ct.id FROM contacts ct
              WHERE ct.address LIKE ${`%${match.digits}%`} AND ct.address NOT LIKE 'erased:%'`;
}

/**
 * SQL: the ids of the contacts whose name, profile name or email has words starting with
 * each word typed (`mar gar` finds Maria Garcia), through the contacts' search index.
 */
function contactsByName(typed: string, field: string): SQL {
  const prefixes = requireWords(typed, field)
    .split(/\s+/)
    .filter((word) => word !== '')
    // Quoted, so that nothing typed is read as an operator; the parser splits it as it
    // split the names.
    .map((word) => `'${word.replace(/[\\']/g, '\\$&')}':*`)
    .join(' & ');
  return sql`SELECT ct.id FROM contacts ct
              WHERE to_tsvector('simple', ${CONTACT_SEARCH_TEXT}) @@ to_tsquery('simple', ${prefixes})`;
}

/** The text, when it has a letter or a digit to search for; else 400 naming the field. */
function requireWords(text: string, field: string): string {
  if (!/[\p{L}\p{N}]/u.test(text)) {
    throw new AppError(
      'bad_request',
      `${field} must have a letter or a digit to search for`,
      field,
    );
  }
  return text;
}

/**
 * SQL: the created_at of the row `alias` to the microsecond, as the cursor keeps it (a JavaScript Date
 * keeps milliseconds, and two rows may differ by less).
 */
function cursorAt(alias: string): SQL {
  return sql`to_char(${sql.raw(alias)}.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}
/** Whether an ISO instant names a real day and time (not 2026-02-31, not month 13). */
function isRealInstant(iso: string): boolean {
  const time = Date.parse(iso);
  return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 19) === iso.slice(0, 19);
}

const CURSOR_PATTERN =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z) ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The first `limit` rows, and a cursor after the last of them when there are more. */
function pageOf<R extends { id: string; cursor_at: string }, T>(
  rows: R[],
  limit: number,
  present: (row: R) => T,
): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    results: page.map(present),
    nextCursor:
      rows.length > limit && last
        ? Buffer.from(`${last.cursor_at} ${last.id}`).toString('base64url')
        : null,
  };
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const match = CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString());
  // The pattern lets through impossible dates (month 13), which the database would refuse.
  if (!match || !isRealInstant(match[1]!)) {
    throw new AppError('bad_request', 'cursor is not one a search gave', 'cursor');
  }
  return { at: match[1]!, id: match[2]! };
}
