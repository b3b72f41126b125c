import { and, eq, inArray } from 'drizzle-orm';
import { reasonFor } from '../channels/twilio/error-codes.js';
import { consentSender, learnOptOut } from '../consent/consent.js';
import { MESSAGE_STATUSES, messages, numbers } from '../db/schema.js';
import type { Executor, Tx } from '../db/store.js';
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

/**
 * The message with this Twilio SID sent or received on a number of this account: a callback
 * names a SID, and only the account that owns the message's number may move it. A message of
 * another account is not found, exactly like an unknown one.
 */
export async function findMessageOfAccount(
  db: Executor,
  twilioSid: string,
  accountId: string,
): Promise<{ id: string } | undefined> {
  const [row] = await db
    .select({ id: messages.id })
    .from(messages)
    .innerJoin(numbers, eq(numbers.id, messages.numberId))
    .where(and(eq(messages.twilioSid, twilioSid), eq(numbers.accountId, accountId)));
  return row;
}
