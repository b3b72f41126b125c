/**
 * Retention: an account's `retentionDays` bounds how long the bodies and media of messages on
 * its numbers, the notes on their conversations, and what else was written in those
 * conversations are kept. Past it they are redacted (redaction.ts): bodies emptied and marked
 * redacted_at, media rows deleted and their bytes, once no row names them, scheduled for
 * deletion (media-deletions.ts), the same text taken out of the event log; the rows
 * themselves, their states, times and counts stay for reports. Notes follow the messages: a
 * note is about the conversation, and the conversation's text is gone. A conversation closed
 * before the cutoff loses everything written in it: its wrap-up summary, what bots collected
 * (attributes), and the text of all its events, including those written after its last
 * message (a transfer note, an offer's original text); it is then marked redacted_at.
 *
 * One instance runs it at a time: whoever moves retention_schedule.next_run_at on claims the
 * run (the row lock makes a second instance wait, then find it no longer due). The run works
 * in batches of its own transactions, each choosing its rows with SKIP LOCKED, so a large
 * backlog holds no lock for long and never blocks the traffic of today.
 */
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { recordAudit, SYSTEM_ACTOR } from '../audit/audit-log.js';
import { uuidArray } from '../db/json-params.js';
import { type Db, queryRows } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import type { MediaStore } from '../media/media-store.js';
import { startLoopWorker, type Worker } from '../worker-loop.js';
import { deleteDueMedia } from './media-deletions.js';
import { redactEvents, redactMessages, redactNotes } from './redaction.js';

/** How often a run is due, across all instances. */
export const RETENTION_EVERY_MS = 60 * 60_000;
/** Rows per transaction. */
export const RETENTION_BATCH = 200;
const DAY_MS = 86_400_000;

export interface RetentionDeps {
  db: Db;
  mediaStore: MediaStore;
}

/** What one run redacted, for an account or in all. */
export interface RetentionCounts {
  messages: number;
  media: number;
  /** Stored files scheduled for deletion: media no remaining message shares. */
  mediaFilesScheduled: number;
  notes: number;
  /** Closed conversations whose wrap-up, attributes and events were emptied. */
  conversations: number;
  events: number;
}

export interface RetentionRun extends RetentionCounts {
  accounts: ({ accountId: string; retentionDays: number } & RetentionCounts)[];
  /** Whether the run stopped before the end (shutdown); the rest waits for the next run. */
  interrupted: boolean;
}

const zero = (): RetentionCounts => ({
  messages: 0,
  media: 0,
  mediaFilesScheduled: 0,
  notes: 0,
  conversations: 0,
  events: 0,
});

/**
 * Claims the run due at `now`: true for one caller only, which moves the next run on by
 * `everyMs`; false while the run is not due (or another instance claimed it).
 */
export async function claimRetentionRun(
  db: Db,
  now: Date,
  everyMs = RETENTION_EVERY_MS,
): Promise<boolean> {
  const rows = await queryRows<{ id: number }>(
    db,
    sql`UPDATE retention_schedule
           SET next_run_at = ${new Date(now.getTime() + everyMs).toISOString()}::timestamptz,
               last_run_at = ${now.toISOString()}::timestamptz
         WHERE id = 1 AND next_run_at <= ${now.toISOString()}::timestamptz
        RETURNING id`,
  );
  return rows.length === 1;
}

/** Makes the next run due at once: a run cut short is finished by whichever instance comes next. */
async function releaseRetentionRun(db: Db): Promise<void> {
  await db.execute(sql`UPDATE retention_schedule SET next_run_at = '-infinity' WHERE id = 1`);
}

/**
 * Redacts, for every account with retentionDays, what is older than that many days before
 * `now`. Records one audit entry (actor system, `retention.redacted`) when it redacted anything.
 */
