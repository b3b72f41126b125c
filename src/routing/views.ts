/**
 * Read models for the desk and the supervisor: an agent's conversations, and the queues'
 * live figures. Reads only.
 */

import { type SQL, sql } from 'drizzle-orm';
import { CHANNELS, type Channel, channelOfKind, kindOnChannel, perChannel } from '../addresses.js';
import type { Role } from '../auth/users.js';
import { type LastMessage, readStates } from '../conversations/views.js';
import { type Executor, queryRows } from '../db/store.js';
import type { Presence } from '../events.js';
import { CAPACITIES_AND_LOADS, type CapacityAndLoadRow, capacitiesAndLoads } from './agents.js';

export interface MyConversation {
  id: string;
  state: 'offered' | 'active';
  customerAddress: string;
  numberId: string;
  numberAddress: string;
  channel: Channel;
  queueId: string | null;
  lastMessageAt: Date;
  /** The pending offer, while the conversation is offered to the agent. */
  offerId: string | null;
  /** The customer's messages since the agent last marked it read. */
  unread: number;
  lastMessage: LastMessage | null;
}

/** Conversations offered to or active with the agent, most recently active first. */
export async function listMyConversations(
  db: Executor,
  agentId: string,
): Promise<MyConversation[]> {
  const rows = await queryRows<{
    id: string;
    state: 'offered' | 'active';
    customer_address: string;
    number_id: string;
    number_address: string;
    number_kind: string;
    queue_id: string | null;
    last_message_ms: number;
    offer_id: string | null;
  }>(
    db,
    sql`SELECT c.id, c.state, c.customer_address, c.number_id, n.address AS number_address,
          n.kind AS number_kind, c.queue_id,
          (extract(epoch FROM c.last_message_at) * 1000)::float8 AS last_message_ms,
          o.id AS offer_id
        FROM conversations c
        JOIN numbers n ON n.id = c.number_id
        LEFT JOIN offers o ON o.conversation_id = c.id AND o.state = 'pending'
        WHERE c.agent_id = ${agentId} AND c.state IN ('offered', 'active')
        ORDER BY c.last_message_at DESC`,
  );
  const reads = await readStates(
    db,
    agentId,
    rows.map((row) => row.id),
  );
  return rows.map((row) => ({
    id: row.id,
    state: row.state,
    customerAddress: row.customer_address,
    numberId: row.number_id,
    numberAddress: row.number_address,
    channel: channelOfKind(row.number_kind),
    queueId: row.queue_id,
    lastMessageAt: new Date(row.last_message_ms),
    offerId: row.offer_id,
    unread: reads.get(row.id)?.unread ?? 0,
    lastMessage: reads.get(row.id)?.lastMessage ?? null,
  }));
}

export interface Directory {
  agents: { id: string; name: string; role: Role; presence: Presence }[];
  queues: { id: string; name: string }[];
}

/**
 * Who and where a conversation can go: users not disabled and every queue, by name. Any
 * signed-in user may see it, to pick a transfer (or, for supervisors, a reassign) target.
 */
export async function directory(db: Executor): Promise<Directory> {
  const agents = await queryRows<{ id: string; name: string; role: Role; presence: Presence }>(
    db,
    sql`SELECT u.id, u.name, u.role, u.presence FROM users u
        WHERE u.disabled_at IS NULL ORDER BY u.name, u.id`,
  );
  const queues = await queryRows<{ id: string; name: string }>(
    db,
    sql`SELECT q.id, q.name FROM queues q WHERE q.archived_at IS NULL ORDER BY q.name, q.id`,
  );
  return { agents, queues };
}

export interface QueueStats {
  id: string;
  name: string;
  priority: number;
  strategy: string;
  waiting: number;
  /** Seconds the oldest waiting conversation has waited; 0 when none waits. */
  longestWaitSeconds: number;
  offered: number;
  active: number;
  /** Members by presence; busy: available but at capacity on every channel they serve. */
  agents: Record<Presence | 'busy', number>;
}

export interface AgentLoad {
  id: string;
  name: string;
  presence: Presence;
  presenceChangedAt: Date;
  load: Record<Channel, number>;
  capacity: Record<Channel, number>;
  busy: boolean;
}

/**
 * At capacity on every channel the agent's queues take conversations from (through the
 * flows of their numbers), or on every channel when their queues serve no number yet: an
 * agent full on SMS in an SMS-only contact center is busy, whatever room is left for
 * WhatsApp or Messenger.
 */
