/**
 * Read models over conversations for the desk and the supervisor: what a user has not read
 * yet, and the list of conversations by state. Reads only.
 */

import { sql } from 'drizzle-orm';
import { type Channel, channelOfKind } from '../addresses.js';
import { CONVERSATION_STATES } from '../db/schema.js';
import { type Executor, queryRows } from '../db/store.js';

export type ConversationState = (typeof CONVERSATION_STATES)[number];

export interface LastMessage {
  body: string;
  direction: 'inbound' | 'outbound';
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
    created_ms: number | null;
  }>(
    db,
    sql`SELECT c.id,
          (SELECT count(*)::int FROM messages m
            WHERE m.conversation_id = c.id AND m.direction = 'inbound'
              AND (r.read_at IS NULL OR m.created_at > r.read_at)) AS unread,
          last.body, last.direction, last.created_ms
        FROM conversations c
        LEFT JOIN conversation_reads r ON r.conversation_id = c.id AND r.user_id = ${userId}
        LEFT JOIN LATERAL (
          SELECT m.body, m.direction,
            (extract(epoch FROM m.created_at) * 1000)::float8 AS created_ms
          FROM messages m WHERE m.conversation_id = c.id
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
          row.direction === null || row.created_ms === null
            ? null
            : {
                body: row.body ?? '',
                direction: row.direction,
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
