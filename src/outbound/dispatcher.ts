import { setTimeout as delay } from 'node:timers/promises';
import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { describeTwilioError, type TwilioClient } from '../channels/twilio/client.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import { isRetryable, reasonFor } from '../channels/twilio/error-codes.js';
import { fromTwilioStatus, onlyQueued } from '../channels/twilio/message-status.js';
import { STATUS_CALLBACK_PATH } from '../channels/twilio/webhooks.js';
import { GroupCommit } from '../db/group-commit.js';
import { jsonRecords } from '../db/json-params.js';
import { PLANNED_EACH_TIME } from '../db/pglite-protocol.js';
import { messages, outbox } from '../db/schema.js';
import { type Db, type Executor, queryPrepared, queryRows, type Store } from '../db/store.js';
import { inTransaction, retryingConflicts } from '../db/transactions.js';
import { holderGone, type Instance } from '../instances.js';
import type { Metrics } from '../metrics.js';
import type { SecretBox } from '../secret-box.js';
import { type LoopWorker, startLoopWorker } from '../worker-loop.js';
import { signedMediaUrl } from './attachments.js';
import { advanceMessageStatus, applyHeldStatusReports } from './delivery-status.js';
import type { SenderWindows } from './sender-window.js';

export interface DispatcherDeps {
  db: Db;
  clients: TwilioClients;
  secretBox: SecretBox;
  publicUrl: string;
  logger: FastifyBaseLogger;
  /** First retry delay; each further one doubles, with jitter, up to 5 minutes. */
  retryBaseMs: number;
  windows: SenderWindows;
  /** How this store's dispatchers pace senders (pacingFor). */
  pacing: Pacing;
  /** Where sends that Twilio queued are settled, in groups (sentSettlements). */
  settlements: GroupCommit<SentMessage, boolean>;
  /** This process: its claims carry its id, and it sends only while it may act on them. */
  instance: Pick<Instance, 'id' | 'mayAct' | 'beat'>;
  /** Where each send's answer time and Twilio's errors are counted; absent: nowhere. */
  metrics?: Pick<Metrics, 'recordSend'>;
}

/** A claimed outbox row with what sending it needs. */
interface Claim {
  outboxId: string;
  messageId: string;
  sender: string;
  attempts: number;
  to: string;
  from: string;
  body: string;
  /** A content template sent in place of the body, and its placeholders' values. */
  contentSid: string | null;
  contentVariables: Record<string, string> | null;
  accountId: string;
  messagingServiceSid: string | null;
  /** When the sender's pacing slot for this message opens (epoch ms, this process's clock). */
  dueAt: number;
  segments: number;
  /** The sender's rate, in segments per second. */
  rate: number;
  /**
   * The sender's window is kept in the store, for every instance (sharedWindowBelowRate):
   * settling the send records its answer there.
   */
  sharedWindow: boolean;
  /** The recipient opted out of this sender since the message was queued. */
  optedOut: boolean;
  /** The message's attachments, in order. */
  mediaIds: string[];
  claimedAt: Date;
  /**
   * The row's claimed_at as this claim holds it (the database's text): a reconciler that
   * takes the row over, or a renewal, changes it.
   */
  lease: string;
  /** An earlier attempt's outcome is unknown since then (see outbox.uncertainSince). */
  uncertainSince: Date | null;
}

/** How far ahead of its pacing slot a message may be claimed (it is sent at the slot). */
const LOOKAHEAD_MS = 500;
/** Seconds a message holds its sender's slot: segments / rate, with the margin. */
function holdSeconds(segments: number, rate: number, pacing: Pacing): number {
  return (segments / rate) * pacing.margin;
}
/**
 * Below this rate (segments per second), when instances share the store, a sender's
 * one-second window is kept in the store rather than in each process (SenderWindows): a
 * send is claimed only while the sends in flight (claimed and unanswered, counted from
 * their claim) and those answered less than a second ago (senders.answered_until, written
 * by the same statement that settles the send, on the database's clock) leave room for its
 * segments. That is SenderWindows' proof across instances: a request reaches Twilio between
 * its claim and its answer. Two instances could otherwise each fill a slow sender's window:
 * for a long code, two sends in one second. Faster senders (short codes, WhatsApp) keep the
 * window in the process, where a shared one would be written a hundred times a second,
 * and leave the cross-instance case to the 2% margin of their booked slots.
 */
const SHARED_WINDOW_BELOW_RATE = 10;

/** How a store's dispatchers pace senders. */
export interface Pacing {
  /** Senders under this rate keep their one-second window in the store. */
  sharedWindowBelowRate: number;
  /**
   * Slots are booked this much under a sender's nominal rate: room for sends of two
   * instances to arrive a little out of their slots. Within an instance, SenderWindows
   * keeps every one-second window at Twilio's door at or under the rate whatever the delays.
   */
  margin: number;
}

