import { eq, inArray, sql } from 'drizzle-orm';
import { OPTED_OUT, reasonFor } from '../channels/twilio/error-codes.js';
import type { MessageCarrier } from '../channels/twilio/webhooks.js';
import { consentSender, learnOptOut } from '../consent/consent.js';
import { GroupCommit } from '../db/group-commit.js';
import { jsonRecords } from '../db/json-params.js';
import { messages, numbers } from '../db/schema.js';
import { type Db, queryRows, type Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { appendEvents } from '../event-log.js';
import type { MessageStatus } from '../events.js';

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

/** Outcomes that come with Twilio's error code and a reason for the agent. */
const WITH_ERROR: ReadonlySet<MessageStatus> = new Set([
  'failed',
  'undelivered',
  'partially_delivered',
]);

/**
 * Moves an outbound message's status forward (never back), keeping the error code and a
 * readable reason on failure. Returns whether anything changed.
 */
export async function advanceMessageStatus(
  tx: Tx,
  messageId: string,
  update: Omit<StatusChange, 'messageId'>,
): Promise<boolean> {
  return (await advanceMessageStatuses(tx, [{ messageId, ...update }])).has(messageId);
}

export interface StatusChange {
  messageId: string;
  status: MessageStatus;
  errorCode?: number | null;
  errorMessage?: string | null;
  /** What carried it, when the callback said (StatusCallback.carrier). */
  carrier?: MessageCarrier | null;
}

/** SQL: the rank of message `m`'s status (RANK, as a CASE). */
const RANK_OF_STATUS = sql.raw(
  `(CASE m.status ${Object.entries(RANK)
    .map(([status, rank]) => `WHEN '${status}' THEN ${rank}`)
    .join(' ')} END)`,
);

/**
 * advanceMessageStatus for several messages (each at most once) in one statement, and their
 * events in one more: status callbacks outnumber every other write. Returns the ids of the
 * messages that moved.
 */
export async function advanceMessageStatuses(
  tx: Tx,
  changes: readonly StatusChange[],
): Promise<Set<string>> {
  if (changes.length === 0) return new Set();
  const entries = changes.map((change) => {
    const explained = WITH_ERROR.has(change.status);
    const errorCode = explained ? (change.errorCode ?? null) : null;
    return {
      id: change.messageId,
      status: change.status,
      rank: RANK[change.status],
      explained,
      carrier: change.carrier ?? null,
      error_code: errorCode,
      error_message: explained
        ? reasonFor(
            errorCode,
            change.errorMessage ?? `Twilio reported the message ${change.status.replace('_', ' ')}`,
          )
        : null,
    };
  });
  const moved = await queryRows<{
    id: string;
    conversation_id: string | null;
    agent_id: string | null;
    number_id: string;
    to_address: string;
    status: MessageStatus;
    error_code: number | null;
    error_message: string | null;
  }>(
    tx,
    sql`UPDATE messages m
           SET status = c.status,
               error_code = CASE WHEN c.explained THEN c.error_code ELSE m.error_code END,
               error_message = CASE WHEN c.explained THEN c.error_message ELSE m.error_message END,
               -- Through a service with an RCS sender: RCS, or the SMS/MMS it fell back to.
               sent_as = CASE
                 WHEN c.carrier = 'rcs' THEN 'rcs'
                 WHEN c.carrier = 'phone' AND n.rcs_sender IS NOT NULL THEN
                   CASE WHEN EXISTS (SELECT 1 FROM media x WHERE x.message_id = m.id)
                     THEN 'mms' ELSE 'sms' END
                 ELSE m.sent_as END
          FROM ${jsonRecords(
            entries,
            `id uuid, status text, rank int, explained boolean, carrier text, error_code int,
             error_message text`,
          )} AS c,
               numbers n
         WHERE m.id = c.id AND n.id = m.number_id AND ${RANK_OF_STATUS} < c.rank
     RETURNING m.id, m.conversation_id, m.agent_id, m.number_id, m.to_address, c.status,
               c.error_code, c.error_message`,
  );
  // The events in the order of the changes, whatever order the update met the rows in.
  const order = new Map(changes.map((change, i) => [change.messageId, i]));
  moved.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  for (const row of moved) {
    if (row.error_code !== OPTED_OUT) continue;
    const [number] = await tx
      .select({ address: numbers.address, messagingServiceSid: numbers.messagingServiceSid })
      .from(numbers)
      .where(eq(numbers.id, row.number_id));
    await learnOptOut(tx, {
      customerAddress: row.to_address,
      sender: consentSender(number!),
      conversationId: row.conversation_id,
    });
  }
  await appendEvents(
    tx,
    'message.status',
    moved.map((row) => ({
      refs: { conversationId: row.conversation_id, agentId: row.agent_id },
      payload: {
        messageId: row.id,
        status: row.status,
        errorCode: row.error_code,
        errorMessage: row.error_message,
      },
    })),
  );
  return new Set(moved.map((row) => row.id));
}

/** A status callback's news, for the account whose token signed it. */
export interface StatusReport {
  messageSid: string;
  accountId: string;
  status: MessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
  carrier?: MessageCarrier | null;
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
  // One change per message: a batch can hold its `sent` and its `delivered`. The furthest
  // (of two outcomes, the first) is where applying them one by one would end; the steps
  // before it, within one commit, are not logged.
  const furthest = new Map<string, StatusReport>();
  for (const report of batch) {
    const id = idOf.get(`${report.messageSid} ${report.accountId}`);
    applied.set(report, id !== undefined);
    if (!id) continue;
    const known = furthest.get(id);
    if (!known || RANK[report.status] > RANK[known.status]) furthest.set(id, report);
  }
  await advanceMessageStatuses(
    tx,
    [...furthest].map(([messageId, report]) => ({ messageId, ...report })),
  );
  return applied;
}

/** How long a held report waits for its SID: far longer than any answer or reconciliation. */
const HELD_FOR = sql`interval '1 hour'`;

/**
 * Holds a report on a SID no message has, if the account has a send whose outcome Parley
 * does not know yet (a row `sending`, or one whose last attempt went unanswered, with no
 * SID): Twilio's callbacks can overtake its answer to the send. Returns false, holding
 * nothing, otherwise (a SID another account's message has is never this account's answer).
 * Once held, it is applied at once if the SID was stored meanwhile; applyHeldStatusReports
 * takes the rest.
 */
export async function holdStatusReport(db: Db, report: StatusReport): Promise<boolean> {
  const [held] = await queryRows<{ id: string }>(
    db,
    sql`INSERT INTO held_status_reports
          (message_sid, account_id, status, error_code, error_message, carrier)
        SELECT ${report.messageSid}, ${report.accountId}::uuid, ${report.status},
               ${report.errorCode}::int, ${report.errorMessage}, ${report.carrier ?? null}
        WHERE EXISTS (
          SELECT 1 FROM outbox o
            JOIN messages m ON m.id = o.message_id
            JOIN numbers n ON n.id = m.number_id
          WHERE (o.state = 'sending' OR (o.state = 'pending' AND o.uncertain_since IS NOT NULL))
            AND m.twilio_sid IS NULL AND n.account_id = ${report.accountId}::uuid)
          AND NOT EXISTS (SELECT 1 FROM messages WHERE twilio_sid = ${report.messageSid})
        RETURNING id`,
  );
  if (!held) return false;
  await applyHeldStatusReports(db, [report.messageSid]);
  return true;
}

/**
 * Applies the held reports whose SID Parley has stored since (of these SIDs, or of any),
 * in the order they came, and drops those held past an hour: their message never became
 * Parley's. Returns how many it applied.
 */
export async function applyHeldStatusReports(db: Db, sids?: readonly string[]): Promise<number> {
  return inTransaction(db, async (tx) => {
    // Each held report's SID looked up through the messages' unique index on it.
    const rows = await queryRows<{
      message_sid: string;
      account_id: string;
      status: MessageStatus;
      error_code: number | null;
      error_message: string | null;
      carrier: MessageCarrier | null;
      received: number;
    }>(
      tx,
      sql`DELETE FROM held_status_reports h
          WHERE h.id IN (
            SELECT held.id FROM held_status_reports held
            CROSS JOIN LATERAL (
              SELECT 1 FROM messages m JOIN numbers n ON n.id = m.number_id
              WHERE m.twilio_sid = held.message_sid AND n.account_id = held.account_id
              LIMIT 1) stored
            ${sids ? sql`WHERE held.message_sid IN ${sids}` : sql``})
          RETURNING h.message_sid, h.account_id, h.status, h.error_code, h.error_message,
                    h.carrier, extract(epoch FROM h.received_at)::float8 AS received`,
    );
    await tx.execute(sql`DELETE FROM held_status_reports WHERE received_at < now() - ${HELD_FOR}`);
    if (rows.length === 0) return 0;
    await applyStatusReports(
      tx,
      rows
        .sort((a, b) => a.received - b.received)
        .map((row) => ({
          messageSid: row.message_sid,
          accountId: row.account_id,
          status: row.status,
          errorCode: row.error_code,
          errorMessage: row.error_message,
          carrier: row.carrier,
        })),
    );
    return rows.length;
  });
}
