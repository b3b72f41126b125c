/**
 * A conversation's lifecycle: the one module that writes a conversation's row once it is
 * open (conversations.ts opens it, in the flow). Its state moves so:
 *
 *   flow ─► queued ─► offered ─► active ─► closed
 *
 * and also queued ─► active (an auto-accepting queue), flow ─► active (an agent's outreach,
 * opened for them), back to queued from offered or active (rejected, timed out,
 * transferred, agent offline), and from any open state to closed. Each function is one
 * step. Those given a transaction run in it, after the caller has taken the locks its
 * protocol needs (routing's order is written out in routing/assignment.ts and
 * routing/agents.ts), and the caller appends the event that says why the step was taken.
 * Besides the state: the queue it waits in, the customer's last activity, the flow step's
 * lease and the attributes a bot collected.
 */
import { and, eq, inArray, isNotNull, lte, ne, or, type SQL, sql } from 'drizzle-orm';
import { conversations } from '../db/schema.js';
import { type Db, type Executor, queryRows, type Tx } from '../db/store.js';
import type { CloseReason } from '../events.js';
import { holderGone } from '../instances.js';

/** Waits in the queue from now, with no agent (from the flow, a transfer, a requeue). */
export async function markQueued(
  tx: Tx,
  conversationId: string,
  queueId: string | null,
): Promise<void> {
  await tx
    .update(conversations)
    .set({ state: 'queued', queueId, queuedAt: sql`now()`, agentId: null })
    .where(eq(conversations.id, conversationId));
}

/**
 * The flow hands conversations to routing, in bulk: those still in the flow wait in their
 * queue from now, their flow step done. Returns them, with their queue.
 */
export async function markQueuedFromFlow(
  tx: Tx,
  entries: readonly { conversationId: string; queueId: string | null }[],
): Promise<{ id: string; queue_id: string | null }[]> {
  return queryRows<{ id: string; queue_id: string | null }>(
    tx,
    sql`UPDATE conversations c
           SET state = 'queued', queue_id = k.queue_id, queued_at = now(), agent_id = NULL,
               flow_due_at = NULL, flow_claimed_by = NULL
          FROM jsonb_to_recordset(${JSON.stringify(
            entries.map((e) => ({ id: e.conversationId, queue_id: e.queueId })),
          )}::jsonb) AS k(id uuid, queue_id uuid)
         WHERE c.id = k.id AND c.state = 'flow'
     RETURNING c.id, c.queue_id`,
  );
}

/** Offered to an agent, or given to them at once (an auto-accepting queue): one statement. */
export async function markHandedOver(
  tx: Tx,
  handovers: readonly { conversationId: string; agentId: string; autoAccept: boolean }[],
): Promise<void> {
  if (handovers.length === 0) return;
  const rows = sql.join(
    handovers.map(
      (h) =>
        sql`(${h.conversationId}::uuid, ${h.agentId}::uuid, ${h.autoAccept ? 'active' : 'offered'})`,
    ),
    sql`, `,
  );
  await tx.execute(sql`UPDATE conversations c SET state = v.state, agent_id = v.agent_id
                       FROM (VALUES ${rows}) AS v(id, agent_id, state)
                       WHERE c.id = v.id`);
}

/**
 * An offered conversation waits again, keeping its place (queued_at) in its queue. Returns
 * its queue; null when it was no longer offered, or waits in no queue.
 */
export async function markOfferWithdrawn(tx: Tx, conversationId: string): Promise<string | null> {
  const [row] = await tx
    .update(conversations)
    .set({ state: 'queued', agentId: null })
    .where(and(eq(conversations.id, conversationId), eq(conversations.state, 'offered')))
    .returning({ queueId: conversations.queueId });
  return row?.queueId ?? null;
}

/** The agent accepted the offer: active with them, if it is still offered. */
export async function markOfferAccepted(tx: Tx, conversationId: string): Promise<void> {
  await tx
    .update(conversations)
    .set({ state: 'active' })
    .where(and(eq(conversations.id, conversationId), eq(conversations.state, 'offered')));
}

/** Active with an agent chosen directly (a supervisor's reassignment, an agent's outreach). */
export async function markActive(tx: Tx, conversationId: string, agentId: string): Promise<void> {
  await tx
    .update(conversations)
    .set({ state: 'active', agentId })
    .where(eq(conversations.id, conversationId));
}

/** Closed, if it was open. Returns what closing it needs to know, or nothing if it was not. */
export async function markClosed(
  tx: Tx,
  conversationId: string,
  reason: CloseReason,
): Promise<{ numberId: string; customerAddress: string; agentId: string | null } | undefined> {
  const [closed] = await tx
    .update(conversations)
    .set({ state: 'closed', closedAt: new Date(), closeReason: reason, flowDueAt: null })
    .where(and(eq(conversations.id, conversationId), ne(conversations.state, 'closed')))
    .returning({
      numberId: conversations.numberId,
      customerAddress: conversations.customerAddress,
      agentId: conversations.agentId,
    });
  return closed;
}

/** Waits in another queue from now, in the same state (overflow). */
export async function moveToQueue(tx: Tx, conversationId: string, queueId: string): Promise<void> {
  await tx
    .update(conversations)
    .set({ queueId, queuedAt: sql`now()` })
    .where(eq(conversations.id, conversationId));
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