/** Pacing where instances share the store (PostgreSQL). */
export const SHARED_PACING: Pacing = {
  sharedWindowBelowRate: SHARED_WINDOW_BELOW_RATE,
  margin: 1.02,
};

/**
 * The pacing of a store's dispatchers: the embedded one admits one instance, whose
 * SenderWindows see every send of every sender, so it keeps every window in the process
 * and books slots at the full rate.
 */
export function pacingFor(store: Pick<Store, 'kind'>): Pacing {
  return store.kind === 'pglite' ? { sharedWindowBelowRate: 0, margin: 1 } : SHARED_PACING;
}
const MAX_ATTEMPTS = 8;
/** Lateness that the pacing margin absorbs without moving the sender's next slot. */
const LATE_TOLERANCE_MS = 10;
/**
 * A row left `sending` this long is presumed abandoned by a dead process: a send takes at
 * most the Twilio client's 15 s timeout after its slot.
 */
export const SENDING_LEASE_MS = 20_000;

/** How many messages of one sender a claim may take at once. */
const MAX_BATCH = 50;

/** Segments of sender `s`'s sends in flight: claimed by a live holder and not settled. */
const IN_FLIGHT = sql`(SELECT coalesce(sum(coalesce(m.segments, 1)), 0) FROM outbox x
    JOIN messages m ON m.id = x.message_id
    WHERE x.sender = s.sender AND x.state = 'sending'
      AND NOT (x.claimed_by IS NOT NULL AND ${holderGone(sql`x.claimed_by`)}))`;
const LOOKAHEAD = sql`make_interval(secs => ${LOOKAHEAD_MS / 1000})`;
/**
 * Segments of sender `s` that Twilio answered less than a second before the lookahead's
 * end: a send claimed now goes at the latest then, and not before the others leave.
 */
const ANSWERED = sql`(SELECT count(*) FROM unnest(s.answered_until) u WHERE u > now() + ${LOOKAHEAD})`;

/**
 * For each sender `s`: its first due row (`first`, read from the sender's end of
 * outbox_sender_due_idx: a lateral subquery the planner cannot turn into a join over every
 * pending row of every sender) and what its shared window counts now (`w`; nothing for a
 * sender whose window is in the process). A send of a holder that died started before its
 * silence, seconds ago, so it no longer counts: the row itself waits for reconciliation
 * without holding up the customers behind it.
 */
function senderWindow(belowRate: number) {
  return sql`CROSS JOIN LATERAL (
      SELECT o.next_attempt_at AS due_at, coalesce(m.segments, 1) AS segments
      FROM outbox o JOIN messages m ON m.id = o.message_id
      WHERE o.sender = s.sender AND o.state = 'pending'
      ORDER BY o.next_attempt_at, o.created_at LIMIT 1) first
    CROSS JOIN LATERAL (
      SELECT CASE WHEN s.rate >= ${belowRate} THEN 0 ELSE ${IN_FLIGHT} END AS in_flight,
             CASE WHEN s.rate >= ${belowRate} THEN 0 ELSE ${ANSWERED} END AS answered) w`;
}

/**
 * Sender `s` (with senderWindow) may be claimed: its first row is due and fits its window
 * (a message of more segments than the rate goes alone, in an empty window). The claim and
 * the wait until the next claim use this one rule; were they to differ, the dispatcher
 * would spin on a sender it cannot take.
 */
const FITS = sql`w.in_flight + w.answered + least(first.segments, s.rate) <= s.rate`;

/**
 * Claims due messages of one sender whose pacing slots open within the lookahead, books
 * those slots (segments / rate seconds each) and marks the rows `sending`, in one
 * transaction. The sender's row lock makes the booking safe across instances; SKIP LOCKED
 * lets other dispatchers take other senders meanwhile. The sender chosen is the one whose
 * next slot comes first, so every sender stays busy.
 */
