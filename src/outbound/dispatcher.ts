import { setTimeout as delay } from 'node:timers/promises';
import { eq, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { STATUS_CALLBACK_PATH } from '../admin/numbers.js';
import type { SecretBox } from '../admin/secret-box.js';
import { describeTwilioError, type TwilioClient } from '../channels/twilio/client.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import { isRetryable, reasonFor } from '../channels/twilio/error-codes.js';
import { isOptedOut } from '../consent/consent.js';
import { media, messages, outbox } from '../db/schema.js';
import { type Db, queryRows } from '../db/store.js';
import { type LoopWorker, startLoopWorker } from '../worker-loop.js';
import { signedMediaUrl } from './attachments.js';
import { advanceMessageStatus, fromTwilioStatus } from './delivery-status.js';

export interface DispatcherDeps {
  db: Db;
  clients: TwilioClients;
  secretBox: SecretBox;
  publicUrl: string;
  logger: FastifyBaseLogger;
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
  accountId: string;
  messagingServiceSid: string | null;
  /** How long until the sender's pacing slot for this message opens. */
  waitMs: number;
  claimedAt: Date;
}

/** How far ahead of its pacing slot a message may be claimed (it is sent at the slot). */
const LOOKAHEAD_MS = 500;
const MAX_ATTEMPTS = 8;
/** A row left `sending` this long by a live instance is presumed abandoned. */
export const SENDING_LEASE_MS = 60_000;

/**
 * Claims the next due message whose sender has a pacing slot within the lookahead, books
 * that slot (segments / rate seconds) and marks the row `sending`, in one transaction. The
 * sender's row lock makes the slot booking safe across instances; SKIP LOCKED lets other
 * dispatchers move on to other senders meanwhile.
 */
export async function claimNextOutbound(db: Db): Promise<Claim | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await queryRows<{
      outbox_id: string;
      message_id: string;
      sender: string;
      attempts: number;
      to_address: string;
      from_address: string;
      body: string;
      segments: number | null;
      account_id: string;
      messaging_service_sid: string | null;
      rate: number;
      wait_ms: number;
      claimed_at: Date;
    }>(
      tx,
      sql`SELECT o.id AS outbox_id, o.message_id, o.sender, o.attempts, m.to_address,
                 m.from_address, m.body, m.segments, n.account_id, n.messaging_service_sid,
                 s.rate,
                 greatest(0, extract(epoch FROM (s.next_at - now())) * 1000)::float8 AS wait_ms,
                 now() AS claimed_at
          FROM outbox o
          JOIN senders s ON s.sender = o.sender
          JOIN messages m ON m.id = o.message_id
          JOIN numbers n ON n.id = m.number_id
          WHERE o.state = 'pending' AND o.next_attempt_at <= now()
            AND s.next_at <= now() + make_interval(secs => ${LOOKAHEAD_MS / 1000})
          ORDER BY o.next_attempt_at, o.created_at
          LIMIT 1
          FOR UPDATE OF o, s SKIP LOCKED`,
    );
    if (!row) return undefined;
    const holdSeconds = (row.segments ?? 1) / row.rate;
    await tx.execute(
      sql`UPDATE senders SET next_at = greatest(next_at, now()) + make_interval(secs => ${holdSeconds})
          WHERE sender = ${row.sender}`,
    );
    await tx
      .update(outbox)
      .set({ state: 'sending', attempts: row.attempts + 1, claimedAt: new Date(row.claimed_at) })
      .where(eq(outbox.id, row.outbox_id));
    return {
      outboxId: row.outbox_id,
      messageId: row.message_id,
      sender: row.sender,
      attempts: row.attempts + 1,
      to: row.to_address,
      from: row.from_address,
      body: row.body,
      accountId: row.account_id,
      messagingServiceSid: row.messaging_service_sid,
      waitMs: Number(row.wait_ms),
      claimedAt: new Date(row.claimed_at),
    };
  });
}

/**
 * Hands a claimed message to Twilio at its pacing slot and records the outcome: the SID as
 * soon as Twilio returns it; a retry with backoff for 429, 5xx and network errors; a
 * readable failure at once for what Twilio rejected for good.
 */
export async function sendClaimed(deps: DispatcherDeps, claim: Claim): Promise<void> {
  if (await isOptedOut(deps.db, claim.to, claim.sender)) {
    await finish(deps.db, claim, {
      failed: { code: 21610, message: reasonFor(21610, 'opted out') },
    });
    return;
  }
  if (claim.waitMs > 0) await delay(claim.waitMs);
  let client: TwilioClient;
  try {
    client = await deps.clients.forAccount(claim.accountId);
  } catch (error) {
    deps.logger.error({ err: error, accountId: claim.accountId }, 'no Twilio client for account');
    await retryLater(deps.db, claim, 'the Twilio account credentials cannot be read');
    return;
  }
  const attachments = await deps.db
    .select({ id: media.id })
    .from(media)
    .where(eq(media.messageId, claim.messageId))
    .orderBy(media.position);
  try {
    const created = await client.messages.create({
      to: claim.to,
      body: claim.body,
      ...(attachments.length > 0 && {
        mediaUrl: attachments.map((a) => signedMediaUrl(deps.secretBox, deps.publicUrl, a.id)),
      }),
      statusCallback: `${deps.publicUrl}${STATUS_CALLBACK_PATH}`,
      ...(claim.messagingServiceSid
        ? { messagingServiceSid: claim.messagingServiceSid }
        : { from: claim.from }),
    });
    await finish(deps.db, claim, { sid: created.sid, status: created.status });
  } catch (error) {
    const failure = describeTwilioError(error);
    if (isRetryable(failure) && claim.attempts < MAX_ATTEMPTS) {
      deps.logger.warn(
        {
          messageId: claim.messageId,
          attempt: claim.attempts,
          status: failure.status,
          code: failure.code,
        },
        'send failed; will retry',
      );
      await retryLater(deps.db, claim, failure.message);
    } else {
      await finish(deps.db, claim, {
        failed: { code: failure.code, message: reasonFor(failure.code, failure.message) },
      });
    }
  }
}

