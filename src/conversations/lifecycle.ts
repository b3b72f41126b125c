/**
 * A conversation's lifecycle: the one module that writes a conversation's row once it is
 * open (conversations.ts opens it, in the flow), and appends the event of each change of
 * state it makes, in the same transaction: a change and its event cannot be separated, and
 * nobody else appends them. Its state moves so:
 *
 *   flow ─► queued ─► offered ─► active ─► closed
 *
 * and also queued ─► active (an auto-accepting queue), flow ─► active (an agent's outreach,
 * opened for them), back to queued from offered or active (rejected, timed out,
 * transferred, agent offline), and from any open state to closed. Each function is one
 * step. Those given a transaction run in it, after the caller has taken the locks its
 * protocol needs (routing's order is written out in routing/assignment.ts and
 * routing/agents.ts). The event follows the change at once; where the step has
 * consequences that come before its event in the log (the offer withdrawn and the final
 * response of a close, the message of an overflow), the step runs the caller's `effects`
 * between the change and its event. Besides the state, without events of their own: the
 * customer's last activity, the flow step's lease and the attributes a bot collected.
 */
import { and, eq, inArray, isNotNull, lte, ne, or, type SQL, sql } from 'drizzle-orm';
import { noteQueueWaits } from '../db/commit-figures.js';
import { conversations } from '../db/schema.js';
import { type Db, type Executor, queryRows, type Tx } from '../db/store.js';
import { appendEvent, appendEvents } from '../event-log.js';
import type { CancelReason, CloseReason, EventPayloads, OfferReason } from '../events.js';
import { holderGone } from '../instances.js';

/** Sets a conversation waiting in the queue from now, with no agent. */
async function setQueued(tx: Tx, conversationId: string, queueId: string | null): Promise<void> {
  await tx
    .update(conversations)
    .set({ state: 'queued', queueId, queuedAt: sql`now()`, agentId: null })
    .where(eq(conversations.id, conversationId));
}

/** Handed to routing by its flow: waits in the queue from now, with no agent. */
export async function markQueued(
  tx: Tx,
  conversationId: string,
  queueId: string | null,
): Promise<void> {
  await setQueued(tx, conversationId, queueId);
  await appendEvent(tx, 'conversation.queued', { conversationId }, { queueId });
}

/**
 * Conversations opened already waiting in their queue (openConversations' `queuedIn`), their
 * flow having nothing to do first: the event that hands them to routing, logged after
 * the flow's first step as markQueued's is.
 */
export async function markOpenedQueued(
  tx: Tx,
  entries: readonly { conversationId: string; queueId: string | null }[],
): Promise<void> {
  await appendEvents(
    tx,
    'conversation.queued',
    entries.map((e) => ({
      refs: { conversationId: e.conversationId },
      payload: { queueId: e.queueId },
    })),
  );
}

/**
 * Transferred: to a queue, it waits there from now, with no agent; to an agent, it stays
 * with its holder until routing offers it to them, next in the same transaction (an
 * offer.created follows this event).
 */
export async function markTransferred(
  tx: Tx,
  conversationId: string,
  transfer: EventPayloads['conversation.transferred'],
): Promise<void> {
  if (transfer.toQueueId) await setQueued(tx, conversationId, transfer.toQueueId);
  await appendEvent(
    tx,
    'conversation.transferred',
    { conversationId, agentId: transfer.fromAgentId },
    transfer,
  );
}

/** Its agent has been offline too long: it waits in the queue again, from now. */
export async function markRequeued(
  tx: Tx,
  conversationId: string,
  requeue: { queueId: string; fromAgentId: string },
): Promise<void> {
  await setQueued(tx, conversationId, requeue.queueId);
  await appendEvent(
    tx,
    'conversation.requeued',
    { conversationId, agentId: requeue.fromAgentId },
    { queueId: requeue.queueId, fromAgentId: requeue.fromAgentId, reason: 'agent-offline' },
  );
}