export async function claimOutbound(
  db: Db,
  instanceId: string,
  pacing = SHARED_PACING,
): Promise<Claim[]> {
  const belowRate = pacing.sharedWindowBelowRate;
  return inTransaction(db, async (tx) => {
    const [sender] = await queryPrepared<{
      sender: string;
      rate: number;
      start_ms: number;
      now_ms: number;
      lease: string;
    }>(
      tx,
      sql`${sql.raw(PLANNED_EACH_TIME)} SELECT s.sender, s.rate,
                 extract(epoch FROM greatest(s.next_at, now())) * 1000 AS start_ms,
                 extract(epoch FROM now()) * 1000 AS now_ms, now()::text AS lease
          FROM senders s ${senderWindow(belowRate)}
          WHERE s.next_at <= now() + ${LOOKAHEAD} AND first.due_at <= now() AND ${FITS}
          ORDER BY s.next_at
          LIMIT 1
          FOR UPDATE OF s SKIP LOCKED`,
    );
    if (!sender) return [];
    const sharedWindow = sender.rate < belowRate;
    // Read again under the sender's lock, in a new snapshot: a claim of another instance
    // that committed while this one waited is in it. Only claims add to the window, and
    // they all take this lock.
    let inFlight = 0;
    let answeredUntil: number[] = [];
    if (sharedWindow) {
      const [window] = await queryPrepared<{ in_flight: number; answered_until_ms: number[] }>(
        tx,
        sql`SELECT w.in_flight::float8 AS in_flight,
                   array(SELECT extract(epoch FROM u) * 1000 FROM unnest(s.answered_until) u
                         WHERE u > now() ORDER BY u)::float8[] AS answered_until_ms
            FROM senders s ${senderWindow(belowRate)} WHERE s.sender = ${sender.sender}`,
      );
      if (!window) return [];
      inFlight = window.in_flight;
      answeredUntil = window.answered_until_ms.map(Number);
    }
    const rows = await queryPrepared<{
      outbox_id: string;
      message_id: string;
      attempts: number;
      to_address: string;
      from_address: string;
      body: string;
      content_sid: string | null;
      content_variables: Record<string, string> | null;
      segments: number | null;
      account_id: string;
      messaging_service_sid: string | null;
      opted_out: boolean;
      media_ids: string[] | null;
      uncertain_since: Date | null;
    }>(
      tx,
      sql`SELECT o.id AS outbox_id, o.message_id, o.attempts, o.uncertain_since, m.to_address, m.from_address,
                 m.body, m.content_sid, m.content_variables, m.segments, n.account_id,
                 n.messaging_service_sid,
                 EXISTS (SELECT 1 FROM consents c JOIN contacts k ON k.id = c.contact_id
                         WHERE k.address = m.to_address AND c.sender = o.sender AND c.opted_out)
                   AS opted_out,
                 (SELECT array_agg(x.id ORDER BY x.position) FROM media x WHERE x.message_id = m.id)
                   AS media_ids
          FROM outbox o
          JOIN messages m ON m.id = o.message_id
          JOIN numbers n ON n.id = m.number_id
          WHERE o.sender = ${sender.sender} AND o.state = 'pending' AND o.next_attempt_at <= now()
          ORDER BY o.next_attempt_at, o.created_at
          LIMIT ${MAX_BATCH}
          FOR UPDATE OF o SKIP LOCKED`,
    );
    // Slots follow one another from the sender's next free moment; take those that open
    // within the lookahead (always at least the first) and fit the shared window, if any.
    const nowMs = Number(sender.now_ms);
    const horizon = nowMs + LOOKAHEAD_MS;
    let slot = Number(sender.start_ms);
    const claims: Claim[] = [];
    for (const row of rows) {
      const segments = row.segments ?? 1;
      if (sharedWindow) {
        // Each send claimed counts as in flight; it goes once enough answers have left.
        const room = sender.rate - inFlight - Math.min(segments, sender.rate);
        if (room < 0) break;
        const leaving = answeredUntil.length - Math.floor(room);
        if (leaving > 0) slot = Math.max(slot, answeredUntil[leaving - 1]!);
        inFlight += segments;
      }
      if (claims.length > 0 && slot > horizon) break;
      claims.push({
        outboxId: row.outbox_id,
        messageId: row.message_id,
        sender: sender.sender,
        attempts: row.attempts + 1,
        to: row.to_address,
        from: row.from_address,
        body: row.body,
        contentSid: row.content_sid,
        contentVariables: row.content_variables,
        accountId: row.account_id,
        messagingServiceSid: row.messaging_service_sid,
        // Slots are epoch times on the database's clock; the hosts' clocks are NTP-synced,
        // and converting through "time left" would add the transaction's own delay instead.
        dueAt: slot,
        segments,
        rate: sender.rate,
        sharedWindow,
        optedOut: row.opted_out,
        mediaIds: row.media_ids ?? [],
        claimedAt: new Date(nowMs),
        // The booking below sets claimed_at to now(), the same in the whole transaction.
        lease: sender.lease,
        uncertainSince: row.uncertain_since && new Date(row.uncertain_since),
      });
      slot += holdSeconds(segments, sender.rate, pacing) * 1000;
    }
    if (claims.length === 0) return [];
    const ids = claims.map((c) => c.outboxId);
    await tx.execute(
      sql`WITH booked AS (
            UPDATE senders SET next_at = to_timestamp(${slot / 1000}) WHERE sender = ${sender.sender})
          UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_at = now(),
                            claimed_by = ${instanceId}
          WHERE id IN (${sql.join(
            ids.map((id) => sql`${id}`),
            sql`, `,
          )})`,
    );
    return claims;
  });
}

