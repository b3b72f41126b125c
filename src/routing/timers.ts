/**
 * Routing's clocks, each a query for what is due, claimed with SKIP LOCKED so that several
 * instances polling at once share the work: queues' max wait (overflow), agents offline too
 * long (requeue). Offer timeouts are in offer-decisions.ts, affinity expiry in affinity.ts.
 */
import { sql } from 'drizzle-orm';
import { markOverflowed, markRequeued } from '../conversations/lifecycle.js';
import { type Db, queryRows, type Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { wakeRouting } from './wake-ups.js';

/**
 * Queues a queue's overflow message to the customer in the caller's transaction, returning
 * it (undefined when the customer-service window let it not be sent), its placeholders filled
 * with `placeholders` and the flow's business name: flows/overflow-messages.ts (above
 * routing; the composition gives it).
 */
export type QueueMessage = (
  tx: Tx,
  message: {
    conversationId: string;
    numberId: string;
    to: string;
    body: string;
    author: 'flow';
    automated: { kind: 'overflow' };
    placeholders: { queueName: string; waitMinutes: number };
  },
) => Promise<{ id: string } | undefined>;

interface Overflowing {
  id: string;
  queue_id: string;
  number_id: string;
  customer_address: string;
  overflow_queue_id: string | null;
  overflow_message: string | null;
  queue_name: string;
  max_wait_seconds: number;
}

/**
 * Conversations waiting longer than their queue's max wait move to its overflow queue (where
 * they wait from now) and/or are sent its overflow message, once per queue: the event log
 * remembers, so a message-only overflow is sent once and two queues overflowing into each
 * other do not loop. Returns the queues that received conversations.
 */
export async function overflowWaiting(
  db: Db,
  limit: number,
  queueMessage: QueueMessage,
): Promise<{ overflowed: number; queueIds: string[] }> {
  return inTransaction(db, async (tx) => {
    const due = await queryRows<Overflowing>(
      tx,
      sql`SELECT c.id, c.queue_id, c.number_id, c.customer_address,
            target.id AS overflow_queue_id, q.overflow_message,
            q.name AS queue_name, q.max_wait_seconds
          FROM queues q
          LEFT JOIN queues target ON target.id = q.overflow_queue_id AND target.id <> q.id
          JOIN conversations c ON c.queue_id = q.id AND c.state = 'queued'
          WHERE q.max_wait_seconds IS NOT NULL
            AND (target.id IS NOT NULL OR q.overflow_message IS NOT NULL)
            AND c.queued_at <= now() - make_interval(secs => q.max_wait_seconds)
            AND NOT EXISTS (
              SELECT 1 FROM events e
              WHERE e.conversation_id = c.id AND e.type = 'conversation.overflowed'
                AND e.payload ->> 'fromQueueId' = q.id::text)
          ORDER BY c.queued_at
          LIMIT ${limit}
          FOR NO KEY UPDATE OF c SKIP LOCKED`,
    );
    const queueIds = new Set<string>();
    for (const row of due) {
      const toQueueId = row.overflow_queue_id;
      await markOverflowed(tx, row.id, { fromQueueId: row.queue_id, toQueueId }, async () => {
        if (toQueueId) {
          await wakeRouting(tx, { queueId: toQueueId });
          queueIds.add(toQueueId);
        }
        const message = row.overflow_message
          ? await queueMessage(tx, {
              conversationId: row.id,
              numberId: row.number_id,
              to: row.customer_address,
              body: row.overflow_message,
              author: 'flow',
              automated: { kind: 'overflow' },
              placeholders: {
                queueName: row.queue_name,
                waitMinutes: Math.ceil(row.max_wait_seconds / 60),
              },
            })
          : null;
        return message?.id ?? null;
      });
    }
    return { overflowed: due.length, queueIds: [...queueIds] };
  });
}

/**
 * Active conversations of agents offline for longer than the queue's offline_requeue_seconds
 * go back to that queue (the conversation's, else its number's flow's), waiting from now.
 * Until then the agent keeps them, and supervisors see them as theirs. Returns the queues
 * that received conversations.
 */
export async function requeueOfflineAgents(
  db: Db,
  limit: number,
): Promise<{ requeued: number; queueIds: string[] }> {
  return inTransaction(db, async (tx) => {
    const due = await queryRows<{ id: string; agent_id: string; queue_id: string }>(
      tx,
      sql`SELECT c.id, c.agent_id, q.id AS queue_id
          FROM users u
          JOIN conversations c ON c.agent_id = u.id AND c.state = 'active'
          JOIN numbers n ON n.id = c.number_id
          LEFT JOIN flows f ON f.id = n.flow_id
          JOIN queues q ON q.id = coalesce(c.queue_id, f.queue_id)
          WHERE u.presence = 'offline' AND q.offline_requeue_seconds IS NOT NULL
            AND u.presence_changed_at <= now() - make_interval(secs => q.offline_requeue_seconds)
          LIMIT ${limit}
          FOR NO KEY UPDATE OF c, u SKIP LOCKED`,
    );
    const queueIds = new Set<string>();
    for (const row of due) {
      await markRequeued(tx, row.id, { queueId: row.queue_id, fromAgentId: row.agent_id });
      await wakeRouting(tx, { queueId: row.queue_id });
      queueIds.add(row.queue_id);
    }
    return { requeued: due.length, queueIds: [...queueIds] };
  });
}