export async function runRetention(
  deps: Pick<RetentionDeps, 'db'>,
  now: Date,
  options: { batchSize?: number; shouldStop?: () => boolean } = {},
): Promise<RetentionRun> {
  const batchSize = options.batchSize ?? RETENTION_BATCH;
  const stop = options.shouldStop ?? (() => false);
  const accounts = await queryRows<{ id: string; retention_days: number }>(
    deps.db,
    sql`SELECT id, retention_days FROM accounts WHERE retention_days IS NOT NULL ORDER BY id`,
  );
  const run: RetentionRun = { ...zero(), accounts: [], interrupted: false };
  for (const account of accounts) {
    const cutoff = new Date(now.getTime() - account.retention_days * DAY_MS);
    const counts = zero();
    for (let more = true; more && !run.interrupted; ) {
      more = (await redactMessageBatch(deps, account.id, cutoff, batchSize, counts)) === batchSize;
      run.interrupted = stop();
    }
    for (let more = true; more && !run.interrupted; ) {
      more = (await redactNoteBatch(deps.db, account.id, cutoff, batchSize, counts)) === batchSize;
      run.interrupted = stop();
    }
    for (let more = true; more && !run.interrupted; ) {
      more =
        (await redactConversationBatch(deps.db, account.id, cutoff, batchSize, counts)) ===
        batchSize;
      run.interrupted = stop();
    }
    if (Object.values(counts).some((n) => n > 0)) {
      run.accounts.push({
        accountId: account.id,
        retentionDays: account.retention_days,
        ...counts,
      });
      for (const key of Object.keys(counts) as (keyof RetentionCounts)[]) run[key] += counts[key];
    }
    if (run.interrupted) break;
  }
  if (run.accounts.length > 0) {
    await inTransaction(deps.db, (tx) =>
      recordAudit(tx, {
        actor: SYSTEM_ACTOR,
        action: 'retention.redacted',
        detail: { ...run, at: now.toISOString() },
      }),
    );
  }
  return run;
}

/** One transaction's worth of the account's messages older than cutoff; returns how many it took. */
async function redactMessageBatch(
  deps: Pick<RetentionDeps, 'db'>,
  accountId: string,
  cutoff: Date,
  batchSize: number,
  counts: RetentionCounts,
): Promise<number> {
  const before = cutoff.toISOString();
  const batch = await inTransaction(deps.db, async (tx) => {
    // A message still waiting in the outbox is left for later: its text is yet to be sent.
    const rows = await queryRows<{ id: string; conversation_id: string | null }>(
      tx,
      sql`SELECT m.id, m.conversation_id
            FROM messages m
           WHERE m.number_id IN (SELECT id FROM numbers WHERE account_id = ${accountId}::uuid)
             AND m.redacted_at IS NULL
             AND m.created_at < ${before}::timestamptz
             AND NOT EXISTS (SELECT 1 FROM outbox o
                              WHERE o.message_id = m.id AND o.state IN ('pending', 'sending'))
           ORDER BY m.created_at
           LIMIT ${batchSize}
             FOR NO KEY UPDATE OF m SKIP LOCKED`,
    );
    if (rows.length === 0) return { picked: 0, messages: 0, media: 0, events: 0, hashes: [] };
    const redacted = await redactMessages(
      tx,
      rows.map((row) => row.id),
    );
    const conversations = uuidArray([
      ...new Set(rows.flatMap((row) => (row.conversation_id ? [row.conversation_id] : []))),
    ]);
    // A conversation's events before the cutoff (its messages, notes, transfers, offers'
    // original texts); and the events of messages logged with no conversation (a keyword
    // text, an agent's outreach), found by message id through events_unattached_message_idx.
    const events = await redactEvents(
      tx,
      sql`(e.conversation_id = ANY(${conversations}) AND e.created_at < ${before}::timestamptz)
          OR (e.conversation_id IS NULL
              AND (e.payload ->> 'messageId') = ANY(ARRAY(SELECT jsonb_array_elements_text(
                    ${JSON.stringify(rows.map((row) => row.id))}::jsonb))))`,
    );
    await tx.execute(
      sql`UPDATE offers SET original_text = NULL
           WHERE conversation_id = ANY(${conversations})
             AND created_at < ${before}::timestamptz AND original_text IS NOT NULL`,
    );
    await tx.execute(
      sql`UPDATE survey_responses SET comment = NULL
           WHERE conversation_id = ANY(${conversations})
             AND commented_at < ${before}::timestamptz AND comment IS NOT NULL`,
    );
    return {
      picked: rows.length,
      messages: redacted.messages,
      media: redacted.media,
      events,
      hashes: redacted.orphanHashes,
    };
  });
  counts.messages += batch.messages;
  counts.media += batch.media;
  counts.events += batch.events;
  counts.mediaFilesScheduled += batch.hashes.length;
  return batch.picked;
}