/**
 * Hands a claimed message to Twilio at its pacing slot and records the outcome: the SID as
 * soon as Twilio returns it; a retry with backoff for 429, 5xx and network errors; a
 * readable failure at once for what Twilio rejected for good.
 */
export async function sendClaimed(deps: DispatcherDeps, claim: Claim): Promise<void> {
  if (claim.optedOut) {
    await finish(deps.db, claim, {
      failed: { code: 21610, message: reasonFor(21610, 'opted out') },
    });
    return;
  }
  let client: TwilioClient;
  try {
    client = await deps.clients.forAccount(claim.accountId);
  } catch (error) {
    deps.logger.error({ err: error, accountId: claim.accountId }, 'no Twilio client for account');
    await retryLater(deps, claim, 'the Twilio account credentials cannot be read');
    return;
  }
  // Everything slow is done: now wait for the slot, so the send itself is on time.
  const wait = claim.dueAt - Date.now();
  if (wait > 0) await delay(wait);
  // Sent late (a busy store or event loop): the sender's next slot counts from now, so a
  // punctual next message cannot follow this one closer than the rate allows. Booked while
  // the send goes, not before it: waiting for a busy store here made every late send later
  // still, and a backlog of them late by seconds.
  const pushing = wait < -LATE_TOLERANCE_MS ? pushNextSlot(deps, claim) : undefined;
  try {
    await sendNow(deps, claim, client);
  } finally {
    await pushing;
  }
}

async function pushNextSlot(deps: DispatcherDeps, claim: Claim): Promise<void> {
  try {
    await deps.db.execute(
      sql`UPDATE senders SET next_at = greatest(next_at, clock_timestamp() + make_interval(secs => ${holdSeconds(claim.segments, claim.rate, deps.pacing)}))
          WHERE sender = ${claim.sender}`,
    );
  } catch (error) {
    deps.logger.error(
      { err: error, sender: claim.sender },
      'could not move a late sender’s next slot',
    );
  }
}

/** The send itself, at its slot, and its outcome. */
async function sendNow(deps: DispatcherDeps, claim: Claim, client: TwilioClient): Promise<void> {
  if (!deps.instance.mayAct() && !(await reclaim(deps, claim))) {
    // Others counted this process as dead and took the message over.
    deps.logger.warn(
      { messageId: claim.messageId },
      'not sending: this instance lost touch with the database; another took the message over',
    );
    return;
  }
  if (claim.uncertainSince) {
    // An earlier attempt may have reached Twilio although no answer came back.
    let earlier: { sid: string; status: string } | undefined;
    try {
      earlier = await findOnTwilio(deps.db, client, {
        ...claim,
        claimedAt: claim.uncertainSince,
      });
    } catch (error) {
      const failure = describeTwilioError(error);
      deps.logger.warn(
        { messageId: claim.messageId, status: failure.status, code: failure.code },
        'could not look up an earlier send on Twilio; will retry',
      );
      await retryLater(deps, claim, failure.message, { uncertain: true });
      return;
    }
    if (earlier) {
      await finish(deps.db, claim, earlier);
      deps.logger.info(
        { messageId: claim.messageId, sid: earlier.sid },
        'an earlier send reached Twilio although its answer was lost; not sending again',
      );
      return;
    }
  }
  // Timers that a busy event loop fired late fire together: the window spaces them again.
  const answered = await deps.windows.start(claim.sender, claim.segments, claim.rate);
  // The window holds sends a little longer than the booked slots assume (each answer's
  // latency), so claims gain on sends. For a sender slow enough that the sends in flight
  // (MAX_IN_FLIGHT) would not bound its queue here to half a lease, a send that starts a
  // lookahead after its slot moves the next slot to count from now: claims then stay about
  // a lookahead ahead of the sends, instead of queueing them until their lease runs out.
  // Not at every small delay: spacing a burst the window allows would cost the rate, and a
  // statement per send the embedded store's throughput.
  const outruns = claim.rate * (SENDING_LEASE_MS / 2 / 1000) < MAX_IN_FLIGHT;
  const pushing =
    outruns && Date.now() - claim.dueAt > LOOKAHEAD_MS ? pushNextSlot(deps, claim) : undefined;
  try {
    // Held for half its lease: renewed before it goes, or not sent if a reconciler took the
    // row meanwhile (it may send it again).
    if (Date.now() - claim.claimedAt.getTime() > SENDING_LEASE_MS / 2) {
      if (!(await renewLease(deps, claim))) {
        answered();
        deps.logger.warn(
          { messageId: claim.messageId },
          'not sending: the message waited past its lease and was taken over',
        );
        return;
      }
    }
    await sendWithin(deps, claim, client, answered);
  } finally {
    await pushing;
  }
}

