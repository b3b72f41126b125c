/**
 * The sequencer: it gives committed events their place in the log (seq), after commit,
 * without making writers wait for one another.
 *
 * What it claims, in what order, and why it is safe:
 *   1. Every event records the transaction that wrote it (events.xid, by default
 *      pg_current_xact_id()); its seq stays null. Writers take no lock for the log.
 *   2. One sequencer at a time, on any instance, in its own short transaction, takes
 *      pg_try_advisory_xact_lock(SEQUENCER_LOCK). Another holding it is numbering already:
 *      this one leaves and looks again shortly.
 *   3. In a new statement (so its snapshot sees every batch numbered before the lock was
 *      granted) it numbers the unnumbered events whose xid is below the snapshot's xmin,
 *      ordered by (xid, id), continuing from max(seq): no gap, and no repeat since the
 *      lock admits one numbering at a time.
 *   4. If it numbered any, it sends one NOTIFY on EVENTS_CHANNEL, delivered at its commit:
 *      a wake-up for the tails of every instance, which then read the log themselves.
 * Every transaction with an xid below xmin has ended: committed, so its events are all
 * visible, or aborted, so they never will be. Transactions still running have xids at or
 * above xmin. So no event can later appear with an (xid, id) below one already numbered,
 * and seq order is (xid, id) order: a reader that has seen seq N never finds a smaller one
 * later, and numbers come without gaps. The sequencer's own transaction writes nothing
 * before that statement, so it has no xid yet to hold xmin back, and it appends no events.
 *
 * The price: a long-running transaction holds back the numbering of every event of a later
 * transaction until it ends (its events may still come before them). The sequencer measures
 * how many committed events wait and for how long, and warns past LAG_WARNING_MS.
 *
 * Every instance runs one, woken after a transaction of its process that appended events
 * commits, and by a poll: short while events wait or another sequencer held the lock,
 * longer when idle (for events of instances whose sequencer is gone). On PGlite, the one
 * connection runs one transaction at a time, so events are numbered as they are written
 * (migration 0035) and the log tail is woken at commit (tailer.ts); the sequencer only polls,
 * for events a data directory kept from before.
 */
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Db, type Executor, queryRows, type Store } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { appendedEvents, EVENTS_CHANNEL } from '../event-log.js';
import { type LoopWorker, startLoopWorker } from '../worker-loop.js';

// Any constant works; it only has to be the same in every instance (7331001 migrates).
const SEQUENCER_LOCK = 7_331_003;
/** Events numbered per transaction. */
const BATCH = 1000;
/** How soon to look again while events wait for a transaction, or after work. */
const ACTIVE_POLL_MS = 50;
/** How soon to look again when another sequencer held the lock. */
const BUSY_POLL_MS = 20;
const IDLE_POLL_MS = 500;
const EMBEDDED_POLL_MS = 5000;
/** Events waiting longer than this to be numbered are worth a warning. */
const LAG_WARNING_MS = 5000;

/** What one run of the sequencer did. */
export type Numbering =
  | { busy: true }
  | {
      busy: false;
      numbered: number;
      /** Committed events left unnumbered (held back by a running transaction, or the batch). */
      waiting: number;
      /** Age of the oldest of them, in ms; 0 when none. */
      oldestWaitingMs: number;
    };

