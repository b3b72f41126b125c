import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateAgent } from '../src/admin/agents.js';
import { updateQueue } from '../src/admin/queues.js';
import { conversations, events } from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import { closeConversation } from '../src/flows/closing.js';
import { createLogger } from '../src/logger.js';
import { enqueueAutomated } from '../src/outbound/outbox.js';
import { wakeRouting } from '../src/routing/index.js';
import { type RoutingWorker, startRoutingWorker } from '../src/routing/routing-worker.js';
import {
  buildAgent,
  buildNumber,
  buildQueue,
  conversationInFlow,
  conversationRow,
  expireOfferNow,
  offersOf,
  pendingOffer,
} from './helpers/factories.js';
import { eventually } from './helpers/stack.js';
import { openTestStore, TEST_DATABASE_URL } from './helpers/store.js';

let store: Store;
let worker: RoutingWorker;
beforeAll(async () => {
  store = await openTestStore();
  worker = startRoutingWorker({
    store,
    logger: createLogger('silent'),
    queueMessage: enqueueAutomated,
    timerIntervalMs: 50,
    // Long enough that only a wake-up can explain an assignment within the test.
    sweepIntervalMs: 60_000,
  });
});
afterAll(async () => {
  await worker?.stop();
  await store?.close();
});

describe('the routing worker', () => {
  it('assigns a conversation queued by another writer as soon as the wake-up arrives', async () => {
    const db = store.db;
    const number = await buildNumber(db);
    const agent = await buildAgent(db);
    const queue = await buildQueue(db, [agent]);
    const conversation = await conversationInFlow(db, number.id);
    // Queued the way another instance would, without assigning here: only NOTIFY tells.
    await db.transaction(async (tx) => {
      await tx
        .update(conversations)
        .set({ state: 'queued', queueId: queue.id, queuedAt: sql`now()` })
        .where(eq(conversations.id, conversation.id));
      await wakeRouting(tx, { queueId: queue.id });
    });
    const offer = await eventually(() => pendingOffer(db, conversation.id), 5000);
    expect(offer.agentId).toBe(agent.id);
  });

  it('times out an offer when it is due and offers the conversation to the next agent', async () => {
    const db = store.db;
    const number = await buildNumber(db);
    const first = await buildAgent(db, { lastConversationEndedAt: null });
    const second = await buildAgent(db, { lastConversationEndedAt: new Date() });
    const queue = await buildQueue(db, [first, second]);
    const conversation = await conversationInFlow(db, number.id);
    await db.transaction(async (tx) => {
      await tx
        .update(conversations)
        .set({ state: 'queued', queueId: queue.id, queuedAt: sql`now()` })
        .where(eq(conversations.id, conversation.id));
      await wakeRouting(tx, { queueId: queue.id });
    });
    const offer = await eventually(() => pendingOffer(db, conversation.id), 5000);
    expect(offer.agentId).toBe(first.id);

    await expireOfferNow(db, offer.id);
    const next = await eventually(async () => {
      const pending = await pendingOffer(db, conversation.id);
      return pending && pending.id !== offer.id ? pending : undefined;
    }, 5000);
    expect(next.agentId).toBe(second.id);
    expect((await conversationRow(db, conversation.id)).state).toBe('offered');
  });

  it('offers a waiting conversation as soon as an admin gives an agent capacity', async () => {
    const db = store.db;
    const number = await buildNumber(db);
    const agent = await buildAgent(db, { capacitySms: 0 });
    const queue = await buildQueue(db, [agent]);
    const conversation = await queueWithoutWakeUp(db, number.id, queue.id);
    await updateAgent(db, agent.id, { capacitySms: 1 });
    const offer = await eventually(() => pendingOffer(db, conversation.id), 5000);
    expect(offer.agentId).toBe(agent.id);
  });

  it('offers a waiting conversation as soon as an admin adds a member to its queue', async () => {
    const db = store.db;
    const number = await buildNumber(db);
    const agent = await buildAgent(db);
    const queue = await buildQueue(db, []);
    const conversation = await queueWithoutWakeUp(db, number.id, queue.id);
    await updateQueue(db, queue.id, { memberIds: [agent.id] });
    const offer = await eventually(() => pendingOffer(db, conversation.id), 5000);
    expect(offer.agentId).toBe(agent.id);
  });

  it('withdraws the pending offer of a conversation closed outside the desk and frees the agent', async () => {
    const db = store.db;
    const number = await buildNumber(db);
    const agent = await buildAgent(db, { capacitySms: 1 });
    const queue = await buildQueue(db, [agent]);
    const first = await queueWithoutWakeUp(db, number.id, queue.id);
    await db.transaction((tx) => wakeRouting(tx, { queueId: queue.id }));
    const offer = await eventually(() => pendingOffer(db, first.id), 5000);
    const second = await queueWithoutWakeUp(db, number.id, queue.id);

    // The customer texts STOP while the offer is pending.
    await db.transaction((tx) => closeConversation(tx, first.id, { reason: 'opted-out' }));

    const [withdrawn] = await offersOf(db, first.id);
    expect(withdrawn).toMatchObject({ id: offer.id, state: 'canceled' });
    const [canceled] = await db
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.conversationId, first.id), eq(events.type, 'offer.canceled')));
    expect(canceled?.payload).toMatchObject({ offerId: offer.id, why: 'conversation-closed' });
    // The capacity the offer held goes to the next customer at once, not at its expiry.
    const next = await eventually(() => pendingOffer(db, second.id), 5000);
    expect(next.agentId).toBe(agent.id);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('wake-ups on PostgreSQL', () => {
  it('reach a listener again after its connection is dropped', async () => {
    const other = await openTestStore();
    try {
      const received: string[] = [];
      let arrived: () => void = () => {};
      const unlisten = await other.listen('parley_routing_test', (payload) => {
        received.push(payload);
        arrived();
      });
      const next = () =>
        new Promise<void>((resolve) => {
          arrived = resolve;
        });
      let notified = next();
      await other.db.execute(sql`SELECT pg_notify('parley_routing_test', 'first')`);
      await notified;

      // The server drops the listening connection; the store reconnects and says so ('').
      notified = next();
      await other.db.execute(
        sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND query = 'LISTEN parley_routing_test'`,
      );
      await notified;
      notified = next();
      await other.db.execute(sql`SELECT pg_notify('parley_routing_test', 'second')`);
      await notified;
      expect(received).toEqual(['first', '', 'second']);
      await unlisten();
    } finally {
      await other.close();
    }
  });
});

/** Puts a conversation in its queue the way a lost wake-up would leave it: nobody is told. */
async function queueWithoutWakeUp(db: Store['db'], numberId: string, queueId: string) {
  const conversation = await conversationInFlow(db, numberId);
  await db
    .update(conversations)
    .set({ state: 'queued', queueId, queuedAt: sql`now()` })
    .where(eq(conversations.id, conversation.id));
  return conversation;
}