/** The request to Twilio, within the window's count (`answered`), and its outcome. */
async function sendWithin(
  deps: DispatcherDeps,
  claim: Claim,
  client: TwilioClient,
  answered: () => void,
): Promise<void> {
  try {
    const created = await timed(deps, claim.sender, () =>
      client.messages
        .create({
          to: claim.to,
          // A template's text is Twilio's to render from its SID and values.
          ...(claim.contentSid
            ? {
                contentSid: claim.contentSid,
                contentVariables: JSON.stringify(claim.contentVariables ?? {}),
              }
            : { body: claim.body }),
          ...(claim.mediaIds.length > 0 && {
            mediaUrl: claim.mediaIds.map((id) =>
              signedMediaUrl(deps.secretBox, deps.publicUrl, id),
            ),
          }),
          statusCallback: `${deps.publicUrl}${STATUS_CALLBACK_PATH}`,
          ...(claim.messagingServiceSid
            ? { messagingServiceSid: claim.messagingServiceSid }
            : { from: claim.from }),
        })
        .finally(answered),
    );
    if (!claim.sharedWindow && onlyQueued(created.status)) {
      await deps.settlements.submit({ claim, sid: created.sid });
    } else {
      await finish(deps.db, claim, { sid: created.sid, status: created.status });
    }
  } catch (error) {
    const failure = describeTwilioError(error);
    if (isRetryable(failure) && claim.attempts < MAX_ATTEMPTS) {
      // A 5xx or no answer at all does not say the message was not created: Twilio's
      // Messages API is not idempotent, so the next attempt looks for it first.
      const uncertain = failure.status === null || failure.status >= 500;
      deps.logger.warn(
        {
          messageId: claim.messageId,
          attempt: claim.attempts,
          status: failure.status,
          code: failure.code,
          uncertain,
        },
        'send failed; will retry',
      );
      await retryLater(deps, claim, failure.message, { uncertain });
    } else {
      await finish(deps.db, claim, {
        failed: { code: failure.code, message: reasonFor(failure.code, failure.message) },
        uncertain: failure.status === null || failure.status >= 500,
      });
    }
  }
}

/** A request to Twilio, its answer time (and error, if any) counted for the sender. */
async function timed<T>(deps: DispatcherDeps, sender: string, request: () => Promise<T>) {
  const startedAt = performance.now();
  const seconds = () => (performance.now() - startedAt) / 1000;
  try {
    const answer = await request();
    deps.metrics?.recordSend(sender, seconds());
    return answer;
  } catch (error) {
    deps.metrics?.recordSend(sender, seconds(), describeTwilioError(error));
    throw error;
  }
}

/**
 * After this process fell silent for long enough to count as dead: beats again, then
 * renews the claim's lease if the claim is still its own (a reconciler that took it over
 * after the lease has put its own id there). True when it may send now; the renewed lease
 * keeps a stalled but live sender's row from being reconciled while it sends.
 */
async function reclaim(deps: DispatcherDeps, claim: Claim): Promise<boolean> {
  try {
    await deps.instance.beat();
  } catch {
    return false;
  }
  return (await renewLease(deps, claim)) && deps.instance.mayAct();
}

/**
 * Renews the claim's lease while the row is still `sending` under it and held by this
 * process (a reconciler taking it over, this process's own included, changes claimed_at);
 * true when renewed. The row then outlasts the send's own timeout before anyone may
 * reconcile it.
 */
async function renewLease(deps: DispatcherDeps, claim: Claim): Promise<boolean> {
  const [renewed] = await queryRows<{ lease: string }>(
    deps.db,
    sql`UPDATE outbox SET claimed_at = now()
        WHERE id = ${claim.outboxId} AND state = 'sending' AND claimed_by = ${deps.instance.id}
          AND claimed_at = ${claim.lease}::timestamptz
        RETURNING claimed_at::text AS lease`,
  );
  if (!renewed) return false;
  claim.lease = renewed.lease;
  return true;
}

/**
 * Records a send's outcome. A reconciler passes the lease it took (`takenAt`), so that a row
 * another instance has settled or taken since is left alone; returns whether it was ours.
 */
async function finish(
  db: Db,
  claim: Claim,
  outcome:
    | { sid: string; status: string }
    | {
        failed: { code: number | null; message: string };
        /** Twilio gave no clear answer: the message may have reached it. */
        uncertain?: boolean;
      },
  takenAt?: string,
): Promise<boolean> {
  if ('sid' in outcome) {
    // The common case, Twilio having queued it, is one statement: on the embedded store
    // each statement (BEGIN and COMMIT too) costs a protocol exchange.
    if (onlyQueued(outcome.status)) return recordSent(db, claim, outcome.sid, takenAt);
    return inTransaction(db, async (tx) => {
      if (!(await recordSent(tx, claim, outcome.sid, takenAt))) return false;
      await advanceMessageStatus(tx, claim.messageId, {
        status: fromTwilioStatus(outcome.status)!,
      });
      return true;
    });
  }
  return inTransaction(db, async (tx) => {
    const [settled] = await tx
      .update(outbox)
      .set({ state: 'failed', lastError: outcome.failed.message })
      .where(settleable(claim, takenAt))
      .returning({ id: outbox.id });
    if (!settled) return false;
    if (outcome.uncertain && claim.sharedWindow) {
      await tx.execute(sql`WITH done AS (SELECT 1) ${countInWindow(claim, sql.raw('done'))}`);
    }
    await advanceMessageStatus(tx, claim.messageId, {
      status: 'failed',
      errorCode: outcome.failed.code,
      errorMessage: outcome.failed.message,
    });
    return true;
  });
}

