/**
 * An agent's answer to an offer, and the offer timeout that answers for them.
 */
import { eq, inArray, sql } from 'drizzle-orm';
import { markOfferAccepted, markOfferEnded } from '../conversations/lifecycle.js';
import { conversations, offers } from '../db/schema.js';
import { type Db, queryRows, type Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { lockAgentsInOrder } from './agents.js';
import { assignWaiting } from './assignment.js';
import { releaseToQueue } from './offers.js';

type Decision = 'accept' | 'reject';

/** What happened to an offer found pending: decided as asked, or it was too late. */
type Settled =
  | { kind: 'decided'; conversationId: string; queueId: string | null }
  | { kind: 'expired'; queueId: string | null }
  | { kind: 'closed' };

/**
 * The agent accepts their pending offer: the conversation becomes active and pinned to them.
 * 404 when the offer is not theirs (others' offers are not revealed), 409 when it was
 * decided already, expired or its conversation closed.
 */
export async function acceptOffer(
  db: Db,
  offerId: string,
  agentId: string,
): Promise<{ conversationId: string }> {
  const settled = await decide(db, offerId, agentId, 'accept');
  return { conversationId: settled };
}

/** The agent turns their pending offer down: the conversation is offered to someone else. */
export async function rejectOffer(db: Db, offerId: string, agentId: string): Promise<void> {
  await decide(db, offerId, agentId, 'reject');
}

async function decide(
  db: Db,
  offerId: string,
  agentId: string,
  decision: Decision,
): Promise<string> {
  const settled = await inTransaction(db, async (tx): Promise<Settled> => {
    const [found] = await tx
      .select({ conversationId: offers.conversationId, agentId: offers.agentId })
      .from(offers)
      .where(eq(offers.id, offerId));
    if (!found || found.agentId !== agentId) throw new AppError('not_found', 'no such offer');
    // Conversation first, then offer: the order every routing transaction locks them in.
    const [conversation] = await tx
      .select({ state: conversations.state, queueId: conversations.queueId })
      .from(conversations)
      .where(eq(conversations.id, found.conversationId))
      .for('no key update');
    const [offer] = await queryRows<{ state: string; expired: boolean }>(
      tx,
      sql`SELECT state, expires_at <= now() AS expired FROM offers WHERE id = ${offerId} FOR NO KEY UPDATE`,
    );
    if (offer?.state !== 'pending') {
      throw new AppError('conflict', `the offer was ${offer?.state ?? 'withdrawn'} already`);
    }
    if (!conversation || conversation.state === 'closed') {
      await settle(tx, offerId, found.conversationId, agentId, 'canceled');
      return { kind: 'closed' };
    }
    if (offer.expired) {
      await settle(tx, offerId, found.conversationId, agentId, 'timed-out');
      return { kind: 'expired', queueId: conversation.queueId };
    }
    await settle(
      tx,
      offerId,
      found.conversationId,
      agentId,
      decision === 'accept' ? 'accepted' : 'rejected',
    );
    return { kind: 'decided', conversationId: found.conversationId, queueId: conversation.queueId };
  });
  if (settled.kind === 'closed') {
    throw new AppError('conflict', 'the conversation was closed before the offer was accepted');
  }
  // A requeued conversation is offered to the next agent now rather than at the next wake-up.
  if ((settled.kind === 'expired' || decision === 'reject') && settled.queueId) {
    await assignWaiting(db, { queueIds: [settled.queueId] });
  }
  if (settled.kind === 'expired') throw new AppError('conflict', 'the offer has expired');
  return settled.conversationId;
}

type Final = 'accepted' | 'rejected' | 'timed-out' | 'canceled';

/**
 * Records an agent's (or the clock's) answer to a pending offer whose conversation and offer
 * rows the caller has locked: accepted makes the conversation active; otherwise it waits in
 * its queue again (unless it closed).
 */
async function settle(
  tx: Tx,
  offerId: string,
  conversationId: string,
  agentId: string,
  state: Final,
): Promise<void> {
  await tx.update(offers).set({ state, decidedAt: sql`now()` }).where(eq(offers.id, offerId));
  switch (state) {
    case 'accepted':
      await markOfferAccepted(tx, conversationId, { offerId, agentId });
      return;
    case 'rejected':
      await releaseToQueue(tx, conversationId, { type: 'offer.rejected', offerId, agentId });
      return;
    case 'timed-out':
      await releaseToQueue(tx, conversationId, { type: 'offer.timed-out', offerId, agentId });
      return;
    case 'canceled':
      await markOfferEnded(
        tx,
        conversationId,
        { type: 'offer.canceled', offerId, agentId, why: 'conversation-closed' },
        { requeue: false },
      );
      return;
  }
}

/**
 * Times out due offers, a batch at a time: each goes back to its queue (the wake-up it sends
 * offers it to the next agent). Offers are claimed with SKIP LOCKED, and their conversations
 * too (an agent accepting at this moment holds the conversation: we leave that offer to
 * them), so instances share the work and never wait on each other. Returns the queues that
 * got a conversation back, and how many offers were due.
 */
export async function expireOffers(
  db: Db,
  limit: number,
): Promise<{ expired: number; queueIds: string[] }> {
  return inTransaction(db, async (tx) => {
    const due = await queryRows<{ id: string; conversation_id: string; agent_id: string }>(
      tx,
      sql`SELECT id, conversation_id, agent_id FROM offers
          WHERE state = 'pending' AND expires_at <= now()
          ORDER BY expires_at LIMIT ${limit}
          FOR NO KEY UPDATE SKIP LOCKED`,
    );
    if (due.length === 0) return { expired: 0, queueIds: [] };
    const locked = await tx
      .select({ id: conversations.id, state: conversations.state, queueId: conversations.queueId })
      .from(conversations)
      .where(
        inArray(
          conversations.id,
          due.map((offer) => offer.conversation_id),
        ),
      )
      .for('no key update', { skipLocked: true });
    const byId = new Map(locked.map((row) => [row.id, row]));
    // Settling lowers each agent's load, on their row: several agents' rows, in routing's order.
    await lockAgentsInOrder(
      tx,
      due.filter((offer) => byId.has(offer.conversation_id)).map((offer) => offer.agent_id),
    );
    const queueIds = new Set<string>();
    for (const offer of due) {
      const conversation = byId.get(offer.conversation_id);
      if (!conversation) continue;
      const closed = conversation.state === 'closed';
      await settle(
        tx,
        offer.id,
        offer.conversation_id,
        offer.agent_id,
        closed ? 'canceled' : 'timed-out',
      );
      if (!closed && conversation.queueId) queueIds.add(conversation.queueId);
    }
    return { expired: due.length, queueIds: [...queueIds] };
  });
}
