/**
 * What routing asks about agents: who may take a queue's conversations, how loaded they are,
 * and the row lock that serialises every decision adding to an agent's load.
 *
 * Load: the conversations offered to or active with an agent, per channel. Pending offers
 * count, so an agent is never offered more than they could accept; "busy" (at capacity) is
 * derived from it and never stored. The one deliberate excess is an affinity offer on a flow
 * that allows offering beyond capacity. The load is kept on the agent's row by a trigger on
 * conversations (migrations 0016, 0022), so a conversation moving between agents, or several
 * agents' conversations ending in one transaction, lock their rows: in id order, first
 * (lockAgentsInOrder), as passes do.
 */
import { type SQL, sql } from 'drizzle-orm';
import { CHANNELS, kindOnChannel, perChannel } from '../addresses.js';
import { type Executor, queryPrepared, type Tx } from '../db/store.js';
import type { Presence } from '../events.js';
import type { Candidate, Channel, RankKey } from './candidate-pool.js';

export type { Channel } from './candidate-pool.js';

/** SQL: the number aliased `n` is on the channel. */
export function onChannel(channel: Channel): SQL {
  return kindOnChannel(sql`n.kind`, channel);
}

// Agent `u` may take the conversations of queue `q` now, membership aside: available,
// enabled, speaking the queue's language (if it has one) and at or above every required
// skill level.
const QUALIFIED = `u.presence = 'available' AND u.disabled_at IS NULL
  AND (q.language IS NULL OR EXISTS (
    SELECT 1 FROM unnest(u.languages) AS spoken(language)
    WHERE lower(spoken.language) = lower(q.language)))
  AND NOT EXISTS (
    SELECT 1 FROM jsonb_each(q.required_skills) AS required(skill, level)
    WHERE NOT coalesce((u.skills -> required.skill) >= required.level, false))`;

/** SQL: agent `u` may take the conversations of queue `q` now: a member, and as above. */
export const ELIGIBLE_FOR_QUEUE = sql.raw(`(${QUALIFIED}
  AND EXISTS (SELECT 1 FROM queue_members m WHERE m.queue_id = q.id AND m.user_id = u.id))`);

// The per-channel columns are named after the channel (load_sms, capacity_whatsapp,
// messenger_rank…), and a channel is one of CHANNELS, so writing its name into SQL is safe.

/** SQL: agent `u`'s load on the channel (kept by a trigger on conversations, schema.ts). */
function loadOn(channel: Channel): SQL {
  return sql.raw(`u.load_${channel}`);
}

/** SQL: agent `u`'s capacity on the channel. */
function capacityOn(channel: Channel): SQL {
  return sql.raw(`u.capacity_${channel}`);
}

/** SQL: queue member `qm`'s rank on the channel (kept by triggers, schema.ts). */
function rankOn(channel: Channel): SQL {
  return sql.raw(`qm.${channel}_rank`);
}

/** SQL: agent `u`'s capacity and load on every channel, as `capacity_<channel>`, `load_<channel>`. */
export const CAPACITIES_AND_LOADS = sql.raw(
  CHANNELS.map((channel) => `u.capacity_${channel}, u.load_${channel}`).join(', '),
);

/** A row read with CAPACITIES_AND_LOADS. */
export type CapacityAndLoadRow = Record<`capacity_${Channel}` | `load_${Channel}`, number>;

/** The capacities and loads of such a row, by channel. */
export function capacitiesAndLoads(row: CapacityAndLoadRow): {
  capacity: Record<Channel, number>;
  load: Record<Channel, number>;
} {
  return {
    capacity: perChannel((channel) => row[`capacity_${channel}`]),
    load: perChannel((channel) => row[`load_${channel}`]),
  };
}

interface RankedRow extends CapacityAndLoadRow {
  id: string;
  last_ended_ms: number | null;
  rank: number;
  idle: string;
}

/**
 * The queue's eligible members with room on the channel, in its strategy's order (kept in
 * queue_members' ranks and read from their index), after `after`; or only `agentId`, when
 * one agent's freed capacity is all there is to place.
 */
export async function rankedCandidates(
  db: Executor,
  queueId: string,
  channel: Channel,
  options: { after: RankKey | null; limit: number; agentId?: string },
): Promise<{ agent: Candidate; key: RankKey }[]> {
  const rank = rankOn(channel);
  const { after, agentId } = options;
  // Prepared, with the limit written in (a page size: a few distinct values), so that
  // PostgreSQL settles on the plan that walks the rank index and stops.
  const rows = await queryPrepared<RankedRow>(
    db,
    sql`SELECT u.id, (extract(epoch FROM u.last_conversation_ended_at) * 1000)::float8 AS last_ended_ms,
          ${CAPACITIES_AND_LOADS}, ${rank} AS rank, qm.idle_rank::text AS idle
        FROM queue_members qm
        JOIN queues q ON q.id = qm.queue_id
        JOIN users u ON u.id = qm.user_id
        WHERE qm.queue_id = ${queueId} AND ${rank} IS NOT NULL AND ${sql.raw(QUALIFIED)}
          ${after ? sql`AND (${rank}, qm.idle_rank, qm.user_id) > (${after.rank}::smallint, ${after.idle}::timestamptz, ${after.id}::uuid)` : sql``}
          ${agentId ? sql`AND qm.user_id = ${agentId}` : sql``}
        ORDER BY ${rank}, qm.idle_rank, qm.user_id
        LIMIT ${sql.raw(String(Math.trunc(options.limit)))}`,
  );
  return rows.map((row) => ({
    agent: {
      id: row.id,
      lastEndedAt: row.last_ended_ms,
      ...capacitiesAndLoads(row),
      gone: false,
    },
    key: {
      rank: row.rank,
      idle: row.idle,
      idleMs: row.idle === '-infinity' ? Number.NEGATIVE_INFINITY : (row.last_ended_ms ?? 0),
      id: row.id,
    },
  }));
}