/** A send that Twilio queued: its row to settle and the SID to store. */
export interface SentMessage {
  claim: Claim;
  sid: string;
}

/**
 * Settles of sends, in groups (see db/group-commit.ts): a short code's answers come a
 * hundred a second, and a statement each kept the embedded store's one thread so busy that
 * answers waited for it, and a window counted from answers filled slowly. A send whose
 * window is shared also records its answer in the sender's row, so it keeps its own
 * statement (recordSent).
 */
export function sentSettlements(db: Db): GroupCommit<SentMessage, boolean> {
  return new GroupCommit({
    maxBatch: 100,
    maxInFlight: 2,
    commit: (batch) => retryingConflicts(() => settleSent(db, batch)),
    alone: (sent) => recordSent(db, sent.claim, sent.sid, undefined),
  });
}

/** Settles the rows still `sending` as done and stores their SIDs, in one statement. */
async function settleSent(
  db: Db,
  batch: readonly SentMessage[],
): Promise<Map<SentMessage, boolean>> {
  const entries = batch.map(({ claim, sid }) => ({
    outbox_id: claim.outboxId,
    message_id: claim.messageId,
    sid,
  }));
  const settled = await queryRows<{ id: string }>(
    db,
    sql`WITH sent AS (
          SELECT * FROM ${jsonRecords(entries, 'outbox_id uuid, message_id uuid, sid text')} AS s),
        settled AS (
          UPDATE outbox o SET state = 'done', last_error = NULL
          FROM sent s WHERE o.id = s.outbox_id AND o.state = 'sending'
          RETURNING o.id),
        named AS (
          UPDATE messages m SET twilio_sid = s.sid
          FROM sent s JOIN settled d ON d.id = s.outbox_id
          WHERE m.id = s.message_id)
        SELECT id FROM settled`,
  );
  const done = new Set(settled.map((row) => row.id));
  return new Map(batch.map((sent) => [sent, done.has(sent.claim.outboxId)]));
}

/** The claim's outbox row, while it is still `sending` under the lease `takenAt`, if given. */
function settleable(claim: Claim, takenAt: string | undefined) {
  return and(
    eq(outbox.id, claim.outboxId),
    eq(outbox.state, 'sending'),
    takenAt === undefined ? undefined : sql`${outbox.claimedAt} = ${takenAt}::timestamptz`,
  );
}

/**
 * Settles the row as done and stores the message's SID, in one statement; for a sender
 * whose window is shared, the answer also counts in its window for a second from now (the
 * answer came before this statement: the window can only be longer than Twilio's).
 */
async function recordSent(
  db: Executor,
  claim: Claim,
  sid: string,
  takenAt: string | undefined,
): Promise<boolean> {
  const [row] = await queryRows<{ settled: boolean }>(
    db,
    sql`WITH settled AS (
          UPDATE outbox SET state = 'done', last_error = NULL
          WHERE ${settleable(claim, takenAt)}
          RETURNING id),
        counted AS (${countInWindow(claim, sql.raw('settled'))}),
        named AS (
          UPDATE messages SET twilio_sid = ${sid}
          WHERE id = ${claim.messageId} AND EXISTS (SELECT 1 FROM settled))
        SELECT EXISTS (SELECT 1 FROM settled) AS settled`,
  );
  return row!.settled;
}

/**
 * SQL: counts the claim's segments in its sender's shared window (if it has one) for a
 * second from now, when the CTE `done` holds a row: the claim's row left `sending` in it.
 */
function countInWindow(claim: Claim, done: SQL): SQL {
  return sql`UPDATE senders
    SET answered_until = array(SELECT u FROM unnest(answered_until) u WHERE u > now())
                         || array_fill(now() + interval '1 second', ARRAY[${claim.segments}::int])
    WHERE sender = ${claim.sender} AND ${claim.sharedWindow} AND EXISTS (SELECT 1 FROM ${done})`;
}

