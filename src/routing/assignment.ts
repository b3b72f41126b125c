/**
 * Placing waiting conversations with agents who have room.
 *
 * A pass walks the queues with waiting conversations, highest priority first (then the one
 * waiting longest), and drains each with small transactions, each placing a batch:
 *   1. claim the queue's oldest waiting conversations (FOR NO KEY UPDATE SKIP LOCKED), so two
 *      instances never work on the same one;
 *   2. choose an agent for each by the queue's strategy, in memory (candidate-pool.ts),
 *      agents who already held that conversation last;
 *   3. lock the chosen agents' rows, in id order (an agent another instance's batch holds is
 *      waited for, not skipped: the strategy's order holds across instances, and the wait
 *      lasts one short transaction) and read their load again, in a new statement, so it
 *      includes every decision committed before the lock was granted;
 *   4. offer (or, auto-accepting, assign) each conversation whose agent is locked, eligible
 *      and under capacity; the others stay waiting and are claimed again next batch.
 * The database decides: the agent row lock serialises every decision adding to an agent's
 * load, the claim serialises decisions about a conversation, and the partial unique index
 * refuses a second pending offer. The in-memory ranking only saves a query per assignment;
 * batching saves a commit per assignment.
 */
import { eq, sql } from 'drizzle-orm';
import { CHANNELS, channelOfKind, perChannel } from '../addresses.js';
import { queues } from '../db/schema.js';
import { type Db, type Executor, queryPrepared, queryRows, type Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import {
  CAPACITIES_AND_LOADS,
  type CapacityAndLoadRow,
  capacitiesAndLoads,
  ELIGIBLE_FOR_QUEUE,
  holdsAgentLocks,
  noteAgentsLocked,
  onChannel,
  rankedCandidates,
} from './agents.js';
import { type Candidate, CandidatePool, type Channel, type Strategy } from './candidate-pool.js';
import { type Handover, handOverAll } from './offers.js';

/** Where to look; everywhere when empty. */
export interface AssignScope {
  /** Only these queues: conversations were queued there. */
  queueIds?: readonly string[];
  /** Only this agent's room: they ended or lost a conversation, or became available. */
  agentId?: string;
}

/** Conversations claimed per transaction. */
const BATCH = 64;

interface WaitingQueue {
  id: string;
  strategy: Strategy;
  offer_timeout_seconds: number;
  auto_accept: boolean;
  last_offered_agent_id: string | null;
}

/** SQL: the previous offers and assignments of conversation `c`, as { agentId: times }. */
const PREVIOUS_HOLDERS = sql.raw(`(
  SELECT coalesce(jsonb_object_agg(h.agent_id, h.times), '{}'::jsonb)
  FROM (SELECT e.agent_id, count(*) AS times FROM events e
        WHERE e.conversation_id = c.id AND e.agent_id IS NOT NULL
          AND e.type IN ('offer.created', 'conversation.assigned')
        GROUP BY e.agent_id) h
)`);

type Pools = Record<Channel, CandidatePool>;

/**
 * Offers waiting conversations within the scope to agents with room, until the queues are
 * empty or their agents full. Safe to run on several instances at once. Returns how many
 * conversations it handed over.
 */
export async function assignWaiting(
  db: Db,
  scope: AssignScope = {},
  options: { shouldStop?: () => boolean } = {},
): Promise<number> {
  if (scope.queueIds?.length === 0) return 0;
  return assignPass(db, scope, options.shouldStop ?? (() => false));
}

async function assignPass(db: Db, scope: AssignScope, shouldStop: () => boolean): Promise<number> {
  // One object per agent for the whole pass, so that the pools of every queue they are in
  // see the load this pass gave them.
  const agents = new Map<string, Candidate>();
  let handed = 0;
  for (const queue of await waitingQueues(db, scope)) {
    if (shouldStop()) break;
    const pool = (channel: Channel) =>
      new CandidatePool(
        queue.strategy,
        channel,
        async (executor, after, limit) => {
          const page = await rankedCandidates(executor, queue.id, channel, {
            after,
            limit,
            agentId: scope.agentId,
          });
          return page.map(({ agent, key }) => {
            const known = agents.get(agent.id);
            if (known) return { agent: known, key };
            agents.set(agent.id, agent);
            return { agent, key };
          });
        },
        { start: queue.last_offered_agent_id },
      );
    handed += await drainQueue(db, queue, perChannel(pool), shouldStop);
  }
  return handed;
}

/** Queues with waiting conversations, highest priority first, then the longest waiting. */
async function waitingQueues(db: Executor, scope: AssignScope): Promise<WaitingQueue[]> {
  const ids = scope.queueIds;
  return queryRows<WaitingQueue>(
    db,
    sql`SELECT q.id, q.strategy, q.offer_timeout_seconds, q.auto_accept, q.last_offered_agent_id
        FROM queues q
        CROSS JOIN LATERAL (
          SELECT c.queued_at FROM conversations c
          WHERE c.queue_id = q.id AND c.state = 'queued'
          ORDER BY c.queued_at LIMIT 1) oldest
        WHERE true
          ${
            ids
              ? sql`AND q.id IN (${sql.join(
                  ids.map((id) => sql`${id}`),
                  sql`, `,
                )})`
              : sql``
          }
          ${
            scope.agentId
              ? sql`AND EXISTS (SELECT 1 FROM queue_members m
                                WHERE m.queue_id = q.id AND m.user_id = ${scope.agentId})`
              : sql``
          }
        ORDER BY q.priority DESC, oldest.queued_at`,
  );
}

/**
 * Places the queue's waiting conversations batch by batch, until none waits or no agent
 * has room. Returns how many it handed over.
 */
async function drainQueue(
  db: Db,
  queue: WaitingQueue,
  pools: Pools,
  shouldStop: () => boolean,
): Promise<number> {
  let handed = 0;
  while (!shouldStop()) {
    const withRoom: Channel[] = [];
    for (const channel of CHANNELS) if (await pools[channel].hasRoom(db)) withRoom.push(channel);
    if (withRoom.length === 0) break;
    // Without room on some channel, only the other channels' conversations can be placed.
    const channels = withRoom.length === CHANNELS.length ? null : withRoom;
    const batch = await inTransaction(db, (tx) => placeBatch(tx, queue, channels, pools, BATCH));
    if (batch.claimed === 0) break;
    handed += batch.handed.length;
    // A batch that placed nothing has marked the agents it tried full or gone, so the next
    // one tries others, or the loop ends when none has room.
    for (const pool of Object.values(pools)) pool.compact();
  }
  return handed;
}

interface Claimed {
  id: string;
  /** Its number's kind. */
  kind: string;
  /** { agentId: times } of earlier offers and assignments of this conversation. */
  previous: Record<string, number>;
}

interface Plan {
  conversation: Claimed;
  channel: Channel;
  agent: Candidate;
}

async function placeBatch(
  tx: Tx,
  queue: WaitingQueue,
  channels: readonly Channel[] | null,
  pools: Pools,
  limit: number,
): Promise<{ claimed: number; handed: string[] }> {
  const claimed = await claimOldest(tx, queue.id, channels, limit);
  if (claimed.length === 0) return { claimed: 0, handed: [] };
  let cursor = queue.strategy === 'round-robin' ? await lockRoundRobinCursor(tx, queue.id) : null;

  // Choose, counting each choice into the agent's load so the next choice sees it.
  const plans: Plan[] = [];
  for (const conversation of claimed) {
    const conversationChannel = channelOfKind(conversation.kind);
    const pool = pools[conversationChannel];
    const agent = await pool.best(tx, new Map(Object.entries(conversation.previous)), cursor);
    if (!agent) continue;
    agent.load[conversationChannel] += 1;
    pool.touched(agent);
    if (queue.strategy === 'round-robin') cursor = agent.id;
    plans.push({ conversation, channel: conversationChannel, agent });
  }
  if (plans.length === 0) return { claimed: claimed.length, handed: [] };
  for (const plan of plans) plan.agent.load[plan.channel] -= 1;

  // Check the choices under the agents' row locks.
  const locked = await lockAgents(tx, queue.id, [...new Set(plans.map((p) => p.agent.id))]);
  const handovers: Handover[] = [];
  let lastAgentId: string | undefined;
  for (const plan of plans) {
    const { agent, channel: planChannel } = plan;
    const current = locked.get(agent.id);
    if (!current?.eligible) {
      agent.gone = true;
    } else {
      // The load read under the lock, plus what this batch has given them so far.
      Object.assign(agent.capacity, current.capacity);
      Object.assign(agent.load, current.load);
      if (agent.load[planChannel] < agent.capacity[planChannel]) {
        current.load[planChannel] += 1;
        agent.load[planChannel] += 1;
        lastAgentId = agent.id;
        handovers.push({
          conversationId: plan.conversation.id,
          agentId: agent.id,
          reason: 'queue',
          originalText: null,
          queueId: queue.id,
          timeoutSeconds: queue.offer_timeout_seconds,
          autoAccept: queue.auto_accept,
        });
      }
    }
    for (const pool of Object.values(pools)) pool.touched(agent);
  }
  await handOverAll(tx, handovers);
  if (queue.strategy === 'round-robin' && lastAgentId) {
    await tx.update(queues).set({ lastOfferedAgentId: lastAgentId }).where(eq(queues.id, queue.id));
  }
  return { claimed: claimed.length, handed: handovers.map((h) => h.conversationId) };
}

/**
 * The queue's oldest waiting conversations not claimed by another transaction, with the
 * agents they were offered or assigned to before, from the event log (indexed by
 * conversation): a rejected or missed conversation goes to someone else.
 */
async function claimOldest(
  tx: Tx,
  queueId: string,
  channels: readonly Channel[] | null,
  limit: number,
): Promise<Claimed[]> {
  return queryRows<Claimed>(
    tx,
    sql`SELECT c.id, n.kind, ${PREVIOUS_HOLDERS} AS previous
        FROM conversations c JOIN numbers n ON n.id = c.number_id
        WHERE c.queue_id = ${queueId} AND c.state = 'queued'
          ${channels ? sql`AND (${sql.join(channels.map(onChannel), sql` OR `)})` : sql``}
        ORDER BY c.queued_at
        LIMIT ${limit}
        FOR NO KEY UPDATE OF c SKIP LOCKED`,
  );
}

export interface QueueSettings {
  id: string;
  strategy: Strategy;
  offerTimeoutSeconds: number;
  autoAccept: boolean;
  /** Round-robin's cursor as last read; placing reads it again under the queue's lock. */
  lastOfferedAgentId: string | null;
}

/** Candidates read first for conversations just queued: a short page, even in a busy queue. */
const JUST_QUEUED_CANDIDATES = 4;

/** Older waiting conversations placed with those just queued; more are a pass's. */
const JUST_QUEUED_OLDER = 4;

/**
 * Places conversations just queued in the caller's transaction, which holds their rows, as
 * one batch of a pass would, in a few statements however many there are: the queue's
 * oldest waiting on the channels given (one per entry of `channels`, and up to
 * JUST_QUEUED_OLDER before them; those another transaction is placing are left to it).
 * Returns the conversations handed over; the others are a pass's.
 * Nothing is placed when the transaction already holds an agent's row, since waiting for
 * the chosen agents could then take their locks out of order; nor when nobody has room, so
 * a queue with a backlog costs one short read rather than a claim.
 */
export async function placeJustQueued(
  tx: Tx,
  queue: QueueSettings,
  channels: readonly Channel[],
): Promise<Set<string>> {
  if (holdsAgentLocks(tx)) return new Set();
  const pools = perChannel(
    (channel) =>
      new CandidatePool(
        queue.strategy,
        channel,
        (db, after, limit) => rankedCandidates(db, queue.id, channel, { after, limit }),
        { start: queue.lastOfferedAgentId, firstPage: JUST_QUEUED_CANDIDATES },
      ),
  );
  const withRoom: Channel[] = [];
  for (const channel of new Set(channels))
    if (await pools[channel].hasRoom(tx)) withRoom.push(channel);
  if (withRoom.length === 0) return new Set();
  const batch = await placeBatch(
    tx,
    {
      id: queue.id,
      strategy: queue.strategy,
      offer_timeout_seconds: queue.offerTimeoutSeconds,
      auto_accept: queue.autoAccept,
      last_offered_agent_id: queue.lastOfferedAgentId,
    },
    withRoom,
    pools,
    channels.length + JUST_QUEUED_OLDER,
  );
  return new Set(batch.handed);
}

interface LockedCandidate {
  eligible: boolean;
  capacity: Record<Channel, number>;
  load: Record<Channel, number>;
}

/**
 * Locks the agents' rows in id order (two batches wanting the same agents wait for each
 * other in one order, so they cannot deadlock) and reads their loads from them: a locking
 * read returns each row's latest version, whose load includes every earlier decision for
 * that agent.
 */
async function lockAgents(
  tx: Tx,
  queueId: string,
  agentIds: readonly string[],
): Promise<Map<string, LockedCandidate>> {
  const rows = await queryRows<{ id: string; eligible: boolean } & CapacityAndLoadRow>(
    tx,
    sql`SELECT u.id, ${ELIGIBLE_FOR_QUEUE} AS eligible, ${CAPACITIES_AND_LOADS}
        FROM users u JOIN queues q ON q.id = ${queueId}
        WHERE u.id IN (${sql.join(
          agentIds.map((id) => sql`${id}`),
          sql`, `,
        )})
        ORDER BY u.id
        FOR NO KEY UPDATE OF u`,
  );
  noteAgentsLocked(tx, agentIds);
  return new Map(
    rows.map((row) => [row.id, { eligible: row.eligible, ...capacitiesAndLoads(row) }]),
  );
}

/**
 * Round-robin's cursor, read under the queue row's lock so that two instances assigning
 * from the same queue take turns rather than both starting after the same agent.
 */
async function lockRoundRobinCursor(tx: Tx, queueId: string): Promise<string | null> {
  const [row] = await queryPrepared<{ last_offered_agent_id: string | null }>(
    tx,
    sql`SELECT last_offered_agent_id FROM queues WHERE id = ${queueId} FOR NO KEY UPDATE`,
  );
  return row?.last_offered_agent_id ?? null;
}
