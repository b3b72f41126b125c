/**
 * Two instances placing conversations with the same agents: the queue's strategy order
 * holds. An agent whose row another instance holds (it is giving them a conversation) is
 * never skipped for the next agent in line: a pass, or a conversation just queued, waits
 * for them, then gives them the next conversation if they still have room. And a transaction that changes several
 * agents' load (kept on their rows) takes their rows in the order passes do, so it never
 * deadlocks with one. PostgreSQL only: the other instance is a second connection.
 */
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affinities, conversations, users } from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import type { Presence } from '../src/events.js';
import {
  assignWaiting,
  expireOffers,
  queueConversation,
  reassignConversation,
} from '../src/routing/index.js';
import {
  type Agent,
  agentsWithWrongLoad,
  buildAgent,
  buildNumber,
  buildQueue,
  conversationInFlow,
  conversationRow,
  expireOfferNow,
  pendingOffer,
} from './helpers/factories.js';
import { eventually } from './helpers/stack.js';
import { openTestStore, someoneWaitsForALock, TEST_DATABASE_URL } from './helpers/store.js';

let store: Store & { databaseUrl?: string };
beforeAll(async () => {
  if (TEST_DATABASE_URL) store = await openTestStore();
});
afterAll(() => store?.close());

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

/**
 * Runs `place` while another connection holds the agent's row as routing does (or, given
 * a presence, as the agent changing it does), and lets that transaction commit only once
 * `place` is waiting for it.
 */
async function whileHeldElsewhere<T>(
  agent: Agent,
  place: () => Promise<T>,
  change: { presence?: Presence } = {},
): Promise<T> {
  const other = new pg.Client({ connectionString: store.databaseUrl });
  await other.connect();
  try {
    await other.query('BEGIN');
    if (change.presence) {
      await other.query('UPDATE users SET presence = $2 WHERE id = $1', [
        agent.id,
        change.presence,
      ]);
    } else {
      await other.query('SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE', [agent.id]);
    }
    const placing = place();
    // Its failure is reported by the await below, not as an unhandled rejection meanwhile.
    placing.catch(() => undefined);
    await eventually(() => someoneWaitsForALock(store.db), 10_000);
    await other.query('COMMIT');
    return await placing;
  } finally {
    await other.end();
  }
}

/**
 * Plays a routing pass on another connection around `change`: it holds the agent with the
 * lower id, and once `change` waits for a lock, takes the agent with the higher id. With a
 * deadlock timeout of 10 ms, a cycle between the two is reported on this connection at once
 * (rather than after a second, to a `change` that retries): that lock must be granted.
 */
async function againstAPass<T>(agents: [Agent, Agent], change: () => Promise<T>): Promise<T> {
  const [low, high] = [...agents].sort((a, b) => (a.id < b.id ? -1 : 1)) as [Agent, Agent];
  const pass = new pg.Client({ connectionString: store.databaseUrl });
  await pass.connect();
  try {
    await pass.query(`SET deadlock_timeout = '10ms'`);
    await pass.query('BEGIN');
    await pass.query('SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE', [low.id]);
    const changing = change();
    changing.catch(() => undefined);
    await eventually(() => someoneWaitsForALock(store.db), 10_000);
    await pass.query('SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE', [high.id]);
    await pass.query('COMMIT');
    return await changing;
  } finally {
    await pass.end();
  }
}