async function retryLater(
  deps: DispatcherDeps,
  claim: Claim,
  error: string,
  options: { uncertain?: boolean } = {},
): Promise<void> {
  // Exponential backoff with jitter: base, 2 × base, 4 × base … capped at 5 minutes.
  const backoffMs =
    Math.min(300_000, deps.retryBaseMs * 2 ** (claim.attempts - 1)) * (0.5 + Math.random());
  const uncertain = options.uncertain === true;
  // Only while the row is still this send's: one a reconciler took or settled is left
  // alone. An attempt whose outcome is unknown may have reached Twilio: it counts in the
  // sender's window like an answered one.
  await deps.db.execute(
    sql`WITH retried AS (
          UPDATE outbox
          SET state = 'pending', next_attempt_at = ${new Date(Date.now() + backoffMs).toISOString()}::timestamptz,
              last_error = ${error},
              -- The first unanswered attempt's claim bounds where on Twilio to look.
              uncertain_since = CASE WHEN ${uncertain}
                THEN coalesce(uncertain_since, ${claim.claimedAt.toISOString()}::timestamptz)
                ELSE uncertain_since END
          WHERE id = ${claim.outboxId} AND state = 'sending' AND claimed_by = ${deps.instance.id}
          RETURNING id),
        counted AS (${countInWindow({ ...claim, sharedWindow: claim.sharedWindow && uncertain }, sql.raw('retried'))})
        SELECT count(*) FROM retried`,
  );
}

/**
 * Settles rows left `sending` past the lease by a process that died mid-send. Twilio's
 * Messages API is not idempotent, so each is looked up on Twilio first — by recipient,
 * sender and time — and only resent when Twilio has no such message. The lease outlasts
 * the client's timeout, so a request still travelling when its sender died has landed (or
 * never will) before the row is looked up; this holds for the embedded store too. (The
 * holder's silence cannot shorten this: a slow Twilio may record a request seconds after
 * the process that sent it died, and a lookup before then would send it twice.)
 */
export async function reconcileSending(deps: DispatcherDeps): Promise<number> {
  // Taking a stale row renews its lease for this reconciler, in one statement: another
  // instance reconciling at the same moment skips it, and the row is only settled or resent
  // while it is still the one taken (a row reset twice could be sent twice).
  const stale = await queryRows<{
    outbox_id: string;
    message_id: string;
    sender: string;
    attempts: number;
    to_address: string;
    from_address: string;
    body: string;
    content_sid: string | null;
    content_variables: Record<string, string> | null;
    account_id: string;
    messaging_service_sid: string | null;
    sent_claimed_at: Date;
    taken_at: string;
  }>(
    deps.db,
    sql`WITH taken AS (
          UPDATE outbox o SET claimed_at = now(), claimed_by = ${deps.instance.id}
          FROM (SELECT id, claimed_at FROM outbox
                WHERE state = 'sending'
                  AND claimed_at < now() - make_interval(secs => ${SENDING_LEASE_MS / 1000})
                FOR UPDATE SKIP LOCKED) old
          WHERE o.id = old.id
          RETURNING o.id, o.message_id, o.sender, o.attempts, old.claimed_at AS sent_claimed_at,
                    o.claimed_at::text AS taken_at)
        SELECT t.id AS outbox_id, t.message_id, t.sender, t.attempts, m.to_address,
               m.from_address, m.body, m.content_sid, m.content_variables, n.account_id,
               n.messaging_service_sid,
               t.sent_claimed_at, t.taken_at
        FROM taken t
        JOIN messages m ON m.id = t.message_id
        JOIN numbers n ON n.id = m.number_id`,
  );
  for (const row of stale) {
    const claim: Claim = {
      outboxId: row.outbox_id,
      messageId: row.message_id,
      sender: row.sender,
      attempts: row.attempts,
      to: row.to_address,
      from: row.from_address,
      body: row.body,
      contentSid: row.content_sid,
      contentVariables: row.content_variables,
      accountId: row.account_id,
      messagingServiceSid: row.messaging_service_sid,
      dueAt: Date.now(),
      segments: 1,
      rate: 1,
      sharedWindow: false,
      optedOut: false,
      mediaIds: [],
      claimedAt: new Date(row.sent_claimed_at),
      lease: row.taken_at,
      uncertainSince: null,
    };
    const client = await deps.clients.forAccount(claim.accountId);
    const found = await findOnTwilio(deps.db, client, claim);
    if (found) {
      if (await finish(deps.db, claim, found, row.taken_at)) {
        deps.logger.info(
          { messageId: claim.messageId, sid: found.sid },
          'reconciled: Twilio has the message',
        );
      }
    } else {
      await deps.db
        .update(outbox)
        .set({ state: 'pending', nextAttemptAt: new Date() })
        .where(
          and(
            eq(outbox.id, claim.outboxId),
            eq(outbox.state, 'sending'),
            sql`${outbox.claimedAt} = ${row.taken_at}::timestamptz`,
          ),
        );
    }
  }
  return stale.length;
}