/** Numbers the events that can no longer be preceded (see the opening comment). */
export async function numberEvents(db: Db, limit = BATCH): Promise<Numbering> {
  return inTransaction(db, async (tx) => {
    // Statistics taken while the log was empty (an ANALYZE at install, and no autovacuum)
    // would plan scans of the whole log; the partial index is always the way in. A plain
    // index scan, not a bitmap one: it stops at the limit, and it marks the entries of rows
    // numbered since as dead when it passes them, where a bitmap scan visits their heap
    // pages again on every run until a vacuum (at 1,000 events/s: 2,660 entries read to
    // find 19, 240 pages instead of 15).
    const [lock] = await queryRows<{ locked: boolean }>(
      tx,
      sql`SELECT pg_try_advisory_xact_lock(${SEQUENCER_LOCK}) AS locked,
                 set_config('enable_seqscan', 'off', true),
                 set_config('enable_bitmapscan', 'off', true)`,
    );
    if (!lock?.locked) return { busy: true };
    // One statement: the snapshot that decides which events are ready is the one the
    // numbering and max(seq) are read with.
    const [row] = await queryRows<{ numbered: number; waiting: number; oldest_ms: number }>(
      tx,
      sql`WITH ready AS (
            SELECT id, row_number() OVER (ORDER BY xid, id) AS n
            FROM events
            WHERE seq IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY xid, id
            LIMIT ${limit}
          ), numbered AS (
            UPDATE events e SET seq = (SELECT coalesce(max(seq), 0) FROM events) + ready.n
            FROM ready WHERE e.id = ready.id
            RETURNING e.seq
          ), waiting AS (
            SELECT count(*)::int AS count, min(created_at) AS oldest FROM events
            WHERE seq IS NULL AND id NOT IN (SELECT id FROM ready)
          )
          SELECT (SELECT count(*)::int FROM numbered) AS numbered,
                 waiting.count AS waiting,
                 coalesce(extract(epoch FROM now() - waiting.oldest) * 1000, 0)::float8
                   AS oldest_ms,
                 CASE WHEN EXISTS (SELECT 1 FROM numbered)
                   THEN pg_notify(${EVENTS_CHANNEL}, '') END AS notified
          FROM waiting`,
    );
    return {
      busy: false,
      numbered: row!.numbered,
      waiting: row!.waiting,
      oldestWaitingMs: Math.max(row!.oldest_ms, 0),
    };
  });
}

/** How far behind numbering is: committed events without a seq, and the oldest one's age. */
export interface EventLogLag {
  unnumbered: number;
  oldestMs: number;
}

export async function eventLogLag(executor: Executor): Promise<EventLogLag> {
  const [row] = await queryRows<{ unnumbered: number; oldest_ms: number }>(
    executor,
    sql`SELECT count(*)::int AS unnumbered,
               coalesce(extract(epoch FROM now() - min(created_at)) * 1000, 0)::float8
                 AS oldest_ms
        FROM events WHERE seq IS NULL`,
  );
  return { unnumbered: row!.unnumbered, oldestMs: Math.max(row!.oldest_ms, 0) };
}

/**
 * The transaction holding numbering back: the oldest one with an xid, in any database of
 * the server. Its process id and age only; its query text may hold customers' data.
 */
async function oldestTransaction(
  executor: Executor,
): Promise<{ pid: number; ageMs: number } | undefined> {
  const [row] = await queryRows<{ pid: number; age_ms: number }>(
    executor,
    sql`SELECT pid, (extract(epoch FROM now() - xact_start) * 1000)::float8 AS age_ms
        FROM pg_stat_activity WHERE backend_xid IS NOT NULL
        ORDER BY age(backend_xid) DESC LIMIT 1`,
  );
  return row && { pid: row.pid, ageMs: Math.round(row.age_ms) };
}

/** The sequencer worker of this process (see the opening comment). */
export function startEventSequencer(options: {
  store: Store;
  logger: FastifyBaseLogger;
}): LoopWorker {
  const { store } = options;
  const logger = options.logger.child({ worker: 'event-sequencer' });
  let warnedAt = 0;

  const warnOfLag = async (waiting: number, oldestWaitingMs: number) => {
    const now = Date.now();
    if (oldestWaitingMs < LAG_WARNING_MS || now - warnedAt < LAG_WARNING_MS) return;
    warnedAt = now;
    const blocking = store.kind === 'postgres' ? await oldestTransaction(store.db) : undefined;
    logger.warn(
      { waitingEvents: waiting, oldestWaitingMs: Math.round(oldestWaitingMs), blocking },
      'events wait to be numbered behind a long-running transaction; live events are delayed',
    );
  };

  const worker = startLoopWorker({
    name: 'event-sequencer',
    // On PGlite nothing new waits for it (see the opening comment).
    intervalMs: store.kind === 'pglite' ? EMBEDDED_POLL_MS : IDLE_POLL_MS,
    logger,
    tick: async () => {
      const run = await numberEvents(store.db);
      if (run.busy) return BUSY_POLL_MS;
      if (run.numbered === BATCH) return true;
      if (run.waiting > 0) {
        await warnOfLag(run.waiting, run.oldestWaitingMs);
        return ACTIVE_POLL_MS;
      }
      return run.numbered > 0 ? ACTIVE_POLL_MS : false;
    },
  });
  const stopHints =
    store.kind === 'pglite'
      ? () => {}
      : store.onCommit((tx) => {
          if (appendedEvents(tx)) worker.wake();
        });
  return {
    ...worker,
    stop: async () => {
      stopHints();
      await worker.stop();
    },
  };
}