async function finish(
  db: Db,
  claim: Claim,
  outcome: { sid: string; status: string } | { failed: { code: number | null; message: string } },
): Promise<void> {
  await db.transaction(async (tx) => {
    if ('sid' in outcome) {
      await tx
        .update(messages)
        .set({ twilioSid: outcome.sid })
        .where(eq(messages.id, claim.messageId));
      await tx
        .update(outbox)
        .set({ state: 'done', lastError: null })
        .where(eq(outbox.id, claim.outboxId));
      const status = fromTwilioStatus(outcome.status);
      if (status && status !== 'queued')
        await advanceMessageStatus(tx, claim.messageId, { status });
    } else {
      await tx
        .update(outbox)
        .set({ state: 'failed', lastError: outcome.failed.message })
        .where(eq(outbox.id, claim.outboxId));
      await advanceMessageStatus(tx, claim.messageId, {
        status: 'failed',
        errorCode: outcome.failed.code,
        errorMessage: outcome.failed.message,
      });
    }
  });
}

async function retryLater(db: Db, claim: Claim, error: string): Promise<void> {
  // Exponential backoff with full jitter: 1 s, 2 s, 4 s … capped at 5 minutes.
  const backoffMs = Math.min(300_000, 1000 * 2 ** (claim.attempts - 1)) * (0.5 + Math.random());
  await db
    .update(outbox)
    .set({ state: 'pending', nextAttemptAt: new Date(Date.now() + backoffMs), lastError: error })
    .where(eq(outbox.id, claim.outboxId));
}

/**
 * Settles rows left `sending` by a process that died mid-send (all of them when `all`, for
 * an embedded store this process owns; else those past the lease). Twilio's Messages API is
 * not idempotent, so each is looked up on Twilio first — by recipient, sender and time —
 * and only resent when Twilio has no such message.
 */
export async function reconcileSending(deps: DispatcherDeps, all: boolean): Promise<number> {
  const stale = await queryRows<{
    outbox_id: string;
    message_id: string;
    sender: string;
    attempts: number;
    to_address: string;
    from_address: string;
    body: string;
    account_id: string;
    messaging_service_sid: string | null;
    claimed_at: Date;
  }>(
    deps.db,
    sql`SELECT o.id AS outbox_id, o.message_id, o.sender, o.attempts, m.to_address,
               m.from_address, m.body, n.account_id, n.messaging_service_sid, o.claimed_at
        FROM outbox o
        JOIN messages m ON m.id = o.message_id
        JOIN numbers n ON n.id = m.number_id
        WHERE o.state = 'sending'
          ${all ? sql`` : sql`AND o.claimed_at < now() - make_interval(secs => ${SENDING_LEASE_MS / 1000})`}`,
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
      accountId: row.account_id,
      messagingServiceSid: row.messaging_service_sid,
      waitMs: 0,
      claimedAt: new Date(row.claimed_at),
    };
    const client = await deps.clients.forAccount(claim.accountId);
    const found = await findOnTwilio(deps.db, client, claim);
    if (found) {
      deps.logger.info(
        { messageId: claim.messageId, sid: found.sid },
        'reconciled: Twilio has the message',
      );
      await finish(deps.db, claim, found);
    } else {
      await deps.db
        .update(outbox)
        .set({ state: 'pending', nextAttemptAt: new Date() })
        .where(eq(outbox.id, claim.outboxId));
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
  const matching = candidates.filter(
    (m) =>
      m.body === claim.body &&
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

/** How many sends one instance keeps in flight, across all senders. */
const MAX_IN_FLIGHT = 64;
const RECONCILE_EVERY_MS = 30_000;

/**
 * The outbox dispatcher of one instance: keeps up to MAX_IN_FLIGHT sends going, each at its
 * sender's pacing slot, so a backlog on one long code never holds up another sender.
 * `ownsStore`: the embedded store belongs to this process alone, so every row left
 * `sending` at start is an orphan of a previous run and is reconciled at once.
 */
export function startOutboxDispatcher(
  deps: DispatcherDeps,
  options: { ownsStore: boolean; pollMs?: number },
): LoopWorker {
  const inFlight = new Set<Promise<void>>();
  let reconciledAt = 0;
  let firstReconcile = true;
  const worker = startLoopWorker({
    name: 'outbox-dispatcher',
    intervalMs: options.pollMs ?? 100,
    logger: deps.logger,
    tick: async () => {
      if (Date.now() - reconciledAt > RECONCILE_EVERY_MS) {
        reconciledAt = Date.now();
        await reconcileSending(deps, firstReconcile && options.ownsStore);
        firstReconcile = false;
      }
      while (inFlight.size < MAX_IN_FLIGHT) {
        const claim = await claimNextOutbound(deps.db);
        if (!claim) break;
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
      return false;
    },
  });
  return {
    ...worker,
    stop: async () => {
      await worker.stop();
      await Promise.all(inFlight);
    },
  };
}