async function findOnTwilio(
  db: Db,
  client: TwilioClient,
  claim: Claim,
): Promise<{ sid: string; status: string } | undefined> {
  const since = claim.claimedAt.getTime() - 60_000;
  const candidates = await client.messages.list({
    to: claim.to,
    ...(claim.messagingServiceSid ? {} : { from: claim.from }),
    limit: 100,
  });
  // A template's text is Twilio's rendering for the channel, which Parley's copy may not
  // match word for word: its SID, recipient and time must do.
  const matching = candidates.filter(
    (m) =>
      (claim.contentSid !== null || m.body === claim.body) &&
      (m.dateCreated?.getTime() ?? 0) >= since &&
      (!claim.messagingServiceSid || m.messagingServiceSid === claim.messagingServiceSid),
  );
  // Oldest first, skipping SIDs another of our messages (same text, same customer) owns.
  for (const candidate of matching.reverse()) {
    const [owned] = await db
      .select({ id: messages.id })
      .from(messages)
      .where(eq(messages.twilioSid, candidate.sid));
    if (!owned) return { sid: candidate.sid, status: candidate.status };
  }
  return undefined;
}

/**
 * Milliseconds until a sender's first message may be claimed, if any is waiting: when it
 * comes due (a retry's backoff), its sender's next slot less the lookahead, and for a full
 * shared window, until all but the answers that leave room for it are within the lookahead
 * of leaving (with a send in flight, its answer wakes the dispatcher).
 */
export async function msUntilNextSlot(db: Db, pacing = SHARED_PACING): Promise<boolean | number> {
  const belowRate = pacing.sharedWindowBelowRate;
  const [row] = await queryRows<{ wait_ms: number | null }>(
    db,
    sql`${sql.raw(PLANNED_EACH_TIME)} SELECT (extract(epoch FROM min(greatest(first.due_at, s.next_at - ${LOOKAHEAD}, room.at))
                 - now()) * 1000)::float8 AS wait_ms
        FROM senders s ${senderWindow(belowRate)}
        CROSS JOIN LATERAL (
          SELECT CASE
            WHEN ${FITS} THEN now()
            WHEN w.in_flight > 0 THEN NULL
            ELSE (SELECT u - ${LOOKAHEAD} FROM unnest(s.answered_until) u WHERE u > now()
                  ORDER BY u DESC OFFSET floor(s.rate - least(first.segments, s.rate))::int
                  LIMIT 1)
          END AS at) room
        WHERE room.at IS NOT NULL`,
  );
  return row?.wait_ms === null || row?.wait_ms === undefined ? false : Number(row.wait_ms);
}

/** How many sends one instance keeps in flight, across all senders. */
const MAX_IN_FLIGHT = 256;
/**
 * How often status callbacks held for a SID not yet stored (see holdStatusReport) are
 * applied, once this instance's settle, another's, or reconciliation has stored it.
 */
const APPLY_HELD_EVERY_MS = 1_000;
/** Rows qualify only after the 20 s lease, so looking more often gains little. */
const RECONCILE_EVERY_MS = 5_000;

/**
 * The outbox dispatcher of one instance: keeps up to MAX_IN_FLIGHT sends going, each at its
 * sender's pacing slot, so a backlog on one long code never holds up another sender.
 */
export function startOutboxDispatcher(
  deps: DispatcherDeps,
  options: { pollMs?: number } = {},
): LoopWorker {
  const inFlight = new Set<Promise<void>>();
  let reconciledAt = 0;
  let heldAppliedAt = 0;
  const worker = startLoopWorker({
    name: 'outbox-dispatcher',
    intervalMs: options.pollMs ?? 100,
    logger: deps.logger,
    tick: async () => {
      if (Date.now() - reconciledAt > RECONCILE_EVERY_MS) {
        reconciledAt = Date.now();
        await reconcileSending(deps);
      }
      if (Date.now() - heldAppliedAt > APPLY_HELD_EVERY_MS) {
        heldAppliedAt = Date.now();
        await applyHeldStatusReports(deps.db);
      }
      while (inFlight.size < MAX_IN_FLIGHT) {
        const claims = await claimOutbound(deps.db, deps.instance.id, deps.pacing);
        if (claims.length === 0) return msUntilNextSlot(deps.db, deps.pacing);
        for (const claim of claims) startSending(claim);
      }
      return false;
    },
  });
  function startSending(claim: Claim) {
    const sending: Promise<void> = sendClaimed(deps, claim)
      .catch((error: unknown) =>
        deps.logger.error({ err: error, messageId: claim.messageId }, 'dispatch failed'),
      )
      .finally(() => {
        inFlight.delete(sending);
        worker.wake();
      });
    inFlight.add(sending);
  }
  return {
    ...worker,
    stop: async () => {
      await worker.stop();
      await Promise.all(inFlight);
    },
  };
}