/** One transaction's worth of notes older than cutoff on the account's conversations. */
async function redactNoteBatch(
  db: Db,
  accountId: string,
  cutoff: Date,
  batchSize: number,
  counts: RetentionCounts,
): Promise<number> {
  const before = cutoff.toISOString();
  const batch = await inTransaction(db, async (tx) => {
    const rows = await queryRows<{ id: string; conversation_id: string }>(
      tx,
      sql`SELECT n.id, n.conversation_id FROM conversation_notes n
            JOIN conversations c ON c.id = n.conversation_id
            JOIN numbers nb ON nb.id = c.number_id
           WHERE nb.account_id = ${accountId}::uuid
             AND n.redacted_at IS NULL
             AND n.created_at < ${before}::timestamptz
           ORDER BY n.created_at
           LIMIT ${batchSize}
             FOR NO KEY UPDATE OF n SKIP LOCKED`,
    );
    if (rows.length === 0) return { picked: 0, notes: 0, events: 0 };
    const notes = await redactNotes(tx, sql`n.id = ANY(${uuidArray(rows.map((row) => row.id))})`);
    const conversations = uuidArray([...new Set(rows.map((row) => row.conversation_id))]);
    const events = await redactEvents(
      tx,
      sql`e.conversation_id = ANY(${conversations}) AND e.created_at < ${before}::timestamptz`,
    );
    return { picked: rows.length, notes, events };
  });
  counts.notes += batch.notes;
  counts.events += batch.events;
  return batch.picked;
}

/**
 * One transaction's worth of the account's conversations closed before cutoff and not yet
 * redacted: their wrap-up summary, attributes, notes, offers' original texts, survey comments
 * and the text of every one of their events, whenever written, emptied; then marked.
 */
async function redactConversationBatch(
  db: Db,
  accountId: string,
  cutoff: Date,
  batchSize: number,
  counts: RetentionCounts,
): Promise<number> {
  const batch = await inTransaction(db, async (tx) => {
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`SELECT c.id FROM conversations c
           WHERE c.number_id IN (SELECT id FROM numbers WHERE account_id = ${accountId}::uuid)
             AND c.redacted_at IS NULL
             AND c.closed_at IS NOT NULL
             AND c.closed_at < ${cutoff.toISOString()}::timestamptz
           ORDER BY c.closed_at
           LIMIT ${batchSize}
             FOR NO KEY UPDATE OF c SKIP LOCKED`,
    );
    if (rows.length === 0) return { picked: 0, notes: 0, events: 0 };
    const ids = uuidArray(rows.map((row) => row.id));
    await tx.execute(
      sql`UPDATE conversations
             SET wrap_up_summary = NULL, attributes = '{}'::jsonb, redacted_at = now()
           WHERE id = ANY(${ids})`,
    );
    const notes = await redactNotes(tx, sql`n.conversation_id = ANY(${ids})`);
    await tx.execute(
      sql`UPDATE offers SET original_text = NULL
           WHERE conversation_id = ANY(${ids}) AND original_text IS NOT NULL`,
    );
    await tx.execute(
      sql`UPDATE survey_responses SET comment = NULL
           WHERE conversation_id = ANY(${ids}) AND comment IS NOT NULL`,
    );
    const events = await redactEvents(tx, sql`e.conversation_id = ANY(${ids})`);
    return { picked: rows.length, notes, events };
  });
  counts.conversations += batch.picked;
  counts.notes += batch.notes;
  counts.events += batch.events;
  return batch.picked;
}

/**
 * The retention schedule: every minute each instance deletes the media bytes whose deletion
 * is due (media-deletions.ts), then tries to claim the run that is due (hourly); the one that
 * does runs it. Stopping cuts a run short between batches and makes it due again, for the
 * next instance to finish.
 */
export function startRetentionWorker(deps: RetentionDeps & { logger: FastifyBaseLogger }): Worker {
  let stopping = false;
  const loop = startLoopWorker({
    name: 'retention',
    intervalMs: 60_000,
    logger: deps.logger,
    tick: async () => {
      const media = await deleteDueMedia(deps.db, deps.mediaStore, new Date());
      if (media.deleted + media.kept + media.failed > 0) {
        deps.logger.info({ worker: 'retention', ...media }, 'retention deleted unnamed media');
      }
      if (!(await claimRetentionRun(deps.db, new Date()))) return false;
      const run = await runRetention(deps, new Date(), { shouldStop: () => stopping });
      if (run.interrupted) await releaseRetentionRun(deps.db);
      if (run.accounts.length > 0) {
        const { accounts: _, ...counts } = run;
        deps.logger.info({ worker: 'retention', ...counts }, 'retention redacted old messages');
      }
      return false;
    },
  });
  return {
    name: loop.name,
    stop: async () => {
      stopping = true;
      await loop.stop();
    },
  };
}
