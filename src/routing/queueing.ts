/**
 * Conversations entering queues, and where they stand there.
 */
import { eq, inArray, sql } from 'drizzle-orm';
import { type Channel, channelOfKind } from '../addresses.js';
import { markOpenedQueued, markQueued } from '../conversations/lifecycle.js';
import { conversations, flows, numbers, queues } from '../db/schema.js';
import { type Db, queryRows, type Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { findAffinity } from './affinity.js';
import { type LockedAgent, lockAgent, peekAgent } from './agents.js';
import { placeJustQueued, type QueueSettings } from './assignment.js';
import { DEFAULT_OFFER_TIMEOUT_SECONDS, handOver } from './offers.js';
import { wakeRouting } from './wake-ups.js';

/**
 * Hands a conversation that has been through its flow to routing: it waits in the queue
 * (queueId, else its number's flow's queue), and in the same transaction is offered to the
 * agent of an unexpired affinity who can take it, else to the agent the queue's strategy
 * prefers. If nobody can take it now, the routing workers of every instance are woken to
 * place it when someone can. A conversation no longer in its flow (already queued, taken or
 * closed) is left as it is, so a repeated call is harmless. Without any queue it waits for
 * an affinity agent or a supervisor.
 */
export async function queueConversation(
  db: Db,
  conversationId: string,
  queueId: string | null,
): Promise<void> {
  await inTransaction(db, async (tx) => {
    const [conversation] = await tx
      .select({
        state: conversations.state,
        numberId: conversations.numberId,
        customerAddress: conversations.customerAddress,
        kind: numbers.kind,
        flowQueueId: flows.queueId,
      })
      .from(conversations)
      .innerJoin(numbers, eq(numbers.id, conversations.numberId))
      .leftJoin(flows, eq(flows.id, numbers.flowId))
      .where(eq(conversations.id, conversationId))
      .for('no key update', { of: conversations });
    if (!conversation) throw new AppError('not_found', `no conversation ${conversationId}`);
    if (conversation.state !== 'flow') return;

    const targetQueueId = queueId ?? conversation.flowQueueId;
    const queue = targetQueueId
      ? (await queueSettings(tx, [targetQueueId])).get(targetQueueId)
      : undefined;
    if (targetQueueId && !queue) throw new AppError('not_found', `no queue ${targetQueueId}`);
    await markQueued(tx, conversationId, targetQueueId);

    const channel = channelOfKind(conversation.kind);
    const affinity = await findAffinity(tx, conversation.numberId, conversation.customerAddress);
    // The affinity's agent is read first without the lock, and locked only when they look
    // able to take it: a transaction holding an agent's row leaves its queue to a pass.
    const mayTake = (agent: LockedAgent | undefined, beyondCapacity: boolean) =>
      agent?.presence === 'available' &&
      agent.enabled &&
      (agent.load < agent.capacity || beyondCapacity);
    if (
      affinity &&
      mayTake(await peekAgent(tx, affinity.agentId, channel), affinity.beyondCapacity) &&
      mayTake(await lockAgent(tx, affinity.agentId, channel), affinity.beyondCapacity)
    ) {
      await handOver(tx, {
        conversationId,
        agentId: affinity.agentId,
        reason: 'affinity',
        originalText: affinity.originalText,
        queueId: targetQueueId,
        timeoutSeconds: queue?.offerTimeoutSeconds ?? DEFAULT_OFFER_TIMEOUT_SECONDS,
        autoAccept: queue?.autoAccept ?? false,
      });
      return;
    }
    if (!queue) return;
    if ((await placeJustQueued(tx, queue, [channel])).has(conversationId)) return;
    await wakeRouting(tx, { queueId: queue.id });
  });
}

/**
 * A queue's conversations queued together up to this many are offered at once; a burst is
 * a pass's work, which places it in batches while the burst's webhooks are answered.
 */
const OFFERED_AT_ONCE_MAX = 16;

/**
 * queueConversation for conversations just opened in the caller's transaction already
 * waiting in their queue (or, without one, for a supervisor: see openConversations'
 * `queuedIn`), in a few statements for all. A few are offered in the same transaction,
 * with their queue's older waiting conversations first, as a pass would (placeJustQueued).
 * The queues of those left waiting are woken on every instance at commit, for a pass. The
 * caller leaves out conversations with an affinity (queueConversation offers those to the
 * affinity's agent). Returns the conversations left waiting, with the queue woken for them.
 */
export async function queueFromFlow(
  tx: Tx,
  entries: readonly { conversationId: string; queueId: string | null; channel: Channel }[],
): Promise<Map<string, string>> {
  const waiting = new Map<string, string>();
  if (entries.length === 0) return waiting;
  await markOpenedQueued(tx, entries);
  const byQueue = new Map<string, { conversationId: string; channel: Channel }[]>();
  for (const entry of entries) {
    if (entry.queueId === null) continue;
    const inQueue = byQueue.get(entry.queueId);
    if (inQueue) inQueue.push(entry);
    else byQueue.set(entry.queueId, [entry]);
  }
  const offeredNow = [...byQueue].filter(([, inQueue]) => inQueue.length <= OFFERED_AT_ONCE_MAX);
  const settings =
    offeredNow.length > 0
      ? await queueSettings(
          tx,
          offeredNow.map(([queueId]) => queueId),
        )
      : new Map<string, QueueSettings>();
  for (const [queueId, inQueue] of byQueue) {
    const queue = settings.get(queueId);
    const placed = queue
      ? await placeJustQueued(
          tx,
          queue,
          inQueue.map((entry) => entry.channel),
        )
      : new Set<string>();
    for (const { conversationId } of inQueue) {
      if (!placed.has(conversationId)) waiting.set(conversationId, queueId);
    }
  }
  for (const queueId of new Set(waiting.values())) await wakeRouting(tx, { queueId });
  return waiting;
}

/** What offering needs of these queues, by id; a queue that does not exist is absent. */
async function queueSettings(tx: Tx, ids: readonly string[]): Promise<Map<string, QueueSettings>> {
  const rows = await tx
    .select({
      id: queues.id,
      strategy: queues.strategy,
      offerTimeoutSeconds: queues.offerTimeoutSeconds,
      autoAccept: queues.autoAccept,
      lastOfferedAgentId: queues.lastOfferedAgentId,
    })
    .from(queues)
    .where(inArray(queues.id, [...ids]));
  return new Map(rows.map((queue) => [queue.id, queue]));
}

export interface QueuePosition {
  /** 1 for the next conversation to be offered. */
  position: number;
  /** Null while the queue has too little recent history to say. */
  estimatedWaitSeconds: number | null;
}

/** Recent answered conversations an estimate needs, and how far back it looks. */
const MIN_SAMPLES = 3;
const SAMPLES = 50;

/**
 * Where a waiting conversation stands in its queue, and roughly how much longer it will
 * wait: the median of the queue's recent waits (queued to accepted, last hour, last 50),
 * less what this one has waited already. Null when it is not waiting in a queue.
 */
export async function queuePosition(db: Db, conversationId: string): Promise<QueuePosition | null> {
  const [row] = await queryRows<{ queue_id: string; ahead: number; waited: number }>(
    db,
    sql`SELECT c.queue_id,
          (SELECT count(*)::int FROM conversations w
           WHERE w.queue_id = c.queue_id AND w.state = 'queued'
             AND (w.queued_at, w.id) < (c.queued_at, c.id)) AS ahead,
          extract(epoch FROM now() - c.queued_at)::float8 AS waited
        FROM conversations c
        WHERE c.id = ${conversationId} AND c.state = 'queued' AND c.queue_id IS NOT NULL`,
  );
  if (!row) return null;
  const [history] = await queryRows<{ samples: number; median: number | null }>(
    db,
    sql`SELECT count(*)::int AS samples,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY wait)::float8 AS median
        FROM (
          SELECT extract(epoch FROM o.decided_at - c.queued_at) AS wait
          FROM offers o JOIN conversations c ON c.id = o.conversation_id
          WHERE c.queue_id = ${row.queue_id} AND o.reason = 'queue' AND o.state = 'accepted'
            AND o.decided_at > now() - interval '1 hour' AND o.decided_at >= c.queued_at
          ORDER BY o.decided_at DESC
          LIMIT ${SAMPLES}) recent`,
  );
  const estimate =
    history && history.samples >= MIN_SAMPLES && history.median !== null
      ? Math.max(0, Math.round(history.median - row.waited))
      : null;
  return { position: row.ahead + 1, estimatedWaitSeconds: estimate };
}