/** A conversation handed to an agent, with the offer that records it. */
export interface HandedOver {
  conversationId: string;
  agentId: string;
  /** Active at once, the offer accepted for the agent (an auto-accepting queue). */
  autoAccept: boolean;
  offerId: string;
  reason: OfferReason;
  originalText: string | null;
  expiresAt: Date;
  queueId: string | null;
}

/**
 * Offered to an agent, or given to them at once (an auto-accepting queue): one statement,
 * then one for each event type, however many there are.
 */
export async function markHandedOver(tx: Tx, handovers: readonly HandedOver[]): Promise<void> {
  if (handovers.length === 0) return;
  const rows = sql.join(
    handovers.map(
      (h) =>
        sql`(${h.conversationId}::uuid, ${h.agentId}::uuid, ${h.autoAccept ? 'active' : 'offered'})`,
    ),
    sql`, `,
  );
  // How long each had waited since queued (its place in the queue, kept through rejects
  // and timeouts), for the metrics: by the database's clock, to this transaction's start.
  const handed = await queryRows<{ id: string; waited: number | null }>(
    tx,
    sql`UPDATE conversations c SET state = v.state, agent_id = v.agent_id
        FROM (VALUES ${rows}) AS v(id, agent_id, state)
        WHERE c.id = v.id
        RETURNING c.id, extract(epoch FROM now() - c.queued_at)::float8 AS waited`,
  );
  // A transfer hands over a conversation an agent had, not one waiting in a queue.
  const transferred = new Set(
    handovers.filter((h) => h.reason === 'transfer').map((h) => h.conversationId),
  );
  noteQueueWaits(
    tx,
    handed.flatMap((row) =>
      row.waited === null || transferred.has(row.id) ? [] : [Math.max(row.waited, 0)],
    ),
  );
  const refs = (h: HandedOver) => ({ conversationId: h.conversationId, agentId: h.agentId });
  await appendEvents(
    tx,
    'conversation.assigned',
    handovers
      .filter((h) => h.autoAccept)
      .map((h) => ({
        refs: refs(h),
        payload: {
          agentId: h.agentId,
          previousAgentId: null,
          via: 'auto-accept' as const,
          reason: h.reason,
          originalText: h.originalText,
          byUserId: null,
        },
      })),
  );
  await appendEvents(
    tx,
    'offer.created',
    handovers
      .filter((h) => !h.autoAccept)
      .map((h) => ({
        refs: refs(h),
        payload: {
          offerId: h.offerId,
          agentId: h.agentId,
          reason: h.reason,
          originalText: h.originalText,
          expiresAt: h.expiresAt.toISOString(),
          queueId: h.queueId,
        },
      })),
  );
}

/** How a pending offer ended without an accept, as its event says. */
export type OfferEnd =
  | { type: 'offer.rejected' | 'offer.timed-out'; offerId: string; agentId: string }
  | { type: 'offer.canceled'; offerId: string; agentId: string; why: CancelReason };

/**
 * The conversation's pending offer ended without an accept. With `requeue`, an offered
 * conversation waits again, keeping its place (queued_at) in its queue; without (it is
 * closing, or another step of the same transaction says where it goes) it stays as it is.
 * The offer's event is appended either way. Returns the queue it waits in again; null when
 * it was not requeued, or waits in no queue.
 */
export async function markOfferEnded(
  tx: Tx,
  conversationId: string,
  end: OfferEnd,
  options: { requeue: boolean },
): Promise<string | null> {
  let queueId: string | null = null;
  if (options.requeue) {
    const [row] = await tx
      .update(conversations)
      .set({ state: 'queued', agentId: null })
      .where(and(eq(conversations.id, conversationId), eq(conversations.state, 'offered')))
      .returning({ queueId: conversations.queueId });
    queueId = row?.queueId ?? null;
  }
  const refs = { conversationId, agentId: end.agentId };
  const offer = { offerId: end.offerId, agentId: end.agentId };
  if (end.type === 'offer.canceled') {
    await appendEvent(tx, end.type, refs, { ...offer, why: end.why });
  } else {
    await appendEvent(tx, end.type, refs, offer);
  }
  return queueId;
}

