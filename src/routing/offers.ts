/**
 * The writes and reads of the offers table. A conversation offered to an agent is 'offered'
 * with conversations.agent_id set to that agent (so it counts toward their load) and has
 * exactly one pending offer (a partial unique index makes a second one impossible).
 */

import { and, eq, sql } from 'drizzle-orm';
import { type Channel, channelOfKind } from '../addresses.js';
import { markHandedOver, markOfferEnded, type OfferEnd } from '../conversations/lifecycle.js';
import { offers } from '../db/schema.js';
import { type Executor, queryRows, type Tx } from '../db/store.js';
import type { CancelReason, OfferReason } from '../events.js';
import { wakeRouting } from './wake-ups.js';

/** Seconds an offer waits for the agent when the conversation has no queue to say. */
export const DEFAULT_OFFER_TIMEOUT_SECONDS = 30;

export interface Handover {
  conversationId: string;
  agentId: string;
  reason: OfferReason;
  originalText: string | null;
  queueId: string | null;
  timeoutSeconds: number;
  /** Skip the offer: the conversation is active with the agent at once. */
  autoAccept: boolean;
}

/**
 * Offers a conversation to an agent, or with auto-accept makes it active with them (an
 * accepted offer row still records who got it, when, and why). The caller holds the
 * conversation's row lock and the agent's (lockAgent), and has checked their room.
 */
export async function handOver(tx: Tx, handover: Handover): Promise<string> {
  const [offerId] = await handOverAll(tx, [handover]);
  return offerId!;
}

/** handOver for several conversations in one statement each for offers and conversations. */
export async function handOverAll(tx: Tx, handovers: readonly Handover[]): Promise<string[]> {
  if (handovers.length === 0) return [];
  const created = await tx
    .insert(offers)
    .values(
      handovers.map((h) => ({
        conversationId: h.conversationId,
        agentId: h.agentId,
        state: h.autoAccept ? ('accepted' as const) : ('pending' as const),
        reason: h.reason,
        originalText: h.originalText,
        expiresAt: sql`now() + make_interval(secs => ${h.timeoutSeconds})`,
        decidedAt: h.autoAccept ? sql`now()` : null,
      })),
    )
    .returning({
      id: offers.id,
      conversationId: offers.conversationId,
      expiresAt: offers.expiresAt,
    });
  const byConversation = new Map(created.map((offer) => [offer.conversationId, offer]));
  await markHandedOver(
    tx,
    handovers.map((h) => {
      const offer = byConversation.get(h.conversationId)!;
      return { ...h, offerId: offer.id, expiresAt: offer.expiresAt };
    }),
  );
  return handovers.map((h) => byConversation.get(h.conversationId)!.id);
}

/**
 * Withdraws the conversation's pending offer, if it has one, and puts the conversation back
 * in its queue unless it is closing. The caller holds the conversation's row lock.
 * Returns the agent the offer was for.
 */
export async function cancelPendingOffer(
  tx: Tx,
  conversationId: string,
  why: CancelReason,
  options: { requeue: boolean },
): Promise<string | undefined> {
  const [offer] = await tx
    .update(offers)
    .set({ state: 'canceled', decidedAt: sql`now()` })
    .where(and(eq(offers.conversationId, conversationId), eq(offers.state, 'pending')))
    .returning({ id: offers.id, agentId: offers.agentId });
  if (!offer) return undefined;
  const end = { type: 'offer.canceled' as const, offerId: offer.id, agentId: offer.agentId, why };
  if (options.requeue) await releaseToQueue(tx, conversationId, end);
  else await markOfferEnded(tx, conversationId, end, { requeue: false });
  return offer.agentId;
}

/**
 * The offer ended without an accept: an offered conversation goes back to waiting, keeping
 * its place (queued_at) in its queue, and every instance is woken to offer it to someone
 * else.
 */
export async function releaseToQueue(
  tx: Tx,
  conversationId: string,
  end: OfferEnd,
): Promise<string | null> {
  const queueId = await markOfferEnded(tx, conversationId, end, { requeue: true });
  if (queueId) await wakeRouting(tx, { queueId });
  return queueId;
}

/** An agent's pending offer, with what the desk shows to decide on it. */
export interface PendingOffer {
  id: string;
  conversationId: string;
  reason: OfferReason;
  /** The agent's original outbound text, when the customer is answering it (affinity). */
  originalText: string | null;
  expiresAt: Date;
  createdAt: Date;
  conversation: {
    customerAddress: string;
    numberId: string;
    numberAddress: string;
    channel: Channel;
    queueId: string | null;
    queueName: string | null;
    queuedAt: Date | null;
    lastMessageAt: Date;
  };
  /** The note of the transfer that brought this offer, if one did. */
  transferNote: string | null;
}

interface PendingOfferRow {
  id: string;
  conversation_id: string;
  reason: OfferReason;
  original_text: string | null;
  expires_ms: number;
  created_ms: number;
  customer_address: string;
  number_id: string;
  number_address: string;
  number_kind: string;
  queue_id: string | null;
  queue_name: string | null;
  queued_ms: number | null;
  last_message_ms: number;
  transfer_note: string | null;
}

/** The agent's pending offers, oldest first. */
export async function listPendingOffers(db: Executor, agentId: string): Promise<PendingOffer[]> {
  const rows = await queryRows<PendingOfferRow>(
    db,
    sql`SELECT o.id, o.conversation_id, o.reason, o.original_text,
          (extract(epoch FROM o.expires_at) * 1000)::float8 AS expires_ms,
          (extract(epoch FROM o.created_at) * 1000)::float8 AS created_ms,
          c.customer_address, c.number_id, n.address AS number_address, n.kind AS number_kind,
          c.queue_id, q.name AS queue_name,
          (extract(epoch FROM c.queued_at) * 1000)::float8 AS queued_ms,
          (extract(epoch FROM c.last_message_at) * 1000)::float8 AS last_message_ms,
          CASE WHEN o.reason = 'transfer' THEN (
            SELECT e.payload ->> 'note' FROM events e
            WHERE e.conversation_id = o.conversation_id AND e.type = 'conversation.transferred'
            ORDER BY e.xid DESC, e.id DESC LIMIT 1)
          END AS transfer_note
        FROM offers o
        JOIN conversations c ON c.id = o.conversation_id
        JOIN numbers n ON n.id = c.number_id
        LEFT JOIN queues q ON q.id = c.queue_id
        WHERE o.agent_id = ${agentId} AND o.state = 'pending'
        ORDER BY o.created_at`,
  );
  return rows.map((row) => ({
    id: row.id,
    conversationId: row.conversation_id,
    reason: row.reason,
    originalText: row.original_text,
    expiresAt: new Date(row.expires_ms),
    createdAt: new Date(row.created_ms),
    conversation: {
      customerAddress: row.customer_address,
      numberId: row.number_id,
      numberAddress: row.number_address,
      channel: channelOfKind(row.number_kind),
      queueId: row.queue_id,
      queueName: row.queue_name,
      queuedAt: row.queued_ms === null ? null : new Date(row.queued_ms),
      lastMessageAt: new Date(row.last_message_ms),
    },
    transferNote: row.transfer_note,
  }));
}
