/**
 * Read models over conversations for the desk and the supervisor: what a user has not read
 * yet, the list of conversations by state and a conversation's transcript. Reads only.
 */

import { and, asc, desc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { type Channel, channelOfKind } from '../addresses.js';
import { contactName } from '../consent/contacts.js';
import {
  CONVERSATION_STATES,
  consents,
  contacts,
  conversations,
  flows,
  media,
  messages,
  numbers,
  offers,
  queues,
  users,
} from '../db/schema.js';
import { type Db, type Executor, queryRows } from '../db/store.js';
import { AppError } from '../errors.js';
import { readActivity } from './activity.js';
import { serviceWindow } from './service-window.js';

export type ConversationState = (typeof CONVERSATION_STATES)[number];

export interface LastMessage {
  body: string;
  direction: 'inbound' | 'outbound';
  /** Who wrote it: the customer, an agent (agentId, agentName), the flow or the bot. */
  author: 'customer' | 'agent' | 'flow' | 'bot';
  agentId: string | null;
  agentName: string | null;
  createdAt: Date;
}

export interface ReadState {
  /** The customer's messages after the user's last read; all of them when never read. */
  unread: number;
  /** The latest message either way; null before the first one. */
  lastMessage: LastMessage | null;
}

/** Per conversation, what the user has not read and the latest message, for a desk list. */
export async function readStates(
  db: Executor,
  userId: string,
  conversationIds: readonly string[],
): Promise<Map<string, ReadState>> {
  if (conversationIds.length === 0) return new Map();
  const rows = await queryRows<{
    id: string;
    unread: number;
    body: string | null;
    direction: 'inbound' | 'outbound' | null;
    author: LastMessage['author'] | null;
    agent_id: string | null;
    agent_name: string | null;
    created_ms: number | null;
  }>(
    db,
    sql`SELECT c.id,
          (SELECT count(*)::int FROM messages m
            WHERE m.conversation_id = c.id AND m.direction = 'inbound'
              AND (r.read_at IS NULL OR m.created_at > r.read_at)) AS unread,
          last.body, last.direction, last.author, last.agent_id, last.agent_name, last.created_ms
        FROM conversations c
        LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = ${userId}
        LEFT JOIN LATERAL (
          SELECT m.body, m.direction, m.author, m.agent_id, u.name AS agent_name,
            (extract(epoch FROM m.created_at) * 1000)::float8 AS created_ms
          FROM messages m LEFT JOIN users u ON u.id = m.agent_id
          WHERE m.conversation_id = c.id
          ORDER BY m.created_at DESC, m.id DESC LIMIT 1) last ON true
        WHERE c.id IN (${sql.join(
          conversationIds.map((id) => sql`${id}`),
          sql`, `,
        )})`,
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        unread: row.unread,
        lastMessage:
          row.direction === null || row.author === null || row.created_ms === null
            ? null
            : {
                body: row.body ?? '',
                direction: row.direction,
                author: row.author,
                agentId: row.agent_id,
                agentName: row.agent_name,
                createdAt: new Date(row.created_ms),
              },
      },
    ]),
  );
}

/** `open`: every state but closed, what a supervisor watches by default. */
export const CONVERSATION_FILTERS = ['open', ...CONVERSATION_STATES] as const;
export type ConversationFilter = (typeof CONVERSATION_FILTERS)[number];

export interface ConversationSummary {
  id: string;
  state: ConversationState;
  customerAddress: string;
  numberAddress: string;
  channel: Channel;
  queueId: string | null;
  queueName: string | null;
  agentId: string | null;
  agentName: string | null;
  queuedAt: Date | null;
  lastMessageAt: Date;
  createdAt: Date;
  closedAt: Date | null;
}

/** Conversations in a state (or all open ones), most recently active first. */
export async function listConversations(
  db: Executor,
  filter: { state: ConversationFilter; limit: number },
): Promise<ConversationSummary[]> {
  const rows = await queryRows<{
    id: string;
    state: ConversationState;
    customer_address: string;
    number_address: string;
    number_kind: string;
    queue_id: string | null;
    queue_name: string | null;
    agent_id: string | null;
    agent_name: string | null;
    queued_ms: number | null;
    last_message_ms: number;
    created_ms: number;
    closed_ms: number | null;
  }>(
    db,
    sql`SELECT c.id, c.state, c.customer_address, n.address AS number_address,
          n.kind AS number_kind, c.queue_id, q.name AS queue_name,
          c.agent_id, u.name AS agent_name,
          (extract(epoch FROM c.queued_at) * 1000)::float8 AS queued_ms,
          (extract(epoch FROM c.last_message_at) * 1000)::float8 AS last_message_ms,
          (extract(epoch FROM c.created_at) * 1000)::float8 AS created_ms,
          (extract(epoch FROM c.closed_at) * 1000)::float8 AS closed_ms
        FROM conversations c
        JOIN numbers n ON n.id = c.number_id
        LEFT JOIN queues q ON q.id = c.queue_id
        LEFT JOIN users u ON u.id = c.agent_id
        WHERE ${filter.state === 'open' ? sql`c.state <> 'closed'` : sql`c.state = ${filter.state}`}
        ORDER BY c.last_message_at DESC, c.id
        LIMIT ${filter.limit}`,
  );
  const date = (ms: number | null) => (ms === null ? null : new Date(ms));
  return rows.map((row) => ({
    id: row.id,
    state: row.state,
    customerAddress: row.customer_address,
    numberAddress: row.number_address,
    channel: channelOfKind(row.number_kind),
    queueId: row.queue_id,
    queueName: row.queue_name,
    agentId: row.agent_id,
    agentName: row.agent_name,
    queuedAt: date(row.queued_ms),
    lastMessageAt: new Date(row.last_message_ms),
    createdAt: new Date(row.created_ms),
    closedAt: date(row.closed_ms),
  }));
}