describe.skipIf(!TEST_DATABASE_URL)('changing several agents’ load against a pass', () => {
  it('a supervisor moving a conversation between two agents takes their rows in id order', async () => {
    // From the lower id to the higher: the pass holds the first and then wants the second.
    const [from, to] = [await buildAgent(store.db), await buildAgent(store.db)].sort((a, b) =>
      a.id < b.id ? -1 : 1,
    ) as [Agent, Agent];
    const number = await buildNumber(store.db);
    const conversation = await conversationInFlow(store.db, number.id);
    await store.db
      .update(conversations)
      .set({ state: 'active', agentId: from.id })
      .where(eq(conversations.id, conversation.id));
    const supervisor = { id: from.id, role: 'supervisor' as const };

    await againstAPass([from, to], () =>
      reassignConversation(store.db, conversation.id, supervisor, to.id),
    );
    expect(await conversationRow(store.db, conversation.id)).toMatchObject({
      state: 'active',
      agentId: to.id,
    });
    expect(await agentsWithWrongLoad(store.db)).toEqual([]);
  });

  it('offers of two agents timing out together take their rows in id order', async () => {
    const agents: [Agent, Agent] = [await buildAgent(store.db), await buildAgent(store.db)];
    const number = await buildNumber(store.db);
    const offered = [];
    // The higher id's offer expires first, so the order of expiry is not the order of ids.
    for (const agent of [...agents].sort((a, b) => (a.id < b.id ? 1 : -1))) {
      const queue = await buildQueue(store.db, [agent]);
      const conversation = await conversationInFlow(store.db, number.id);
      await queueConversation(store.db, conversation.id, queue.id);
      const offer = await pendingOffer(store.db, conversation.id);
      await expireOfferNow(store.db, offer!.id);
      offered.push(conversation.id);
    }

    const { expired } = await againstAPass(agents, () => expireOffers(store.db, 10));
    expect(expired).toBe(2);
    for (const id of offered) {
      expect(await conversationRow(store.db, id)).toMatchObject({ state: 'queued', agentId: null });
    }
    expect(await agentsWithWrongLoad(store.db)).toEqual([]);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('routing under two-instance contention', () => {
  async function longestIdleQueue() {
    const first = await buildAgent(store.db, { lastConversationEndedAt: minutesAgo(60) });
    const second = await buildAgent(store.db, { lastConversationEndedAt: minutesAgo(5) });
    const queue = await buildQueue(store.db, [first, second], { strategy: 'longest-idle' });
    return { first, second, queue, number: await buildNumber(store.db) };
  }

  it('a conversation just queued waits for the longest-idle agent held elsewhere, not the next one', async () => {
    const { first, queue, number } = await longestIdleQueue();
    const conversation = await conversationInFlow(store.db, number.id);
    // Placing it waits for the other transaction, then offers it to the agent it held.
    await whileHeldElsewhere(first, () => queueConversation(store.db, conversation.id, queue.id));
    expect(await conversationRow(store.db, conversation.id)).toMatchObject({
      state: 'offered',
      agentId: first.id,
    });
    expect(await agentsWithWrongLoad(store.db)).toEqual([]);
  });

  it('holding an agent already, queueing leaves the conversation to a pass rather than wait for another', async () => {
    const { first, queue, number } = await longestIdleQueue();
    // The customer's affinity is with an agent who looks available until their row is
    // locked, and then is away: queueConversation holds their row, and must not wait for
    // `first` too, since two agents' rows are taken in id order only.
    const affinityAgent = await buildAgent(store.db);
    const conversation = await conversationInFlow(store.db, number.id);
    await store.db.insert(affinities).values({
      numberId: number.id,
      customerAddress: conversation.customerAddress,
      agentId: affinityAgent.id,
      originalText: 'Your order shipped.',
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    await whileHeldElsewhere(
      affinityAgent,
      () => queueConversation(store.db, conversation.id, queue.id),
      { presence: 'away' },
    );
    expect(await conversationRow(store.db, conversation.id)).toMatchObject({
      state: 'queued',
      agentId: null,
    });
    await assignWaiting(store.db, { queueIds: [queue.id] });
    expect(await conversationRow(store.db, conversation.id)).toMatchObject({
      state: 'offered',
      agentId: first.id,
    });
  });

  it('a pass over waiting conversations waits for the agent held elsewhere too', async () => {
    const { first, second, queue, number } = await longestIdleQueue();
    for (const agent of [first, second]) {
      await store.db.update(users).set({ presence: 'away' }).where(eq(users.id, agent.id));
    }
    const conversation = await conversationInFlow(store.db, number.id);
    await queueConversation(store.db, conversation.id, queue.id);
    for (const agent of [first, second]) {
      await store.db.update(users).set({ presence: 'available' }).where(eq(users.id, agent.id));
    }
    const handed = await whileHeldElsewhere(first, () =>
      assignWaiting(store.db, { queueIds: [queue.id] }),
    );
    expect(handed).toBe(1);
    expect(await conversationRow(store.db, conversation.id)).toMatchObject({
      state: 'offered',
      agentId: first.id,
    });
  });
});
