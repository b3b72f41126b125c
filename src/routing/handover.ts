/**
 * What agents and supervisors do with a conversation once routed: end it, transfer it to an
 * agent or a queue with a note, or (supervisors) reassign it. The conversation keeps its id,
 * messages and events; only who holds it changes.
 */
import { eq, sql } from 'drizzle-orm';
import { type Channel, channelOfKind } from '../addresses.js';
import type { Role } from '../auth/users.js';
import { markReassigned, markTransferred, type WrapUp } from '../conversations/lifecycle.js';
import { conversations, numbers, queues, users } from '../db/schema.js';
import type { Db, Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { lockAgent, lockAgentsInOrder } from './agents.js';
import { assignWaiting } from './assignment.js';
import { cancelPendingOffer, DEFAULT_OFFER_TIMEOUT_SECONDS, handOver } from './offers.js';
import { wakeRouting } from './wake-ups.js';

/** Who is acting, as routing needs to know them. */
export interface Actor {
  id: string;
  role: Role;
}

interface LockedConversation {
  id: string;
  state: 'flow' | 'queued' | 'offered' | 'active' | 'closed';
  agentId: string | null;
  queueId: string | null;
  channel: Channel;
  offerTimeoutSeconds: number;
}

/**
 * Locks the conversation and checks the actor may act on it: supervisors and admins on any
 * open conversation, an agent only on the one active with them. Others' conversations are
 * reported absent rather than forbidden.
 */
async function lockForActor(
  tx: Tx,
  conversationId: string,
  actor: Actor,
): Promise<LockedConversation> {
  const [row] = await tx
    .select({
      id: conversations.id,
      state: conversations.state,
      agentId: conversations.agentId,
      queueId: conversations.queueId,
      kind: numbers.kind,
      offerTimeoutSeconds: queues.offerTimeoutSeconds,
    })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .leftJoin(queues, eq(queues.id, conversations.queueId))
    .where(eq(conversations.id, conversationId))
    .for('no key update', { of: conversations });
  if (!row || (actor.role === 'agent' && row.agentId !== actor.id)) {
    throw new AppError('not_found', 'no such conversation');
  }
  if (row.state === 'closed') throw new AppError('conflict', 'the conversation is closed');
  if (actor.role === 'agent' && row.state !== 'active') {
    throw new AppError('conflict', `the conversation is ${row.state}; accept the offer first`);
  }
  if (row.state === 'flow') {
    throw new AppError('conflict', 'the conversation is still in its flow, not yet routed');
  }
  return {
    id: row.id,
    state: row.state,
    agentId: row.agentId,
    queueId: row.queueId,
    channel: channelOfKind(row.kind),
    offerTimeoutSeconds: row.offerTimeoutSeconds ?? DEFAULT_OFFER_TIMEOUT_SECONDS,
  };
}

/**
 * Closes a conversation ended by `byUserId` in the caller's transaction, with the flow's
 * final response and survey: flows/closing.ts, above routing, given by the composition.
 */
export type CloseEnded = (
  tx: Tx,
  conversationId: string,
  close: { reason: 'ended'; byUserId: string; wrapUp: WrapUp },
) => Promise<unknown>;

/** What the person ending a conversation gives: a disposition code and a summary, both optional. */
export interface EndRequest {
  disposition?: string | undefined;
  summary?: string | undefined;
}

/**
 * Ends a conversation: closed by `close` (with the flow's final response and survey) with
 * its wrap-up, the agent's capacity freed and given to the next waiting conversation. The
 * disposition must be one of the conversation's queue's codes, and is required when the
 * queue says so.
 */
export async function endConversation(
  db: Db,
  conversationId: string,
  actor: Actor,
  close: CloseEnded,
  request: EndRequest = {},
): Promise<void> {
  const freed = await inTransaction(db, async (tx) => {
    const conversation = await lockForActor(tx, conversationId, actor);
    const wrapUp = await checkWrapUp(tx, conversation.queueId, request);
    const holder =
      conversation.state === 'active' || conversation.state === 'offered'
        ? conversation.agentId
        : null;
    if (holder) {
      // Longest-idle counts from the end of a conversation the agent actually worked.
      if (conversation.state === 'active') {
        await tx
          .update(users)
          .set({ lastConversationEndedAt: sql`now()` })
          .where(eq(users.id, holder));
      }
      await wakeRouting(tx, { agentId: holder });
    }
    await close(tx, conversation.id, { reason: 'ended', byUserId: actor.id, wrapUp });
    return holder;
  });
  if (freed) await assignWaiting(db, { agentId: freed });
}

/**
 * The wrap-up of an ending, checked against the queue's codes as they are now: an unknown
 * code, or none where the queue requires one, is refused with the codes to pick from.
 */
async function checkWrapUp(tx: Tx, queueId: string | null, request: EndRequest): Promise<WrapUp> {
  const disposition = request.disposition?.trim() || null;
  const summary = request.summary?.trim() || null;
  const [queue] = queueId
    ? await tx
        .select({
          name: queues.name,
          dispositions: queues.dispositions,
          required: queues.dispositionRequired,
        })
        .from(queues)
        .where(eq(queues.id, queueId))
    : [];
  const codes = queue?.dispositions ?? [];
  const choices = codes.map((choice) => `${choice.code} (${choice.label})`).join(', ');
  if (disposition === null) {
    if (queue?.required && codes.length > 0) {
      throw new AppError(
        'bad_request',
        `Pick a disposition to end this conversation (queue ${queue.name} requires one): ${choices}`,
        'disposition',
      );
    }
  } else if (!codes.some((choice) => choice.code === disposition)) {
    throw new AppError(
      'bad_request',
      codes.length > 0
        ? `disposition: ${disposition} is not one of queue ${queue!.name}'s dispositions: ${choices}`
        : `disposition: ${queue ? `queue ${queue.name}` : 'a conversation without a queue'} has no dispositions to pick from`,
      'disposition',
    );
  }
  return { disposition, summary };
}

export type TransferTarget = { toAgentId: string } | { toQueueId: string };

/**
 * Transfers a conversation, with an optional note, to another agent (who gets an offer and
 * must be available with room) or to a queue (where it waits from now). By the agent it is
 * active with, or a supervisor or admin.
 */
export async function transferConversation(
  db: Db,
  conversationId: string,
  actor: Actor,
  target: TransferTarget,
  note: string | null,
): Promise<void> {
  const result = await inTransaction(db, async (tx) => {
    const conversation = await lockForActor(tx, conversationId, actor);
    const toAgentId = 'toAgentId' in target ? target.toAgentId : null;
    const toQueueId = 'toQueueId' in target ? target.toQueueId : null;
    if (toQueueId) {
      // Shared: an archive of the queue at the same moment waits for the transfer, then
      // finds the conversation waiting in it and refuses (and the other way round).
      const [queue] = await tx
        .select({ name: queues.name, archivedAt: queues.archivedAt })
        .from(queues)
        .where(eq(queues.id, toQueueId))
        .for('share');
      if (!queue) throw new AppError('bad_request', 'no such queue', 'toQueueId');
      if (queue.archivedAt) {
        throw new AppError(
          'bad_request',
          `toQueueId: queue ${queue.name} is archived; transfer to another queue`,
          'toQueueId',
        );
      }
    }
    if (toAgentId && toAgentId === conversation.agentId) {
      throw new AppError('conflict', 'the conversation is already with that agent', 'toAgentId');
    }
    const from = conversation.agentId;
    // The conversation leaves one agent's load for another's: both rows, in routing's order.
    await lockAgentsInOrder(tx, [from, toAgentId]);
    await cancelPendingOffer(tx, conversation.id, 'transferred', { requeue: false });
    if (toAgentId) {
      const agent = await lockAgent(tx, toAgentId, conversation.channel);
      if (!agent?.enabled) throw new AppError('bad_request', 'no such agent', 'toAgentId');
      if (agent.presence !== 'available') {
        throw new AppError('conflict', `that agent is ${agent.presence}`, 'toAgentId');
      }
      if (agent.load >= agent.capacity) {
        throw new AppError(
          'conflict',
          'that agent has no room for another conversation',
          'toAgentId',
        );
      }
    }
    await markTransferred(tx, conversation.id, {
      fromAgentId: from,
      toAgentId,
      toQueueId,
      note,
      byUserId: actor.id,
    });
    if (toQueueId) await wakeRouting(tx, { queueId: toQueueId });
    if (from) await wakeRouting(tx, { agentId: from });
    if (toAgentId) {
      await handOver(tx, {
        conversationId: conversation.id,
        agentId: toAgentId,
        reason: 'transfer',
        originalText: null,
        queueId: conversation.queueId,
        timeoutSeconds: conversation.offerTimeoutSeconds,
        autoAccept: false,
      });
    }
    return { from, toQueueId };
  });
  if (result.toQueueId) await assignWaiting(db, { queueIds: [result.toQueueId] });
  if (result.from) await assignWaiting(db, { agentId: result.from });
}

/**
 * A supervisor gives a conversation to an agent directly: active with them at once, within
 * their capacity, unless they are offline.
 */
export async function reassignConversation(
  db: Db,
  conversationId: string,
  actor: Actor,
  agentId: string,
): Promise<void> {
  const from = await inTransaction(db, async (tx) => {
    const conversation = await lockForActor(tx, conversationId, actor);
    if (conversation.agentId === agentId && conversation.state === 'active') {
      throw new AppError('conflict', 'the conversation is already with that agent', 'agentId');
    }
    // The conversation leaves one agent's load for another's: both rows, in routing's order.
    await lockAgentsInOrder(tx, [conversation.agentId, agentId]);
    // A conversation offered to this very agent is in their load already.
    const agent = await lockAgent(tx, agentId, conversation.channel, {
      excludeConversationId: conversation.id,
    });
    if (!agent?.enabled) throw new AppError('bad_request', 'no such agent', 'agentId');
    if (agent.presence === 'offline')
      throw new AppError('conflict', 'that agent is offline', 'agentId');
    if (agent.load >= agent.capacity) {
      throw new AppError('conflict', 'that agent has no room for another conversation', 'agentId');
    }
    const previous = conversation.agentId;
    await cancelPendingOffer(tx, conversation.id, 'reassigned', { requeue: false });
    await markReassigned(tx, conversation.id, {
      agentId,
      previousAgentId: previous,
      byUserId: actor.id,
    });
    if (previous && previous !== agentId) await wakeRouting(tx, { agentId: previous });
    return previous !== agentId ? previous : null;
  });
  if (from) await assignWaiting(db, { agentId: from });
}
