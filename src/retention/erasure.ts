/**
 * The right to erasure: an admin erases one contact. Gone, in Parley: the bodies and media of
 * their messages (the stored bytes no other message shares after a grace: media-deletions.ts),
 * the notes on their conversations, their profile (name, email, notes,
 * attributes: language, Twilio's location, custom fields), what bots collected, survey
 * comments, and every copy in the event log (texts emptied, their address replaced by a
 * pseudonym); with the bodies and the name, search finds nothing of them. On Twilio, through
 * each message's account: the message bodies redacted and their media deleted.
 *
 * Kept: their conversations and messages as anonymous rows (states, times, counts, agents,
 * queues) for reports, held by the contact's row renamed `erased:<id>`; and, because the law
 * requires that someone who opted out is never texted again, their opt-outs: a new contact
 * row holding only their address and those consents (marked erased, so contact search
 * leaves it out). Someone who never opted out leaves no address behind.
 *
 * Twilio is asked first, then Parley's erasure and its audit entry (detail: the report)
 * commit in one transaction, so the entry says exactly what was done. Erasing again redoes
 * what is left (Twilio calls that failed) and changes nothing else.
 */
import { sql } from 'drizzle-orm';
import { type AuditActor, recordAudit } from '../audit/audit-log.js';
import { describeTwilioError } from '../channels/twilio/client.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import { eraseTwilioMessage } from '../channels/twilio/message-redaction.js';
import { textArray, uuidArray } from '../db/json-params.js';
import { type Db, type Executor, queryRows } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import {
  ADDRESS_FIELDS,
  redactEvents,
  redactMessages,
  redactNotes,
  WRITTEN_FIELDS,
} from './redaction.js';

export interface ErasureDeps {
  db: Db;
  clients: Pick<TwilioClients, 'forAccount'>;
}

export interface ErasureReport {
  contactId: string;
  /** The row that keeps their opt-outs (address and consents only); null when they had none. */
  optOutRecordId: string | null;
  optOutsKept: number;
  /** What this erasure changed in Parley (0 everywhere when erased before). */
  parley: {
    conversations: number;
    messages: number;
    media: number;
    /**
     * Stored files no other message shares, scheduled for deletion: they are deleted after a
     * grace (media-deletions.ts), unless a new message names the same bytes by then.
     */
    mediaFilesScheduled: number;
    notes: number;
    events: number;
  };
  /** What Twilio was asked to erase, per message with a Twilio SID. */
  twilio: {
    messages: number;
    redacted: number;
    /** Messages Twilio no longer has. */
    gone: number;
    mediaDeleted: number;
    failures: { messageSid: string; error: string }[];
  };
}

/** The pseudonym of an erased contact: its anonymous row's address, in place of theirs. */
export function erasedAddress(contactId: string): string {
  return `erased:${contactId}`;
}

/**
 * SQL: the ids of the contact's messages: in their conversations, and those with none: sent
 * to them (an agent's outreach, the answer to a keyword) or from them (STOP, HELP, START
 * texted while no conversation was open).
 */
function messagesOf(contactId: string, address: string) {
  return sql`SELECT m.id FROM messages m
              WHERE m.conversation_id IN (SELECT id FROM conversations WHERE contact_id = ${contactId}::uuid)
             UNION
             SELECT m.id FROM messages m
              WHERE m.conversation_id IS NULL AND m.direction = 'outbound' AND m.to_address = ${address}
             UNION
             SELECT m.id FROM messages m
              WHERE m.conversation_id IS NULL AND m.direction = 'inbound' AND m.from_address = ${address}`;
}

/** 409 while something of theirs is still under way, which erasure would cut in half. */
async function refuseWhileBusy(db: Executor, contactId: string, address: string): Promise<void> {
  const [busy] = await queryRows<{ open: boolean; sending: boolean }>(
    db,
    sql`SELECT EXISTS (SELECT 1 FROM conversations
                        WHERE contact_id = ${contactId}::uuid AND state <> 'closed') AS open,
               EXISTS (SELECT 1 FROM outbox o
                        WHERE o.message_id IN (${messagesOf(contactId, address)})
                          AND o.state IN ('pending', 'sending')) AS sending`,
  );
  if (busy?.open) {
    throw new AppError('conflict', 'the contact has an open conversation: end it, then erase');
  }
  if (busy?.sending) {
    throw new AppError('conflict', 'a message to the contact is still being sent: erase later');
  }
}

