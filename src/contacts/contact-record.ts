/**
 * A contact's record, as the contact page and the desk's contact panel show it: who they are
 * (the fields agents edit, what Twilio told, what bots collected in their conversations),
 * their consent per sender, every conversation they had and the texts agents sent them that
 * opened none yet. Editing goes through consent/contacts.ts, which owns the contact's row;
 * the edit is logged so that other desks refresh.
 */
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { type Channel, channelOfAddress, channelOfKind } from '../addresses.js';
import {
  type ContactEdit,
  contactName,
  splitAttributes,
  updateContact,
} from '../consent/contacts.js';
import type { ConversationState } from '../conversations/views.js';
import { contacts, messages, numbers, users } from '../db/schema.js';
import { type Db, type Executor, queryRows } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { appendEvent } from '../event-log.js';
import type { MessageStatus, SurveyScale } from '../events.js';

/** What a bot collected, one key's latest value across the contact's conversations. */
export interface CollectedAttribute {
  key: string;
  /** A string as the bot sent it; any other JSON value as its JSON text. */
  value: string;
  conversationId: string;
  /**
   * When the bot last answered in that conversation: conversations keep what bots collected
   * merged, with no time per key. The conversation's start when no answer is logged.
   */
  collectedAt: Date;
}

export interface SenderConsent {
  /** A number's address, or the SID of the Messaging Service the number belongs to. */
  sender: string;
  /** The number (with its name), or the Messaging Service with its numbers. */
  senderLabel: string;
  optedOut: boolean;
  /** Null: the customer never opted out of or back into this sender (subscribed). */
  changedAt: Date | null;
}

export interface ContactConversation {
  id: string;
  state: ConversationState;
  channel: Channel;
  numberAddress: string;
  queueName: string | null;
  agentId: string | null;
  agentName: string | null;
  createdAt: Date;
  closedAt: Date | null;
  closeReason: string | null;
  /** The wrap-up code, and its label as the conversation's queue names it (else the code). */
  disposition: string | null;
  dispositionLabel: string | null;
  wrapUpSummary: string | null;
  /** The customer's answer to its survey, once they gave one. */
  survey: { scale: SurveyScale; score: number; comment: string | null } | null;
}

export interface Origination {
  messageId: string;
  numberAddress: string;
  agentId: string | null;
  agentName: string | null;
  body: string;
  status: MessageStatus;
  createdAt: Date;
}