/** The agent accepted the offer: active with them, if it is still offered. */
export async function markOfferAccepted(
  tx: Tx,
  conversationId: string,
  offer: { offerId: string; agentId: string },
): Promise<void> {
  await tx
    .update(conversations)
    .set({ state: 'active' })
    .where(and(eq(conversations.id, conversationId), eq(conversations.state, 'offered')));
  await appendEvent(
    tx,
    'offer.accepted',
    { conversationId, agentId: offer.agentId },
    { offerId: offer.offerId, agentId: offer.agentId },
  );
}

/** Sets a conversation active with an agent chosen directly. */
async function setActive(tx: Tx, conversationId: string, agentId: string): Promise<void> {
  await tx
    .update(conversations)
    .set({ state: 'active', agentId })
    .where(eq(conversations.id, conversationId));
}

/** A supervisor gave the conversation to an agent: active with them at once. */
export async function markReassigned(
  tx: Tx,
  conversationId: string,
  reassign: { agentId: string; previousAgentId: string | null; byUserId: string },
): Promise<void> {
  await setActive(tx, conversationId, reassign.agentId);
  await appendEvent(
    tx,
    'conversation.assigned',
    { conversationId, agentId: reassign.agentId },
    {
      agentId: reassign.agentId,
      previousAgentId: reassign.previousAgentId,
      via: 'reassign',
      reason: null,
      originalText: null,
      byUserId: reassign.byUserId,
    },
  );
}

/**
 * Opened by an agent's outreach (assign-now), active with them at once. No event of its
 * own: after conversation.opened (origin: agent), the origination's event says it
 * (origination.sent, naming the agent and the message, which the caller appends once the
 * message is queued).
 */
export async function markOpenedForAgent(
  tx: Tx,
  conversationId: string,
  agentId: string,
): Promise<void> {
  await setActive(tx, conversationId, agentId);
}

/** What closing a conversation needs to know of it. */
export interface Closed {
  numberId: string;
  customerAddress: string;
  agentId: string | null;
}

/** What the person ending a conversation records of it: a disposition code and a summary. */
export interface WrapUp {
  disposition: string | null;
  summary: string | null;
}

/**
 * Closed, if it was open, with its wrap-up if someone ended it: then `effects` run (the
 * caller's consequences of the close: its pending offer withdrawn, the final response
 * queued), and conversation.closed follows them. Returns what was closed, or nothing (and
 * runs nothing) if it was not open.
 */
export async function markClosed(
  tx: Tx,
  conversationId: string,
  close: { reason: CloseReason; byUserId: string | null; wrapUp?: WrapUp },
  effects: (closed: Closed) => Promise<void>,
): Promise<Closed | undefined> {
  const disposition = close.wrapUp?.disposition ?? null;
  const [closed] = await tx
    .update(conversations)
    .set({
      state: 'closed',
      closedAt: new Date(),
      closeReason: close.reason,
      flowDueAt: null,
      disposition,
      wrapUpSummary: close.wrapUp?.summary ?? null,
    })
    .where(and(eq(conversations.id, conversationId), ne(conversations.state, 'closed')))
    .returning({
      numberId: conversations.numberId,
      customerAddress: conversations.customerAddress,
      agentId: conversations.agentId,
    });
  if (!closed) return undefined;
  await effects(closed);
  await appendEvent(
    tx,
    'conversation.closed',
    { conversationId, agentId: closed.agentId },
    { reason: close.reason, byUserId: close.byUserId, disposition },
  );
  return closed;
}

/**
 * Overflowed from its queue past the queue's max wait: to `toQueueId`, if any, where it
 * waits from now, in the same state. Then `effects` run (the caller's: the overflow
 * message, whose id they return, or null), and conversation.overflowed follows them.
 */
export async function markOverflowed(
  tx: Tx,
  conversationId: string,
  overflow: { fromQueueId: string; toQueueId: string | null },
  effects: () => Promise<string | null>,
): Promise<void> {
  if (overflow.toQueueId) {
    await tx
      .update(conversations)
      .set({ queueId: overflow.toQueueId, queuedAt: sql`now()` })
      .where(eq(conversations.id, conversationId));
  }
  const messageId = await effects();
  await appendEvent(
    tx,
    'conversation.overflowed',
    { conversationId },
    { fromQueueId: overflow.fromQueueId, toQueueId: overflow.toQueueId, messageId },
  );
}