/** A conversation with its messages and their media, each message naming its agent. */
export async function readTranscript(db: Db, conversationId: string) {
  const [row] = await db
    .select({
      id: conversations.id,
      state: conversations.state,
      origin: conversations.origin,
      numberId: conversations.numberId,
      numberAddress: numbers.address,
      messagingServiceSid: numbers.messagingServiceSid,
      contactId: conversations.contactId,
      customerAddress: conversations.customerAddress,
      agentId: conversations.agentId,
      agentName: users.name,
      queueId: conversations.queueId,
      queueName: queues.name,
      numberKind: numbers.kind,
      flowAllowsAgentAttachments: flows.allowAgentAttachments,
      attributes: conversations.attributes,
      createdAt: conversations.createdAt,
      closedAt: conversations.closedAt,
      closeReason: conversations.closeReason,
      dispositionCode: conversations.disposition,
      wrapUpSummary: conversations.wrapUpSummary,
      queueDispositions: queues.dispositions,
      queueDispositionRequired: queues.dispositionRequired,
    })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .leftJoin(flows, eq(flows.id, numbers.flowId))
    .leftJoin(queues, eq(queues.id, conversations.queueId))
    .leftJoin(users, eq(users.id, conversations.agentId))
    .where(eq(conversations.id, conversationId));
  if (!row) throw new AppError('not_found', 'no such conversation');
  const {
    numberKind,
    flowAllowsAgentAttachments,
    dispositionCode,
    queueDispositions,
    queueDispositionRequired,
    ...fields
  } = row;
  // The queue's codes now: what the End dialog offers, and the labels of the one picked.
  const dispositions = queueDispositions ?? [];
  const conversation = {
    ...fields,
    disposition:
      dispositionCode === null
        ? null
        : {
            code: dispositionCode,
            label:
              dispositions.find((choice) => choice.code === dispositionCode)?.label ??
              dispositionCode,
          },
    dispositions,
    dispositionRequired: dispositions.length > 0 && (queueDispositionRequired ?? false),
    channel: channelOfKind(numberKind),
    // The composer offers attachments unless the number's flow refuses agents' ones.
    allowAttachments: flowAllowsAgentAttachments ?? true,
    serviceWindow: await serviceWindow(db, {
      numberId: fields.numberId,
      customerAddress: fields.customerAddress,
    }),
  };
  // Each message names its agent: a conversation may have changed hands since.
  const rows = (
    await db
      .select({ message: messages, agentName: users.name })
      .from(messages)
      .leftJoin(users, eq(users.id, messages.agentId))
      .where(eq(messages.conversationId, conversationId))
      .orderBy(asc(messages.createdAt))
  ).map((row) => ({ ...row.message, agentName: row.agentName }));
  const mediaRows = rows.length
    ? await db
        .select()
        .from(media)
        .where(
          inArray(
            media.messageId,
            rows.map((m) => m.id),
          ),
        )
        .orderBy(asc(media.position))
    : [];
  const [contact] = await db.select().from(contacts).where(eq(contacts.id, conversation.contactId));
  const [consent] = await db
    .select({ optedOut: consents.optedOut, changedAt: consents.changedAt })
    .from(consents)
    .where(
      and(
        eq(consents.contactId, conversation.contactId),
        eq(consents.sender, conversation.messagingServiceSid ?? conversation.numberAddress),
      ),
    );
  // The agent's original text when this conversation answers their origination and does
  // not start with it (conversations opened before originations joined them).
  const [affinityOffer] = await db
    .select({ originalText: offers.originalText })
    .from(offers)
    .where(and(eq(offers.conversationId, conversationId), isNotNull(offers.originalText)))
    .orderBy(desc(offers.createdAt))
    .limit(1);
  return {
    conversation,
    originalText: rows[0]?.author === 'agent' ? null : (affinityOffer?.originalText ?? null),
    activity: await readActivity(db, conversationId, dispositions),
    contact: contact && {
      id: contact.id,
      address: contact.address,
      name: contactName(contact),
      location: contact.attributes,
      optedOut: consent?.optedOut ?? false,
    },
    messages: rows.map((m) => ({
      id: m.id,
      direction: m.direction,
      author: m.author,
      agentId: m.agentId,
      agentName: m.agentName,
      body: m.body,
      status: m.status,
      errorCode: m.errorCode,
      errorMessage: m.errorMessage,
      segments: m.segments,
      contentSid: m.contentSid,
      sentAs: m.sentAs,
      redactedAt: m.redactedAt,
      createdAt: m.createdAt,
      media: mediaRows
        .filter((x) => x.messageId === m.id)
        .map((x) => ({
          id: x.id,
          contentType: x.contentType,
          status: x.status,
          url: x.status === 'stored' ? `/api/media/${x.id}` : null,
        })),
    })),
  };
}

/** How many open conversations a queue has in one state (queueId null: in no queue yet). */
export interface OpenConversationCount {
  queueId: string | null;
  queueName: string | null;
  state: Exclude<ConversationState, 'closed'>;
  count: number;
}

/**
 * Open conversations by queue and state, across the database, in one grouped query over
 * the open ones only (closed ones are the bulk of the table and no gauge's business).
 */
export async function countOpenConversations(db: Executor): Promise<OpenConversationCount[]> {
  return queryRows<OpenConversationCount>(
    db,
    sql`SELECT c.queue_id AS "queueId", q.name AS "queueName", c.state, count(*)::int AS count
        FROM conversations c LEFT JOIN queues q ON q.id = c.queue_id
        WHERE c.state <> 'closed'
        GROUP BY c.queue_id, q.name, c.state`,
  );
}