export interface ContactRecord {
  id: string;
  address: string;
  channel: Channel;
  /** The name kept on the contact (editable); null when none was given. */
  name: string | null;
  /** The name agents see: the contact's, else the profile name the channel sent. */
  displayName: string | null;
  email: string | null;
  notes: string | null;
  /** Custom attributes agents keep (editable). */
  attributes: Record<string, string>;
  /** What Twilio's webhook told of the contact (city, state, …, profileName); read-only. */
  twilioAttributes: Record<string, string>;
  collected: CollectedAttribute[];
  consents: SenderConsent[];
  /** Newest first. */
  conversations: ContactConversation[];
  /** Agents' texts sent `on-reply` that no conversation holds yet, newest first (100 at most). */
  originations: Origination[];
  /** When an admin erased the person (src/retention/erasure.ts); null: not erased. */
  erasedAt: Date | null;
  createdAt: Date;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

/** The contact's record; not_found when there is no such contact. */
export async function readContactRecord(db: Db, contactId: string): Promise<ContactRecord> {
  const [contact] = await db.select().from(contacts).where(eq(contacts.id, contactId));
  if (!contact) throw new AppError('not_found', 'no such contact');
  const [collected, consents, conversations, originations] = await Promise.all([
    collectedAttributes(db, contactId),
    consentsOf(db, contactId),
    conversationsOf(db, contactId),
    originationsTo(db, contact.address),
  ]);
  const { twilio, custom } = splitAttributes(contact.attributes);
  return {
    id: contact.id,
    address: contact.address,
    channel: channelOfAddress(contact.address),
    name: contact.name,
    displayName: contactName(contact),
    email: contact.email,
    notes: contact.notes,
    attributes: custom,
    twilioAttributes: twilio,
    collected,
    consents,
    conversations,
    originations,
    erasedAt: contact.erasedAt,
    createdAt: contact.createdAt,
  };
}

/**
 * Edits the contact and logs `contact.updated` in the same transaction. The event goes with
 * the contact's latest conversation (an open one first): every agent holding an open
 * conversation with the contact may read all of theirs, so the event reaches exactly them
 * (and supervisors). A contact with no conversation is held by nobody: supervisors only.
 */
export async function editContact(
  db: Db,
  contactId: string,
  edit: ContactEdit,
  byUserId: string,
): Promise<ContactRecord> {
  const fields = [
    ...(['name', 'email', 'notes'] as const).filter((field) => edit[field] !== undefined),
    ...Object.keys(edit.attributes ?? {}).map((key) => `attributes.${key}`),
  ];
  await inTransaction(db, async (tx) => {
    await updateContact(tx, contactId, edit);
    if (fields.length === 0) return;
    const [latest] = await queryRows<{ id: string }>(
      tx,
      sql`SELECT id FROM conversations WHERE contact_id = ${contactId}
          ORDER BY (state <> 'closed') DESC, created_at DESC LIMIT 1`,
    );
    await appendEvent(
      tx,
      'contact.updated',
      { conversationId: latest?.id ?? null },
      { contactId, fields, byUserId },
    );
  });
  return readContactRecord(db, contactId);
}

async function collectedAttributes(db: Executor, contactId: string): Promise<CollectedAttribute[]> {
  const rows = await queryRows<{
    key: string;
    value: string;
    conversation_id: string;
    collected_ms: number;
  }>(
    db,
    sql`SELECT DISTINCT ON (a.key) a.key,
          CASE jsonb_typeof(a.value) WHEN 'string' THEN a.value #>> '{}' ELSE a.value::text END
            AS value,
          c.id AS conversation_id,
          (extract(epoch FROM coalesce(answered.at, c.created_at)) * 1000)::float8 AS collected_ms
        FROM conversations c
        CROSS JOIN LATERAL jsonb_each(c.attributes) AS a(key, value)
        LEFT JOIN LATERAL (
          SELECT max(e.created_at) AS at FROM events e
           WHERE e.conversation_id = c.id AND e.type = 'flow.bot-answered') answered ON true
        WHERE c.contact_id = ${contactId}
        ORDER BY a.key, coalesce(answered.at, c.created_at) DESC, c.id`,
  );
  return rows.map((row) => ({
    key: row.key,
    value: row.value,
    conversationId: row.conversation_id,
    collectedAt: new Date(row.collected_ms),
  }));
}

/**
 * Consent towards every sender the contact opted out of or back into, and towards the
 * senders of their conversations (subscribed unless a row says otherwise).
 */
async function consentsOf(db: Executor, contactId: string): Promise<SenderConsent[]> {
  const rows = await queryRows<{
    sender: string;
    sender_label: string | null;
    opted_out: boolean;
    changed_ms: number | null;
  }>(
    db,
    sql`WITH known AS (
          SELECT sender, opted_out, changed_at FROM consents WHERE contact_id = ${contactId}
        ), talked AS (
          SELECT DISTINCT coalesce(n.messaging_service_sid, n.address) AS sender
            FROM conversations c JOIN numbers n ON n.id = c.number_id
           WHERE c.contact_id = ${contactId}
        ), senders AS (
          SELECT sender, opted_out, changed_at FROM known
          UNION ALL
          SELECT t.sender, false, NULL::timestamptz FROM talked t
           WHERE t.sender NOT IN (SELECT sender FROM known)
        )
        SELECT s.sender, s.opted_out,
          (extract(epoch FROM s.changed_at) * 1000)::float8 AS changed_ms,
          coalesce(
            (SELECT CASE WHEN n.name <> '' THEN n.name || ' (' || n.address || ')'
                         ELSE n.address END
               FROM numbers n WHERE n.address = s.sender),
            (SELECT 'Messaging Service ' || s.sender || ' ('
                      || string_agg(n.address, ', ' ORDER BY n.address) || ')'
               FROM numbers n WHERE n.messaging_service_sid = s.sender)) AS sender_label
        FROM senders s
        ORDER BY s.changed_at DESC NULLS LAST, s.sender`,
  );
  return rows.map((row) => ({
    sender: row.sender,
    senderLabel: row.sender_label ?? row.sender,
    optedOut: row.opted_out,
    changedAt: date(row.changed_ms),
  }));
}

async function conversationsOf(db: Executor, contactId: string): Promise<ContactConversation[]> {
  const rows = await queryRows<{
    id: string;
    state: ConversationState;
    number_kind: string;
    number_address: string;
    queue_name: string | null;
    agent_id: string | null;
    agent_name: string | null;
    created_ms: number;
    closed_ms: number | null;
    close_reason: string | null;
    disposition: string | null;
    disposition_label: string | null;
    wrap_up_summary: string | null;
    survey_scale: SurveyScale | null;
    survey_score: number | null;
    survey_comment: string | null;
  }>(
    db,
    sql`SELECT c.id, c.state, n.kind AS number_kind, n.address AS number_address,
          q.name AS queue_name, c.agent_id, u.name AS agent_name,
          (extract(epoch FROM c.created_at) * 1000)::float8 AS created_ms,
          (extract(epoch FROM c.closed_at) * 1000)::float8 AS closed_ms,
          c.close_reason, c.disposition, c.wrap_up_summary,
          (SELECT d->>'label' FROM jsonb_array_elements(q.dispositions) AS d
            WHERE d->>'code' = c.disposition LIMIT 1) AS disposition_label,
          s.scale AS survey_scale, s.score AS survey_score, s.comment AS survey_comment
        FROM conversations c
        JOIN numbers n ON n.id = c.number_id
        LEFT JOIN queues q ON q.id = c.queue_id
        LEFT JOIN users u ON u.id = c.agent_id
        LEFT JOIN survey_responses s ON s.conversation_id = c.id AND s.score IS NOT NULL
        WHERE c.contact_id = ${contactId}
        ORDER BY c.created_at DESC, c.id`,
  );
  return rows.map((row) => ({
    id: row.id,
    state: row.state,
    channel: channelOfKind(row.number_kind),
    numberAddress: row.number_address,
    queueName: row.queue_name,
    agentId: row.agent_id,
    agentName: row.agent_name,
    createdAt: new Date(row.created_ms),
    closedAt: date(row.closed_ms),
    closeReason: row.close_reason,
    disposition: row.disposition,
    dispositionLabel: row.disposition_label ?? row.disposition,
    wrapUpSummary: row.wrap_up_summary,
    survey:
      row.survey_scale !== null && row.survey_score !== null
        ? { scale: row.survey_scale, score: row.survey_score, comment: row.survey_comment }
        : null,
  }));
}

/** Originations sent `on-reply` belong to no conversation until the customer answers. */
function originationsTo(db: Db, address: string): Promise<Origination[]> {
  return db
    .select({
      messageId: messages.id,
      numberAddress: numbers.address,
      agentId: messages.agentId,
      agentName: users.name,
      body: messages.body,
      status: messages.status,
      createdAt: messages.createdAt,
    })
    .from(messages)
    .innerJoin(numbers, eq(numbers.id, messages.numberId))
    .leftJoin(users, eq(users.id, messages.agentId))
    .where(
      and(
        eq(messages.toAddress, address),
        eq(messages.author, 'agent'),
        isNull(messages.conversationId),
      ),
    )
    .orderBy(desc(messages.createdAt))
    .limit(100);
}
