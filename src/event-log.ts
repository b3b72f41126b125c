import { and, asc, eq, gt, inArray, max, type SQL, sql } from 'drizzle-orm';
import { countEvents } from './db/commit-figures.js';
import { textArray } from './db/json-params.js';
import { events } from './db/schema.js';
import { type Executor, queryPrepared, queryRows, type Tx } from './db/store.js';
import type { EventPayloads, EventType } from './events.js';

/**
 * The event log: what every module appends in its own transaction, and what the realtime
 * gateway (realtime/) reads and numbers. Kernel, below every module that writes events, so
 * that they can all append without depending on the gateway. The events' types and
 * payloads are in events.ts.
 */

export interface EventRefs {
  conversationId?: string | null;
  agentId?: string | null;
}

/**
 * The channel on which the sequencer announces newly numbered events, with an empty
 * payload: a wake-up for readers of the log, never the events themselves.
 */
export const EVENTS_CHANNEL = 'parley_events';

/** Transactions that appended events, so that their commit can wake the sequencer. */
const appending = new WeakSet<Executor>();

/**
 * True when events were appended in the transaction (the one passed to appendEvent, or
 * inOneStatement's handle).
 */
export function appendedEvents(tx: Executor): boolean {
  return appending.has(tx);
}

/**
 * Appends an event inside the caller's transaction, so the event exists exactly when the
 * change it describes does. Its `seq`, the position readers follow, is given after commit by
 * the sequencer (realtime/sequencer.ts), in (transaction id, id) order; on the embedded
 * store, as it is written (migration 0035). Returns the event's row id.
 */
export async function appendEvent<T extends EventType>(
  tx: Tx,
  type: T,
  refs: EventRefs,
  payload: EventPayloads[T],
): Promise<number> {
  const [row] = await tx
    .insert(events)
    .values({
      type,
      conversationId: refs.conversationId ?? null,
      agentId: refs.agentId ?? null,
      payload,
    })
    .returning({ id: events.id });
  appending.add(tx);
  countEvents(tx, type, 1);
  return row!.id;
}

/**
 * Appends events of one type in one statement, in the caller's transaction and in the order
 * given (their ids, and so their log order, follow it). Returns nothing: a batch's writer
 * does not need the row ids.
 */
export async function appendEvents<T extends EventType>(
  tx: Tx,
  type: T,
  entries: { refs: EventRefs; payload: EventPayloads[T] }[],
): Promise<void> {
  if (entries.length === 0) return;
  // One JSON parameter for the batch; WITH ORDINALITY keeps the ids in the entries' order.
  const rows = entries.map(({ refs, payload }) => ({
    conversation_id: refs.conversationId ?? null,
    agent_id: refs.agentId ?? null,
    payload,
  }));
  await queryPrepared(
    tx,
    sql`INSERT INTO events (type, conversation_id, agent_id, payload)
        SELECT ${type}, (e.item->>'conversation_id')::uuid, (e.item->>'agent_id')::uuid,
               e.item->'payload'
          FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) WITH ORDINALITY AS e(item, n)
         ORDER BY e.n`,
  );
  appending.add(tx);
  countEvents(tx, type, entries.length);
}

/**
 * SQL for a data-modifying step of a larger statement: appends an event of the type for each
 * row of `rows` (a query giving conversation_id, agent_id, payload, and n: the events take
 * the rows' order by n), so a writer can store a change and its events in one round trip. The
 * statement must run in `tx` (a transaction or inOneStatement's handle), which this marks as
 * having appended events.
 */
export function appendEventsFrom<T extends EventType>(tx: Executor, type: T, rows: SQL): SQL {
  appending.add(tx);
  return sql`INSERT INTO events (type, conversation_id, agent_id, payload)
             SELECT ${type}, r.conversation_id, r.agent_id, r.payload FROM (${rows}) r ORDER BY r.n`;
}