/**
 * SQL for a data-modifying step of a larger statement: the customer wrote to each
 * conversation of `rows` (a query giving conversation_id and at), so its last activity is
 * then, and the flow step of one still with the flow is due. Returns, as a step, each
 * conversation's id and whether its flow step is due (flow_due).
 */
export function touchedByCustomerFrom(rows: SQL): SQL {
  return sql`UPDATE conversations c
                SET last_message_at = t.at,
                    flow_due_at = CASE WHEN c.state = 'flow' THEN t.at ELSE c.flow_due_at END
               FROM (${rows}) t
              WHERE c.id = t.conversation_id
          RETURNING c.id, c.flow_due_at IS NOT NULL AS flow_due`;
}

/** The customer wrote at `at`; returns whether the conversation's flow step is now due. */
export async function touchedByCustomer(
  tx: Tx,
  conversationId: string,
  at: Date,
): Promise<{ flowDue: boolean }> {
  const [row] = await queryRows<{ flow_due: boolean }>(
    tx,
    touchedByCustomerFrom(
      sql`SELECT ${conversationId}::uuid AS conversation_id, ${at.toISOString()}::timestamptz AS at`,
    ),
  );
  if (!row) throw new Error(`no conversation ${conversationId} to touch`);
  return { flowDue: row.flow_due };
}

/** Parley wrote to these conversations at `at`: activity, for the flow's inactivity limit. */
export async function touchedByParley(
  tx: Executor,
  conversationIds: readonly string[],
  at: Date,
): Promise<void> {
  if (conversationIds.length === 0) return;
  await tx
    .update(conversations)
    .set({ lastMessageAt: at })
    .where(inArray(conversations.id, [...conversationIds]));
}

/**
 * A conversation whose flow step may be taken now: due, or held by an instance that died
 * (the lease is as long as a slow bot may take, far longer than a crash should cost).
 */
export const flowStepFree = (instanceId: string): SQL | undefined =>
  or(
    lte(conversations.flowDueAt, sql`now()`),
    and(
      isNotNull(conversations.flowClaimedBy),
      // Never its own: a process whose heartbeat lags is not dead to itself.
      ne(conversations.flowClaimedBy, instanceId),
      holderGone(conversations.flowClaimedBy),
    ),
  );

/**
 * Takes a conversation's due flow step for this instance, for `leaseMs`: the row, or
 * nothing when it is not in the flow, not due, or held by a live instance.
 */
export async function leaseFlowStep(
  db: Db,
  conversationId: string,
  instanceId: string,
  leaseMs: number,
): Promise<typeof conversations.$inferSelect | undefined> {
  const [claimed] = await db
    .update(conversations)
    .set({
      flowDueAt: sql`now() + make_interval(secs => ${leaseMs / 1000})`,
      flowClaimedBy: instanceId,
    })
    .where(
      and(
        eq(conversations.id, conversationId),
        isNotNull(conversations.flowDueAt),
        flowStepFree(instanceId),
        eq(conversations.state, 'flow'),
      ),
    )
    .returning();
  return claimed;
}

/** The flow step is done (the bot answered, or the flow handed over): nothing is due. */
export async function endFlowStep(db: Executor, conversationId: string): Promise<void> {
  await db
    .update(conversations)
    .set({ flowDueAt: null, flowClaimedBy: null })
    .where(eq(conversations.id, conversationId));
}

/** Merges what a bot collected into the conversation's attributes. */
export async function mergeAttributes(
  tx: Tx,
  conversationId: string,
  attributes: Record<string, unknown>,
): Promise<void> {
  await tx
    .update(conversations)
    .set({ attributes: sql`${conversations.attributes} || ${JSON.stringify(attributes)}::jsonb` })
    .where(eq(conversations.id, conversationId));
}