export async function eraseContact(
  deps: ErasureDeps,
  contactId: string,
  actor: AuditActor,
): Promise<ErasureReport> {
  const [contact] = await queryRows<{ address: string }>(
    deps.db,
    sql`SELECT address FROM contacts WHERE id = ${contactId}::uuid`,
  );
  if (!contact) throw new AppError('not_found', 'no such contact');
  await refuseWhileBusy(deps.db, contactId, contact.address);
  const twilio = await eraseOnTwilio(deps, contactId, contact.address);

  const report = await inTransaction(deps.db, async (tx) => {
    // Locked, and checked again: a text that arrived meanwhile may have opened a conversation.
    const [locked] = await queryRows<{ address: string }>(
      tx,
      sql`SELECT address FROM contacts WHERE id = ${contactId}::uuid FOR UPDATE`,
    );
    if (!locked) throw new AppError('not_found', 'no such contact');
    const address = locked.address;
    await refuseWhileBusy(tx, contactId, address);
    const pseudonym = erasedAddress(contactId);
    const conversationIds = (
      await queryRows<{ id: string }>(
        tx,
        sql`SELECT id FROM conversations WHERE contact_id = ${contactId}::uuid`,
      )
    ).map((row) => row.id);
    const conversations = uuidArray(conversationIds);
    const messageIds = (await queryRows<{ id: string }>(tx, messagesOf(contactId, address))).map(
      (row) => row.id,
    );

    const redacted = await redactMessages(tx, messageIds);
    await tx.execute(
      sql`UPDATE messages
             SET from_address = CASE WHEN direction = 'inbound' THEN ${pseudonym} ELSE from_address END,
                 to_address = CASE WHEN direction = 'outbound' THEN ${pseudonym} ELSE to_address END
           WHERE id = ANY(${uuidArray(messageIds)})`,
    );
    const notes = await redactNotes(tx, sql`n.conversation_id = ANY(${conversations})`);
    const anonymised = await queryRows<{ id: string }>(
      tx,
      sql`UPDATE conversations
             SET customer_address = ${pseudonym}, attributes = '{}'::jsonb, wrap_up_summary = NULL
           WHERE contact_id = ${contactId}::uuid
             AND (customer_address <> ${pseudonym} OR attributes <> '{}'::jsonb
                  OR wrap_up_summary IS NOT NULL)
          RETURNING id`,
    );
    await tx.execute(
      sql`UPDATE offers SET original_text = NULL
           WHERE conversation_id = ANY(${conversations}) AND original_text IS NOT NULL`,
    );
    await tx.execute(
      sql`UPDATE survey_responses SET customer_address = ${pseudonym}, comment = NULL
           WHERE conversation_id = ANY(${conversations})`,
    );
    await tx.execute(sql`DELETE FROM affinities WHERE customer_address = ${address}`);
    // Their conversations' events, and those logged with no conversation that name them.
    const events = await redactEvents(
      tx,
      sql`e.conversation_id = ANY(${conversations})
          OR (e.conversation_id IS NULL
              AND (e.payload ->> 'to' = ${address} OR e.payload ->> 'from' = ${address}
                   OR e.payload ->> 'customerAddress' = ${address}
                   OR e.payload ->> 'messageId' = ANY(${textArray(messageIds)})))`,
      { blank: WRITTEN_FIELDS, replace: { keys: ADDRESS_FIELDS, with: pseudonym } },
    );

    const kept = await keepOptOuts(tx, contactId, address, pseudonym);
    const report: ErasureReport = {
      contactId,
      optOutRecordId: kept.recordId,
      optOutsKept: kept.count,
      parley: {
        conversations: anonymised.length,
        messages: redacted.messages,
        media: redacted.media,
        mediaFilesScheduled: redacted.orphanHashes.length,
        notes,
        events,
      },
      twilio,
    };
    await recordAudit(tx, {
      actor,
      action: 'contact.erased',
      target: { type: 'contact', id: contactId },
      detail: { ...report },
    });
    return report;
  });
  return report;
}

/**
 * Empties the contact's row into the anonymous holder of their conversations; when they had
 * opted out of any sender, first moves those opt-outs to a new row holding their address
 * alone, so every check by address still finds them. Other consents go.
 */
async function keepOptOuts(
  tx: Executor,
  contactId: string,
  address: string,
  pseudonym: string,
): Promise<{ recordId: string | null; count: number }> {
  await tx.execute(
    sql`UPDATE contacts
           SET address = ${pseudonym}, name = NULL, email = NULL, notes = NULL,
               attributes = '{}'::jsonb, erased_at = coalesce(erased_at, now())
         WHERE id = ${contactId}::uuid`,
  );
  let recordId: string | null = null;
  let count = 0;
  if (address !== pseudonym) {
    const [optedOut] = await queryRows<{ count: number }>(
      tx,
      sql`SELECT count(*)::int AS count FROM consents
           WHERE contact_id = ${contactId}::uuid AND opted_out`,
    );
    count = optedOut?.count ?? 0;
    if (count > 0) {
      const [record] = await queryRows<{ id: string }>(
        tx,
        sql`INSERT INTO contacts (address, erased_at) VALUES (${address}, now()) RETURNING id`,
      );
      recordId = record!.id;
      await tx.execute(
        sql`UPDATE consents SET contact_id = ${recordId}::uuid
             WHERE contact_id = ${contactId}::uuid AND opted_out`,
      );
    }
  }
  await tx.execute(sql`DELETE FROM consents WHERE contact_id = ${contactId}::uuid`);
  return { recordId, count };
}

/**
 * Redacts each of the contact's messages that Twilio knows (by SID) with its account's
 * credentials; a failure (after the adapter's retries) is reported, not thrown, so the rest
 * goes on and Parley's part is done regardless. Erasing again tries them again.
 */
async function eraseOnTwilio(
  deps: ErasureDeps,
  contactId: string,
  address: string,
): Promise<ErasureReport['twilio']> {
  const rows = await queryRows<{ sid: string; account_id: string }>(
    deps.db,
    sql`SELECT m.twilio_sid AS sid, n.account_id
          FROM messages m JOIN numbers n ON n.id = m.number_id
         WHERE m.id IN (${messagesOf(contactId, address)}) AND m.twilio_sid IS NOT NULL
         ORDER BY m.created_at`,
  );
  const result: ErasureReport['twilio'] = {
    messages: rows.length,
    redacted: 0,
    gone: 0,
    mediaDeleted: 0,
    failures: [],
  };
  for (const row of rows) {
    try {
      const client = await deps.clients.forAccount(row.account_id);
      const erased = await eraseTwilioMessage(client, row.sid);
      if (erased.gone) result.gone++;
      else result.redacted++;
      result.mediaDeleted += erased.mediaDeleted;
    } catch (error) {
      result.failures.push({ messageSid: row.sid, error: describeTwilioError(error).message });
    }
  }
  return result;
}
