import { and, eq, inArray } from 'drizzle-orm';
import { reasonFor } from '../channels/twilio/error-codes.js';
import { consentSender, learnOptOut } from '../consent/consent.js';
import { GroupCommit } from '../db/group-commit.js';
import { MESSAGE_STATUSES, messages, numbers } from '../db/schema.js';
import type { Db, Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { appendEvent } from '../realtime/event-log.js';

declare module '../realtime/event-log.js' {
  interface EventPayloads {
    'message.status': {
      messageId: string;
      status: MessageStatus;
      errorCode: number | null;
      errorMessage: string | null;
    };
  }
}

export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * How far along a message is. Callbacks can arrive out of order (a late `sent` after
 * `delivered`), twice, or not at all; a status only ever moves to a higher rank. The outcomes
 * share a rank: the first one Twilio reports stands. `partially_delivered` is Twilio's
 * outcome for a message that reached the handset only in part (an MMS some of whose media
 * did not); `read` (WhatsApp) can follow any delivery.
 */
const RANK: Record<MessageStatus, number> = {
  received: 0,
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  partially_delivered: 4,
  undelivered: 4,
  failed: 4,
  read: 5,
};

/** Twilio's answer for a recipient who opted out of the sender. */
const OPTED_OUT = 21610;

/** Outcomes that come with Twilio's error code and a reason for the agent. */
const WITH_ERROR: ReadonlySet<MessageStatus> = new Set([
  'failed',
  'undelivered',
  'partially_delivered',
]);

/** Twilio's message statuses in Parley's words. */
export function fromTwilioStatus(status: string): MessageStatus | undefined {
  switch (status) {
    case 'accepted':
    case 'scheduled':
    case 'queued':
      return 'queued';
    case 'sending':
    case 'sent':
    case 'delivered':
    case 'partially_delivered':
    case 'undelivered':
    case 'failed':
    case 'read':
      return status;
    case 'canceled':
      return 'failed';
    default:
      return undefined;
  }
}

/**
 * Moves an outbound message's status forward (never back), keeping the error code and a
 * readable reason on failure. Returns whether anything changed.
 */
export async function advanceMessageStatus(
  tx: Tx,
  messageId: string,
  update: { status: MessageStatus; errorCode?: number | null; errorMessage?: string | null },
): Promise<boolean> {
  const lower = MESSAGE_STATUSES.filter((s) => RANK[s] < RANK[update.status]);
  const explained = WITH_ERROR.has(update.status);
  const errorCode = explained ? (update.errorCode ?? null) : null;
  const errorMessage = explained
    ? reasonFor(
        errorCode,
        update.errorMessage ?? `Twilio reported the message ${update.status.replace('_', ' ')}`,
      )
    : null;
  const [row] = await tx
    .update(messages)
    .set({ status: update.status, ...(explained && { errorCode, errorMessage }) })
    .where(and(eq(messages.id, messageId), inArray(messages.status, lower)))
    .returning({
      conversationId: messages.conversationId,
      agentId: messages.agentId,
      numberId: messages.numberId,
      toAddress: messages.toAddress,
    });
  if (!row) return false;
  if (errorCode === OPTED_OUT) {
    const [number] = await tx
      .select({ address: numbers.address, messagingServiceSid: numbers.messagingServiceSid })
      .from(numbers)
      .where(eq(numbers.id, row.numberId));
    await learnOptOut(tx, {
      customerAddress: row.toAddress,
      sender: consentSender(number!),
      conversationId: row.conversationId,
    });
  }
  await appendEvent(
    tx,
    'message.status',
    { conversationId: row.conversationId, agentId: row.agentId },
    { messageId, status: update.status, errorCode, errorMessage },
  );
  return true;
}

/** A status callback's news, for the account whose token signed it. */
export interface StatusReport {
  messageSid: string;
  accountId: string;
  status: MessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
}

/**
 * Status callbacks applied in groups (see db/group-commit.ts): a sent message brings two or
 * three of them, so under load they outnumber every other write, and one commit each held
 * the dispatcher to half its senders' rates. Resolves false when no message of the account
 * has that SID (yet: the callback can overtake the dispatcher storing it).
 */
export function statusReportBatches(db: Db): GroupCommit<StatusReport, boolean> {
  return new GroupCommit({
    maxBatch: 64,
    maxInFlight: 2,
    commit: (batch) => inTransaction(db, (tx) => applyStatusReports(tx, batch)),
    alone: async (report) =>
      (await inTransaction(db, (tx) => applyStatusReports(tx, [report]))).get(report) ?? false,
  });
}

async function applyStatusReports(
  tx: Tx,
  batch: StatusReport[],
): Promise<Map<StatusReport, boolean>> {
  const rows = await tx
    .select({ id: messages.id, sid: messages.twilioSid, accountId: numbers.accountId })
    .from(messages)
    .innerJoin(numbers, eq(numbers.id, messages.numberId))
    .where(inArray(messages.twilioSid, [...new Set(batch.map((report) => report.messageSid))]));
  // Only the account that owns the message's number may move it: a message of another
  // account is not found, exactly like an unknown one.
  const idOf = new Map(rows.map((row) => [`${row.sid} ${row.accountId}`, row.id]));
  const applied = new Map<StatusReport, boolean>();
  for (const report of batch) {
    const id = idOf.get(`${report.messageSid} ${report.accountId}`);
    if (id) await advanceMessageStatus(tx, id, report);
    applied.set(report, id !== undefined);
  }
  return applied;
}