/** A committed event as readers of the log see it. */
export interface LoggedEvent {
  seq: number;
  type: EventType;
  conversationId: string | null;
  agentId: string | null;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Numbered events after position `after`, in log order, at most `limit`. An event is numbered
 * only once no event can still come before it, so a reader that continues from the last seq
 * it got never skips one.
 */
export async function readEventsAfter(
  db: Executor,
  after: number,
  limit: number,
): Promise<LoggedEvent[]> {
  const rows = await db
    .select({
      seq: events.seq,
      type: events.type,
      conversationId: events.conversationId,
      agentId: events.agentId,
      payload: events.payload,
      createdAt: events.createdAt,
    })
    .from(events)
    .where(gt(events.seq, after))
    .orderBy(asc(events.seq))
    .limit(limit);
  // `seq > after` leaves out the unnumbered (null) ones; every type was written by appendEvent.
  return rows.map((row) => ({ ...row, seq: row.seq!, type: row.type as EventType }));
}

/** An event of one of the types `T`, its payload typed by its type. */
export type EventOf<T extends EventType> = {
  [K in T]: { type: K; payload: EventPayloads[K]; createdAt: Date };
}[T];

/**
 * A conversation's events of the given types, numbered or not yet, in the order they were
 * written (the transcript's history of who did what).
 */
export async function readConversationEvents<T extends EventType>(
  db: Executor,
  conversationId: string,
  types: readonly T[],
): Promise<EventOf<T>[]> {
  const rows = await db
    .select({ type: events.type, payload: events.payload, createdAt: events.createdAt })
    .from(events)
    .where(and(eq(events.conversationId, conversationId), inArray(events.type, [...types])))
    .orderBy(asc(events.createdAt), asc(events.id));
  // Every event was written by appendEvent, its payload typed by its type.
  return rows as EventOf<T>[];
}

/** The position of the newest numbered event; 0 for an empty log. */
export async function lastEventSeq(db: Executor): Promise<number> {
  const [row] = await db.select({ seq: max(events.seq) }).from(events);
  return row?.seq ?? 0;
}

/** What redactEventPayloads takes out of a payload: string fields, by name. */
export interface PayloadRedaction {
  /** Fields emptied (''): message and note bodies, original texts, comments. */
  blank: readonly string[];
  /** Fields replaced by `with`: a customer's address, by the pseudonym of an erasure. */
  replace?: { keys: readonly string[]; with: string };
}

/**
 * Empties (or replaces) the named string fields of the payloads of the events `where`
 * selects (SQL over the alias `e`), in the caller's transaction; returns how many changed.
 * The event log's one exception to append-only (migration 0031): the trigger lets an UPDATE
 * through only while the transaction says it is redacting, and only when it changes the
 * payload alone; this says so for this statement only. Events already redacted are left
 * alone, so a second run changes nothing.
 */
export async function redactEventPayloads(
  tx: Tx,
  where: SQL,
  redaction: PayloadRedaction,
): Promise<number> {
  const blank = textArray(redaction.blank);
  const replaced = textArray(redaction.replace?.keys ?? []);
  const replacement = redaction.replace?.with ?? '';
  await tx.execute(sql`SELECT set_config('parley.redacting', 'on', true)`);
  const rows = await queryRows<{ id: number }>(
    tx,
    sql`UPDATE events e
           SET payload = (SELECT jsonb_object_agg(f.key, CASE
                                   WHEN jsonb_typeof(f.value) <> 'string' THEN f.value
                                   WHEN f.key = ANY(${blank}) THEN '""'::jsonb
                                   WHEN f.key = ANY(${replaced}) THEN to_jsonb(${replacement}::text)
                                   ELSE f.value END)
                            FROM jsonb_each(e.payload) f)
         WHERE (${where})
           AND EXISTS (SELECT 1 FROM jsonb_each(e.payload) f
                        WHERE jsonb_typeof(f.value) = 'string'
                          AND ((f.key = ANY(${blank}) AND f.value <> '""'::jsonb)
                               OR (f.key = ANY(${replaced})
                                   AND f.value <> to_jsonb(${replacement}::text))))
        RETURNING e.id`,
  );
  await tx.execute(sql`SELECT set_config('parley.redacting', 'off', true)`);
  return rows.length;
}