function isFull(
  agent: Pick<AgentLoad, 'load' | 'capacity'>,
  serves: Record<Channel, boolean>,
): boolean {
  const servesAny = CHANNELS.some((channel) => serves[channel]);
  return CHANNELS.every(
    (channel) => (servesAny && !serves[channel]) || agent.load[channel] >= agent.capacity[channel],
  );
}

/** SQL: agent `u` is in a queue whose flow answers a number on the channel. */
function servesChannel(channel: Channel): SQL {
  return sql`EXISTS (SELECT 1 FROM queue_members m JOIN flows f ON f.queue_id = m.queue_id
                     JOIN numbers sn ON sn.flow_id = f.id
                     WHERE m.user_id = u.id AND ${kindOnChannel(sql`sn.kind`, channel)})
               AS ${sql.raw(`serves_${channel}`)}`;
}

/** Every queue's waiting line and members, and every queue member's presence and load. */
export async function queueStats(
  db: Executor,
): Promise<{ queues: QueueStats[]; agents: AgentLoad[] }> {
  const agentRows = await queryRows<
    {
      id: string;
      name: string;
      presence: Presence;
      presence_changed_ms: number;
    } & CapacityAndLoadRow &
      Record<`serves_${Channel}`, boolean>
  >(
    db,
    sql`SELECT u.id, u.name, u.presence,
          (extract(epoch FROM u.presence_changed_at) * 1000)::float8 AS presence_changed_ms,
          ${CAPACITIES_AND_LOADS},
          ${sql.join(CHANNELS.map(servesChannel), sql`, `)}
        FROM users u
        WHERE u.disabled_at IS NULL
          AND EXISTS (SELECT 1 FROM queue_members m WHERE m.user_id = u.id)
        ORDER BY u.name, u.id`,
  );
  const agents: AgentLoad[] = agentRows.map((row) => {
    const room = capacitiesAndLoads(row);
    const serves = perChannel((channel) => row[`serves_${channel}`]);
    return {
      id: row.id,
      name: row.name,
      presence: row.presence,
      presenceChangedAt: new Date(row.presence_changed_ms),
      ...room,
      busy: row.presence === 'available' && isFull(room, serves),
    };
  });
  const byId = new Map(agents.map((agent) => [agent.id, agent]));

  const queueRows = await queryRows<{
    id: string;
    name: string;
    priority: number;
    strategy: string;
    waiting: number;
    longest_wait: number | null;
    offered: number;
    active: number;
    members: string[] | null;
  }>(
    db,
    sql`SELECT q.id, q.name, q.priority, q.strategy,
          coalesce(counts.waiting, 0) AS waiting, counts.longest_wait,
          coalesce(counts.offered, 0) AS offered, coalesce(counts.active, 0) AS active,
          (SELECT array_agg(m.user_id::text) FROM queue_members m WHERE m.queue_id = q.id) AS members
        FROM queues q
        LEFT JOIN (
          SELECT c.queue_id,
            count(*) FILTER (WHERE c.state = 'queued')::int AS waiting,
            extract(epoch FROM now() - min(c.queued_at) FILTER (WHERE c.state = 'queued'))::float8
              AS longest_wait,
            count(*) FILTER (WHERE c.state = 'offered')::int AS offered,
            count(*) FILTER (WHERE c.state = 'active')::int AS active
          FROM conversations c
          WHERE c.state IN ('queued', 'offered', 'active') AND c.queue_id IS NOT NULL
          GROUP BY c.queue_id) counts ON counts.queue_id = q.id
        -- An archived queue still shows while conversations are in it (with agents).
        WHERE q.archived_at IS NULL OR counts.queue_id IS NOT NULL
        ORDER BY q.priority DESC, q.name`,
  );
  const queues = queueRows.map((row): QueueStats => {
    const tally: Record<Presence | 'busy', number> = { available: 0, away: 0, offline: 0, busy: 0 };
    for (const memberId of row.members ?? []) {
      const agent = byId.get(memberId);
      if (!agent) continue;
      tally[agent.presence] += 1;
      if (agent.busy) tally.busy += 1;
    }
    return {
      id: row.id,
      name: row.name,
      priority: row.priority,
      strategy: row.strategy,
      waiting: row.waiting,
      longestWaitSeconds: Math.max(0, Math.round(row.longest_wait ?? 0)),
      offered: row.offered,
      active: row.active,
      agents: tally,
    };
  });
  return { queues, agents };
}