/** An agent as seen under their row lock. */
export interface LockedAgent {
  id: string;
  presence: Presence;
  enabled: boolean;
  /** Eligible for the queue asked about; true when no queue was given. */
  eligible: boolean;
  capacity: number;
  /** Their load on the channel, read after the lock was granted. */
  load: number;
}

/**
 * The greatest agent id each open transaction has locked. Agents' rows are locked in id
 * order (see lockAgentsInOrder), so a transaction may wait for an agent's row only while
 * that agent comes after every agent it holds.
 */
const lastAgentLocked = new WeakMap<Tx, string>();

/** Records agents' rows the transaction has just locked. */
export function noteAgentsLocked(tx: Tx, agentIds: Iterable<string>): void {
  for (const id of agentIds) {
    const last = lastAgentLocked.get(tx);
    if (last === undefined || id > last) lastAgentLocked.set(tx, id);
  }
}

/** Whether the transaction holds any agent's row. */
export function holdsAgentLocks(tx: Tx): boolean {
  return lastAgentLocked.has(tx);
}

/**
 * Locks the agent's row and reads their load on the channel. Every transaction that changes
 * an agent's load updates this row (the load is kept on it), and one that adds to it holds
 * this lock from here to commit, so the load read under the lock (a locking read returns the
 * row's latest version once the lock is granted) includes every earlier decision for this
 * agent, on any instance. Undefined when there is no such user.
 *
 * NO KEY UPDATE rather than UPDATE: setting conversations.agent_id takes a KEY SHARE lock
 * on the user row (the foreign key), which NO KEY UPDATE does not wait for; the same holds
 * for queue and conversation rows throughout routing.
 */
export async function lockAgent(
  tx: Tx,
  agentId: string,
  channel: Channel,
  options: {
    queueId?: string | null;
    /** A conversation of theirs not to count: it is the one being decided. */
    excludeConversationId?: string;
  } = {},
): Promise<LockedAgent | undefined> {
  const agent = await readAgent(tx, agentId, channel, options, sql`FOR NO KEY UPDATE OF u`);
  if (agent) noteAgentsLocked(tx, [agentId]);
  return agent;
}

/**
 * The agent as lockAgent reads them, without the lock: what they were a moment ago, enough
 * to decide not to lock them (a decision to give them a conversation is taken under it).
 */
export async function peekAgent(
  executor: Executor,
  agentId: string,
  channel: Channel,
): Promise<LockedAgent | undefined> {
  return readAgent(executor, agentId, channel, {}, sql``);
}

async function readAgent(
  executor: Executor,
  agentId: string,
  channel: Channel,
  options: { queueId?: string | null; excludeConversationId?: string },
  lock: SQL,
): Promise<LockedAgent | undefined> {
  const excluded = options.excludeConversationId
    ? sql`(SELECT count(*)::int FROM conversations c JOIN numbers n ON n.id = c.number_id
           WHERE c.id = ${options.excludeConversationId} AND c.agent_id = u.id
             AND c.state IN ('offered', 'active') AND ${onChannel(channel)})`
    : sql`0`;
  const [row] = await queryPrepared<Omit<LockedAgent, 'id'>>(
    executor,
    sql`SELECT u.presence, u.disabled_at IS NULL AS enabled,
          ${options.queueId ? sql`${ELIGIBLE_FOR_QUEUE}` : sql`true`} AS eligible,
          ${capacityOn(channel)} AS capacity, ${loadOn(channel)} - ${excluded} AS load
        FROM users u ${options.queueId ? sql`JOIN queues q ON q.id = ${options.queueId}` : sql``}
        WHERE u.id = ${agentId}
        ${lock}`,
  );
  return row && { id: agentId, ...row };
}

/**
 * Locks the rows of agents whose load the caller is about to change, in id order: a
 * transaction moving conversations between several agents (or ending several agents'
 * conversations) takes their locks in the order routing's passes take them, so the two
 * cannot deadlock.
 */
export async function lockAgentsInOrder(tx: Tx, agentIds: Iterable<string | null>): Promise<void> {
  const ids = [...new Set([...agentIds].filter((id): id is string => id !== null))];
  if (ids.length === 0) return;
  await tx.execute(
    sql`SELECT 1 FROM users WHERE id IN (${sql.join(
      ids.map((id) => sql`${id}`),
      sql`, `,
    )}) ORDER BY id FOR NO KEY UPDATE`,
  );
  noteAgentsLocked(tx, ids);
}
