/**
 * Agents' presence: available (offered conversations), away (keeps what they have, offered
 * nothing), offline (the same, and after the queue's offline_requeue_seconds their
 * conversations go back to the queue; see timers.ts). Set by the agent or a supervisor, and
 * to offline by sign-out and by the agent's desk staying closed (desks.ts).
 */
import { and, eq, sql } from 'drizzle-orm';
import { conversations, users } from '../db/schema.js';
import type { Db, Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { appendEvent } from '../event-log.js';
import type { Presence, PresenceReason } from '../events.js';
import { assignWaiting } from './assignment.js';
import { claimDesertedDesks } from './desks.js';
import { cancelPendingOffer } from './offers.js';
import { wakeRouting } from './wake-ups.js';

export interface PresenceView {
  agentId: string;
  presence: Presence;
  presenceChangedAt: Date;
}

/**
 * Sets a user's presence. Becoming available offers them waiting conversations at once;
 * leaving it withdraws their pending offers, which go to other agents. Setting the presence
 * they already have changes nothing (and keeps presenceChangedAt).
 */
export async function setPresence(
  db: Db,
  agentId: string,
  presence: Presence,
  byUserId: string | null,
): Promise<PresenceView> {
  const changed = await inTransaction(db, (tx) =>
    changePresence(tx, agentId, presence, { byUserId }),
  );
  if (!changed.changed) return changed.view;
  if (presence === 'available') {
    await assignWaiting(db, { agentId });
  } else {
    const queueIds = await withdrawOffers(db, agentId);
    if (queueIds.length > 0) await assignWaiting(db, { queueIds });
  }
  return changed.view;
}

/**
 * Sets offline, with the reason no-desk-connection, agents available or away whose desk
 * (desks.ts) has been closed for the grace period: they are not there to answer, so their
 * pending offers move on at once, and after their queue's offline_requeue_seconds their
 * active conversations too (timers.ts). Returns the queues that got conversations back,
 * for the caller to offer them now.
 */
export async function setDesertedAgentsOffline(
  db: Db,
  graceSeconds: number,
  limit: number,
): Promise<{ offline: number; queueIds: string[] }> {
  const agentIds = await inTransaction(db, async (tx) => {
    const due = await claimDesertedDesks(tx, graceSeconds, limit);
    for (const agentId of due) {
      await changePresence(tx, agentId, 'offline', {
        byUserId: null,
        reason: 'no-desk-connection',
      });
    }
    return due;
  });
  const queueIds = new Set<string>();
  for (const agentId of agentIds) {
    for (const queueId of await withdrawOffers(db, agentId)) queueIds.add(queueId);
  }
  return { offline: agentIds.length, queueIds: [...queueIds] };
}

/** The presence change itself and its event, in the caller's transaction. */
async function changePresence(
  tx: Tx,
  agentId: string,
  presence: Presence,
  cause: { byUserId: string | null; reason?: PresenceReason },
): Promise<{ view: PresenceView; changed: boolean }> {
  const [before] = await tx
    .select({ presence: users.presence, presenceChangedAt: users.presenceChangedAt })
    .from(users)
    .where(and(eq(users.id, agentId), sql`${users.disabledAt} IS NULL`))
    .for('no key update');
  if (!before) throw new AppError('not_found', 'no such agent');
  if (before.presence === presence) {
    return {
      view: { agentId, presence, presenceChangedAt: before.presenceChangedAt },
      changed: false,
    };
  }
  const [after] = await tx
    .update(users)
    .set({ presence, presenceChangedAt: sql`now()` })
    .where(eq(users.id, agentId))
    .returning({ presenceChangedAt: users.presenceChangedAt });
  if (presence === 'available') await wakeRouting(tx, { agentId });
  await appendEvent(
    tx,
    'agent.presence-changed',
    { agentId },
    {
      presence,
      previous: before.presence,
      byUserId: cause.byUserId,
      ...(cause.reason && { reason: cause.reason }),
    },
  );
  return {
    view: { agentId, presence, presenceChangedAt: after!.presenceChangedAt },
    changed: true,
  };
}

/**
 * Withdraws the pending offers of an agent who is no longer available. A separate
 * transaction from the presence change, so that conversation rows are locked before agent
 * rows as everywhere else; no new offer can reach the agent in between, since offers are
 * only made to agents found available under their row lock.
 */
async function withdrawOffers(db: Db, agentId: string): Promise<string[]> {
  return inTransaction(db, async (tx) => {
    const offered = await tx
      .select({ id: conversations.id, queueId: conversations.queueId })
      .from(conversations)
      .where(and(eq(conversations.agentId, agentId), eq(conversations.state, 'offered')))
      .for('no key update');
    const queueIds = new Set<string>();
    for (const conversation of offered) {
      const withdrawn = await cancelPendingOffer(tx, conversation.id, 'agent-unavailable', {
        requeue: true,
      });
      if (withdrawn && conversation.queueId) queueIds.add(conversation.queueId);
    }
    return [...queueIds];
  });
}
