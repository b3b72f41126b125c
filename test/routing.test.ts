import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, updateQueue } from '../src/admin/queues.js';
import { readTranscript } from '../src/conversations/views.js';
import {
  affinities,
  conversations,
  messages,
  offers,
  queueMembers,
  queues,
  users,
} from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import { closeConversation } from '../src/flows/closing.js';
import { enqueueOutbound } from '../src/outbound/outbox.js';
import {
  acceptOffer,
  assignWaiting,
  endConversation,
  expireAffinities,
  expireOffers,
  overflowWaiting,
  queueConversation,
  queuePosition,
  reassignConversation,
  recordAffinity,
  rejectOffer,
  requeueOfflineAgents,
  setPresence,
  transferConversation,
} from '../src/routing/index.js';
import {
  type Agent,
  agentsWithWrongLoad,
  buildAgent,
  buildFlow,
  buildNumber,
  buildQueue,
  conversationInFlow,
  conversationRow,
  eventTypes,
  expireOfferNow,
  giveActive,
  membersWithWrongRank,
  offersOf,
  pendingOffer,
  type Queue,
} from './helpers/factories.js';
import { openTestStore } from './helpers/store.js';

let store: Store;
let db: Store['db'];
beforeAll(async () => {
  store = await openTestStore();
  db = store.db;
});
afterAll(() => store?.close());
// Whatever a test did to conversations, every agent's kept load matches their conversations,
// and every member's kept place in their queue's order matches their agent and queue.
afterEach(async () => {
  expect(await agentsWithWrongLoad(db)).toEqual([]);
  expect(await membersWithWrongRank(db)).toEqual([]);
});

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);
const supervisor = { id: '00000000-0000-4000-8000-000000000001', role: 'supervisor' as const };

/** Queues a new conversation on the number and returns it as routing left it. */
async function queueNew(numberId: string, queueId: string | null) {
  const conversation = await conversationInFlow(db, numberId);
  await queueConversation(db, conversation.id, queueId);
  return conversationRow(db, conversation.id);
}

async function whoHolds(conversationId: string) {
  const row = await conversationRow(db, conversationId);
  return { state: row.state, agentId: row.agentId };
}

describe('strategies', () => {
  it('longest-idle offers to the agent whose last conversation ended longest ago, never first', async () => {
    const number = await buildNumber(db);
    const recent = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: minutesAgo(5) });
    const never = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: null });
    const older = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: minutesAgo(60) });
    const queue = await buildQueue(db, [recent, never, older], { strategy: 'longest-idle' });

    const order = [];
    for (let i = 0; i < 3; i++) order.push((await queueNew(number.id, queue.id)).agentId);
    expect(order).toEqual([never.id, older.id, recent.id]);
  });

  it('round-robin offers to the member after the last one offered, in a stable order', async () => {
    const number = await buildNumber(db);
    const members = await Promise.all([1, 2, 3].map(() => buildAgent(db, { capacitySms: 5 })));
    const byId = [...members].sort((a, b) => (a.id < b.id ? -1 : 1));
    // The cursor starts at the second member: the next offers go to the third, first, second…
    const queue = await buildQueue(db, members, {
      strategy: 'round-robin',
      lastOfferedAgentId: byId[1]!.id,
    });

    const order = [];
    for (let i = 0; i < 4; i++) order.push((await queueNew(number.id, queue.id)).agentId);
    expect(order).toEqual([byId[2]!.id, byId[0]!.id, byId[1]!.id, byId[2]!.id]);
    const [cursor] = await db.select().from(queues).where(eq(queues.id, queue.id));
    expect(cursor!.lastOfferedAgentId).toBe(byId[2]!.id);
  });

  it('least-busy offers to the agent with the most free capacity, ties to the longest idle', async () => {
    const number = await buildNumber(db);
    const two = await buildAgent(db, { capacitySms: 3, lastConversationEndedAt: minutesAgo(90) });
    const one = await buildAgent(db, { capacitySms: 3, lastConversationEndedAt: minutesAgo(60) });
    const none = await buildAgent(db, { capacitySms: 3, lastConversationEndedAt: minutesAgo(1) });
    await giveActive(db, two, number.id, 2);
    await giveActive(db, one, number.id, 1);
    const queue = await buildQueue(db, [two, one, none], { strategy: 'least-busy' });

    // Free: none 3, one 2, two 1 → none; then none 2 and one 2 tie → one (idle longer).
    const first = await queueNew(number.id, queue.id);
    const second = await queueNew(number.id, queue.id);
    expect([first.agentId, second.agentId]).toEqual([none.id, one.id]);
  });

  it("follows an admin's change of strategy and members at once", async () => {
    const number = await buildNumber(db);
    const idleLongest = await buildAgent(db, { lastConversationEndedAt: minutesAgo(90) });
    const mostRoom = await buildAgent(db, {
      capacitySms: 5,
      lastConversationEndedAt: minutesAgo(1),
    });
    const queue = await createQueue(db, {
      name: `changing ${idleLongest.id.slice(0, 4)}`,
      strategy: 'longest-idle',
      memberIds: [idleLongest.id],
    });
    expect((await queueNew(number.id, queue.id)).agentId).toBe(idleLongest.id);
    await updateQueue(db, queue.id, {
      strategy: 'least-busy',
      memberIds: [idleLongest.id, mostRoom.id],
    });
    expect((await queueNew(number.id, queue.id)).agentId).toBe(mostRoom.id);
  });

  it('offers only to members with the required skill levels and the queue language', async () => {
    const number = await buildNumber(db);
    const unskilled = await buildAgent(db, { skills: { billing: 1 }, languages: ['es'] });
    const english = await buildAgent(db, { skills: { billing: 5 }, languages: ['en'] });
    const fit = await buildAgent(db, {
      skills: { billing: 2, refunds: 1 },
      languages: ['en', 'ES'],
      lastConversationEndedAt: minutesAgo(1),
    });
    const outsider = await buildAgent(db, { skills: { billing: 9 }, languages: ['es'] });
    const queue = await buildQueue(db, [unskilled, english, fit], {
      requiredSkills: { billing: 2 },
      language: 'es',
    });
    expect(outsider.id).not.toBe(fit.id);

    const conversation = await queueNew(number.id, queue.id);
    expect(conversation.agentId).toBe(fit.id);

    await setPresence(db, fit.id, 'away', null);
    const waiting = await queueNew(number.id, queue.id);
    expect(waiting.state).toBe('queued');
    expect(await offersOf(db, waiting.id)).toHaveLength(0);
  });

  it('serves higher-priority queues first, even when a lower one waits longer', async () => {
    const number = await buildNumber(db);
    const agent = await buildAgent(db, { capacitySms: 1, presence: 'away' });
    const low = await buildQueue(db, [agent], { priority: 0 });
    const high = await buildQueue(db, [agent], { priority: 10 });
    const older = await queueNew(number.id, low.id);
    const urgent = await queueNew(number.id, high.id);

    await setPresence(db, agent.id, 'available', agent.id);
    expect(await whoHolds(urgent.id)).toEqual({ state: 'offered', agentId: agent.id });
    expect(await whoHolds(older.id)).toEqual({ state: 'queued', agentId: null });
  });
});

describe('a conversation just queued', () => {
  it('places the few conversations waiting before it first, in their order, then itself if there is room', async () => {
    const number = await buildNumber(db);
    const agent = await buildAgent(db, { capacitySms: 2, presence: 'away' });
    const queue = await buildQueue(db, [agent]);
    const first = await queueNew(number.id, queue.id);
    const second = await queueNew(number.id, queue.id);
    // Back without setPresence, which would place them itself: nobody is placing them now.
    await db.update(users).set({ presence: 'available' }).where(eq(users.id, agent.id));

    const third = await queueNew(number.id, queue.id);
    expect(third).toMatchObject({ state: 'queued', agentId: null });
    for (const earlier of [first, second]) {
      expect(await whoHolds(earlier.id)).toEqual({ state: 'offered', agentId: agent.id });
    }
  });
});

describe('strategies, in a pass over waiting conversations (the workers’ path)', () => {
  /** Queues conversations while the agents are away, then brings them back and runs a pass. */
  async function placedInOnePass(agents: Agent[], queueOverrides: Partial<Queue>, count: number) {
    const number = await buildNumber(db);
    for (const agent of agents) {
      await db.update(users).set({ presence: 'away' }).where(eq(users.id, agent.id));
    }
    const queue = await buildQueue(db, agents, queueOverrides);
    const waiting = [];
    for (let i = 0; i < count; i++) waiting.push(await queueNew(number.id, queue.id));
    expect(waiting.every((c) => c.state === 'queued')).toBe(true);
    // Back without setPresence, which would place them itself, agent by agent.
    for (const agent of agents) {
      await db.update(users).set({ presence: 'available' }).where(eq(users.id, agent.id));
    }
    expect(await assignWaiting(db, { queueIds: [queue.id] })).toBe(count);
    return Promise.all(waiting.map(async (c) => (await conversationRow(db, c.id)).agentId));
  }

  it('longest-idle', async () => {
    const recent = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: minutesAgo(5) });
    const never = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: null });
    const older = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: minutesAgo(60) });
    expect(await placedInOnePass([recent, never, older], { strategy: 'longest-idle' }, 3)).toEqual([
      never.id,
      older.id,
      recent.id,
    ]);
  });

  it('round-robin', async () => {
    const members = await Promise.all([1, 2, 3].map(() => buildAgent(db, { capacitySms: 5 })));
    const byId = [...members].sort((a, b) => (a.id < b.id ? -1 : 1));
    const placed = await placedInOnePass(
      members,
      { strategy: 'round-robin', lastOfferedAgentId: byId[1]!.id },
      4,
    );
    expect(placed).toEqual([byId[2]!.id, byId[0]!.id, byId[1]!.id, byId[2]!.id]);
  });

  it('least-busy', async () => {
    const number = await buildNumber(db);
    const two = await buildAgent(db, { lastConversationEndedAt: minutesAgo(90) });
    const none = await buildAgent(db, { lastConversationEndedAt: minutesAgo(1) });
    const one = await buildAgent(db, { lastConversationEndedAt: minutesAgo(60) });
    await giveActive(db, two, number.id, 2);
    await giveActive(db, one, number.id, 1);
    // Free: none 3, one 2, two 1 → none; none 2 and one 2 tie → one (idle longer); → none.
    expect(await placedInOnePass([two, none, one], { strategy: 'least-busy' }, 3)).toEqual([
      none.id,
      one.id,
      none.id,
    ]);
  });
});

describe('strategies over more members than a pass reads at once', () => {
  /** Agents in one statement, with distinct idle times and capacities as given. */
  async function manyAgents(count: number, capacity: (i: number) => number) {
    const rows = await db
      .insert(users)
      .values(
        Array.from({ length: count }, (_, i) => ({
          email: `many-${i}-${Math.random().toString(36).slice(2)}@example.com`,
          name: `many ${i}`,
          role: 'agent' as const,
          passwordHash: 'unused',
          presence: 'available' as const,
          capacitySms: capacity(i),
          lastConversationEndedAt: i % 7 === 0 ? null : minutesAgo(1000 - ((i * 37) % 997)),
        })),
      )
      .returning();
    return rows;
  }

  /** Queues the conversations, then places them all in one pass, in queue order. */
  async function placedInOnePass(queue: Queue, count: number) {
    const number = await buildNumber(db);
    const waiting = [];
    for (let i = 0; i < count; i++) {
      const conversation = await conversationInFlow(db, number.id);
      waiting.push(conversation);
    }
    // Queued directly, as a burst would leave them, so that a pass (not queueConversation's
    // placement in its own transaction) places them, oldest first.
    for (const [i, conversation] of waiting.entries()) {
      await db
        .update(conversations)
        .set({
          state: 'queued',
          queueId: queue.id,
          queuedAt: sql`now() - make_interval(secs => ${count - i})`,
        })
        .where(eq(conversations.id, conversation.id));
    }
    expect(await assignWaiting(db, { queueIds: [queue.id] })).toBe(count);
    return Promise.all(waiting.map(async (c) => (await conversationRow(db, c.id)).agentId));
  }

  const idle = (agent: Agent) => agent.lastConversationEndedAt?.getTime() ?? -Infinity;
  const byIdle = (a: Agent, b: Agent) => idle(a) - idle(b) || (a.id < b.id ? -1 : 1);

  it('longest-idle fills the longest idle first, across pages', async () => {
    const agents = await manyAgents(150, () => 1);
    const queue = await buildQueue(db, agents, { strategy: 'longest-idle' });
    const placed = await placedInOnePass(queue, 150);
    expect(placed).toEqual([...agents].sort(byIdle).map((a) => a.id));
  });

  it('round-robin goes round from after the last offered member, lap after lap', async () => {
    const agents = await manyAgents(150, () => 2);
    const byId = [...agents].sort((a, b) => (a.id < b.id ? -1 : 1));
    const queue = await buildQueue(db, agents, {
      strategy: 'round-robin',
      lastOfferedAgentId: byId[99]!.id,
    });
    const placed = await placedInOnePass(queue, 300);
    expect(placed).toEqual(Array.from({ length: 300 }, (_, i) => byId[(100 + i) % 150]!.id));
    const [row] = await db.select().from(queues).where(eq(queues.id, queue.id));
    expect(row!.lastOfferedAgentId).toBe(byId[99]!.id);
  });

  it('least-busy gives each next one to whoever has the most room then, read or not', async () => {
    const agents = await manyAgents(150, (i) => 1 + ((i * 13) % 5));
    const queue = await buildQueue(db, agents, { strategy: 'least-busy' });
    // The order the strategy defines, one conversation at a time.
    const room = new Map(agents.map((a) => [a.id, a.capacitySms]));
    const expected: string[] = [];
    for (let i = 0; i < 400; i++) {
      const best = [...agents]
        .filter((a) => room.get(a.id)! > 0)
        .sort((a, b) => room.get(b.id)! - room.get(a.id)! || byIdle(a, b))[0]!;
      expected.push(best.id);
      room.set(best.id, room.get(best.id)! - 1);
    }
    expect(await placedInOnePass(queue, 400)).toEqual(expected);
  });
});

describe('offers and capacity', () => {
  it('never offers an agent more conversations than their capacity, per channel', async () => {
    const sms = await buildNumber(db);
    const whatsapp = await buildNumber(db, {
      kind: 'whatsapp',
      address: `whatsapp:+1555${Date.now() % 10_000_000}`,
    });
    const messenger = await buildNumber(db, {
      kind: 'messenger',
      address: `messenger:${Date.now()}${Math.floor(Math.random() * 1000)}`,
    });
    const agent = await buildAgent(db, {
      capacitySms: 2,
      capacityWhatsapp: 1,
      capacityMessenger: 2,
    });
    const queue = await buildQueue(db, [agent]);

    const queued = [];
    for (let i = 0; i < 4; i++) queued.push(await queueNew(sms.id, queue.id));
    expect(queued.map((c) => c.state)).toEqual(['offered', 'offered', 'queued', 'queued']);
    // WhatsApp has its own capacity: one more, on that channel only.
    const wa1 = await queueNew(whatsapp.id, queue.id);
    const wa2 = await queueNew(whatsapp.id, queue.id);
    expect([wa1.state, wa2.state]).toEqual(['offered', 'queued']);
    // So has Messenger: two more.
    const fb = [];
    for (let i = 0; i < 3; i++) fb.push(await queueNew(messenger.id, queue.id));
    expect(fb.map((c) => c.state)).toEqual(['offered', 'offered', 'queued']);
    expect(await conversationRow(db, fb[0]!.id)).toMatchObject({ agentId: agent.id });
    // Accepting does not make room; the pending offer already counted.
    await acceptOffer(db, (await pendingOffer(db, queued[0]!.id))!.id, agent.id);
    expect(await assignWaiting(db, { queueIds: [queue.id] })).toBe(0);
  });

  it('places a Messenger conversation behind a batch of SMS ones nobody has room for', async () => {
    const sms = await buildNumber(db);
    const messenger = await buildNumber(db, {
      kind: 'messenger',
      address: `messenger:${Date.now()}${Math.floor(Math.random() * 1000)}`,
    });
    const queue = await buildQueue(db, []);
    // More waiting SMS conversations than a batch claims, all older than the Messenger one,
    // and an agent with room on two channels, neither of them SMS.
    const waitingSms = [];
    for (let i = 0; i < 40; i++) waitingSms.push(await queueNew(sms.id, queue.id));
    const waitingMessenger = await queueNew(messenger.id, queue.id);
    const agent = await buildAgent(db, {
      capacitySms: 0,
      capacityWhatsapp: 1,
      capacityMessenger: 1,
    });
    await db.insert(queueMembers).values({ queueId: queue.id, userId: agent.id });

    expect(await assignWaiting(db, { queueIds: [queue.id] })).toBe(1);
    expect(await whoHolds(waitingMessenger.id)).toEqual({ state: 'offered', agentId: agent.id });
    expect((await whoHolds(waitingSms[0]!.id)).state).toBe('queued');
  });

  it('a timed-out offer moves on to another agent', async () => {
    const number = await buildNumber(db);
    const first = await buildAgent(db, { lastConversationEndedAt: minutesAgo(30) });
    const second = await buildAgent(db, { lastConversationEndedAt: minutesAgo(1) });
    const queue = await buildQueue(db, [first, second], { offerTimeoutSeconds: 20 });
    const conversation = await queueNew(number.id, queue.id);
    const offer = (await pendingOffer(db, conversation.id))!;
    expect(offer.agentId).toBe(first.id);
    expect(offer.expiresAt.getTime() - offer.createdAt.getTime()).toBeCloseTo(20_000, -3);

    // Not due yet: nothing happens.
    expect((await expireOffers(db, 10)).expired).toBe(0);
    await expireOfferNow(db, offer.id);
    const { expired, queueIds } = await expireOffers(db, 10);
    expect({ expired, queueIds }).toEqual({ expired: 1, queueIds: [queue.id] });
    expect(await whoHolds(conversation.id)).toEqual({ state: 'queued', agentId: null });
    await assignWaiting(db, { queueIds });

    const history = await offersOf(db, conversation.id);
    expect(history.map((o) => [o.agentId, o.state])).toEqual([
      [first.id, 'timed-out'],
      [second.id, 'pending'],
    ]);
    // Too late to accept the timed-out one.
    await expect(acceptOffer(db, offer.id, first.id)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('a rejected offer moves on, and not back to the same agent while another can take it', async () => {
    const number = await buildNumber(db);
    const [a, b, c] = [
      await buildAgent(db, { lastConversationEndedAt: minutesAgo(30) }),
      await buildAgent(db, { lastConversationEndedAt: minutesAgo(20) }),
      await buildAgent(db, { lastConversationEndedAt: minutesAgo(10) }),
    ];
    const queue = await buildQueue(db, [a, b, c]);
    const conversation = await queueNew(number.id, queue.id);

    const holders = [conversation.agentId];
    for (let i = 0; i < 3; i++) {
      const offer = (await pendingOffer(db, conversation.id))!;
      await rejectOffer(db, offer.id, offer.agentId);
      holders.push((await pendingOffer(db, conversation.id))!.agentId);
    }
    // Each agent once, then round again in the strategy's order.
    expect(holders).toEqual([a.id, b.id, c.id, a.id]);
    await expect(
      rejectOffer(db, (await offersOf(db, conversation.id))[0]!.id, a.id),
    ).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('auto-accept skips the offer: the conversation is active with the agent at once', async () => {
    const number = await buildNumber(db);
    const agent = await buildAgent(db);
    const queue = await buildQueue(db, [agent], { autoAccept: true });
    const conversation = await queueNew(number.id, queue.id);
    expect({ state: conversation.state, agentId: conversation.agentId }).toEqual({
      state: 'active',
      agentId: agent.id,
    });
    expect((await offersOf(db, conversation.id)).map((o) => o.state)).toEqual(['accepted']);
    expect(await eventTypes(db, conversation.id)).toEqual([
      'conversation.opened',
      'conversation.queued',
      'conversation.assigned',
    ]);
  });

  it('accept pins the conversation; only the offered agent may accept, once', async () => {
    const number = await buildNumber(db);
    const agent = await buildAgent(db);
    const other = await buildAgent(db);
    const queue = await buildQueue(db, [agent]);
    const conversation = await queueNew(number.id, queue.id);
    const offer = (await pendingOffer(db, conversation.id))!;

    await expect(acceptOffer(db, offer.id, other.id)).rejects.toMatchObject({ code: 'not_found' });
    expect(await acceptOffer(db, offer.id, agent.id)).toEqual({ conversationId: conversation.id });
    expect(await whoHolds(conversation.id)).toEqual({ state: 'active', agentId: agent.id });
    await expect(acceptOffer(db, offer.id, agent.id)).rejects.toMatchObject({ code: 'conflict' });
  });
});

describe('affinity', () => {
  async function originated(options: { beyondCapacity?: boolean } = {}) {
    const flow = await buildFlow(db, { affinityBeyondCapacity: options.beyondCapacity ?? false });
    const number = await buildNumber(db, { flowId: flow.id });
    const origin = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: minutesAgo(1) });
    const idle = await buildAgent(db, { lastConversationEndedAt: null });
    const queue = await buildQueue(db, [origin, idle]);
    const customer = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await db.transaction((tx) =>
      recordAffinity(tx, {
        numberId: number.id,
        customerAddress: customer,
        agentId: origin.id,
        originalText: 'Your parcel is ready, shall we deliver tomorrow?',
        messageId: null,
      }),
    );
    const reply = async () => {
      const conversation = await conversationInFlow(db, number.id, customer);
      await queueConversation(db, conversation.id, queue.id);
      return conversation.id;
    };
    return { flow, number, origin, idle, queue, customer, reply };
  }

  it("offers the customer's reply to the originating agent, with the original text", async () => {
    const { origin, reply, flow } = await originated();
    expect(flow.affinityTtlHours).toBe(168);
    const conversationId = await reply();
    const offer = (await pendingOffer(db, conversationId))!;
    expect(offer).toMatchObject({
      agentId: origin.id,
      reason: 'affinity',
      originalText: 'Your parcel is ready, shall we deliver tomorrow?',
    });
  });

  it('records the affinity for the flow’s TTL, renewing it on the next origination', async () => {
    const { number, customer, origin, idle } = await originated();
    const [first] = await db.select().from(affinities).where(eq(affinities.numberId, number.id));
    const hours = (first!.expiresAt.getTime() - first!.createdAt.getTime()) / 3_600_000;
    expect(hours).toBeCloseTo(168, 1);
    await db.transaction((tx) =>
      recordAffinity(tx, {
        numberId: number.id,
        customerAddress: customer,
        agentId: idle.id,
        originalText: 'second',
        messageId: null,
        ttlHours: 2,
      }),
    );
    const rows = await db.select().from(affinities).where(eq(affinities.numberId, number.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ agentId: idle.id, originalText: 'second' });
    expect(rows[0]!.agentId).not.toBe(origin.id);
  });

  it('goes to the queue when the originating agent is offline', async () => {
    const { origin, idle, reply } = await originated();
    await setPresence(db, origin.id, 'offline', origin.id);
    const offer = (await pendingOffer(db, await reply()))!;
    expect(offer).toMatchObject({ agentId: idle.id, reason: 'queue', originalText: null });
  });

  it('goes to the queue when the originating agent lets the offer time out', async () => {
    const { origin, idle, queue, reply } = await originated();
    const conversationId = await reply();
    const offer = (await pendingOffer(db, conversationId))!;
    expect(offer.agentId).toBe(origin.id);
    await expireOfferNow(db, offer.id);
    await expireOffers(db, 10);
    await assignWaiting(db, { queueIds: [queue.id] });
    expect((await pendingOffer(db, conversationId))!).toMatchObject({
      agentId: idle.id,
      reason: 'queue',
    });
  });

  it('offers beyond capacity only when the flow allows it', async () => {
    const strict = await originated();
    await giveActive(db, strict.origin, strict.number.id, 1);
    expect((await pendingOffer(db, await strict.reply()))!.agentId).toBe(strict.idle.id);

    const lenient = await originated({ beyondCapacity: true });
    await giveActive(db, lenient.origin, lenient.number.id, 1);
    expect((await pendingOffer(db, await lenient.reply()))!).toMatchObject({
      agentId: lenient.origin.id,
      reason: 'affinity',
    });
  });

  it('ignores and then deletes expired affinities', async () => {
    const { number, idle, reply } = await originated();
    await db
      .update(affinities)
      .set({ expiresAt: sql`now() - interval '1 minute'` })
      .where(eq(affinities.numberId, number.id));
    expect((await pendingOffer(db, await reply()))!.agentId).toBe(idle.id);
    expect(await db.transaction((tx) => expireAffinities(tx, 100))).toBeGreaterThanOrEqual(1);
    expect(await db.select().from(affinities).where(eq(affinities.numberId, number.id))).toEqual(
      [],
    );
  });
});

describe('end, transfer, reassign', () => {
  async function activeWith(agent: Agent, queueId: string, numberId: string) {
    const conversation = await queueNew(numberId, queueId);
    expect(conversation.agentId).toBe(agent.id);
    await acceptOffer(db, (await pendingOffer(db, conversation.id))!.id, agent.id);
    return conversation.id;
  }

  it('ending closes with the final response, frees the agent and gives them the next one', async () => {
    const flow = await buildFlow(db, {
      businessName: 'Acme',
      finalMessage: 'Thanks for contacting {businessName}, {agentName} here',
    });
    const number = await buildNumber(db, { flowId: flow.id });
    const agent = await buildAgent(db, { capacitySms: 1, name: 'Ada' });
    const queue = await buildQueue(db, [agent]);
    const first = await activeWith(agent, queue.id, number.id);
    const waiting = await queueNew(number.id, queue.id);
    expect(waiting.state).toBe('queued');

    await expect(
      endConversation(
        db,
        first,
        { id: (await buildAgent(db)).id, role: 'agent' },
        closeConversation,
      ),
    ).rejects.toMatchObject({ code: 'not_found' });
    await endConversation(db, first, { id: agent.id, role: 'agent' }, closeConversation);

    const closed = await conversationRow(db, first);
    expect({ state: closed.state, reason: closed.closeReason }).toEqual({
      state: 'closed',
      reason: 'ended',
    });
    const sent = await db.select().from(messages).where(eq(messages.conversationId, first));
    expect(sent.map((m) => m.body)).toContain('Thanks for contacting Acme, Ada here');
    const [after] = await db.select().from(users).where(eq(users.id, agent.id));
    expect(after!.lastConversationEndedAt).not.toBeNull();
    expect(await whoHolds(waiting.id)).toEqual({ state: 'offered', agentId: agent.id });
    await expect(
      endConversation(db, first, { id: agent.id, role: 'agent' }, closeConversation),
    ).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('transfer to an agent keeps the conversation and its transcript; only the agent changes', async () => {
    const number = await buildNumber(db);
    const from = await buildAgent(db, { lastConversationEndedAt: null });
    const to = await buildAgent(db, { lastConversationEndedAt: minutesAgo(1) });
    const queue = await buildQueue(db, [from, to]);
    const id = await activeWith(from, queue.id, number.id);
    await db.insert(messages).values({
      conversationId: id,
      numberId: number.id,
      direction: 'inbound',
      author: 'customer',
      fromAddress: '+15550000000',
      toAddress: number.address,
      body: 'my order is late',
      status: 'received',
    });
    await db.insert(messages).values({
      conversationId: id,
      numberId: number.id,
      direction: 'outbound',
      author: 'agent',
      agentId: from.id,
      fromAddress: number.address,
      toAddress: '+15550000000',
      body: 'let me look',
      status: 'delivered',
    });
    const before = await eventTypes(db, id);
    const transcript = await db.select().from(messages).where(eq(messages.conversationId, id));

    await transferConversation(
      db,
      id,
      { id: from.id, role: 'agent' },
      { toAgentId: to.id },
      'VIP, be nice',
    );
    const offer = (await pendingOffer(db, id))!;
    expect(offer).toMatchObject({ agentId: to.id, reason: 'transfer' });
    await acceptOffer(db, offer.id, to.id);

    expect(await whoHolds(id)).toEqual({ state: 'active', agentId: to.id });
    expect(await db.select().from(messages).where(eq(messages.conversationId, id))).toEqual(
      transcript,
    );
    // The transcript still names who wrote what before the transfer.
    const read = await readTranscript(db, id);
    expect(read.conversation.agentName).toBe(to.name);
    expect(read.messages.find((m) => m.body === 'let me look')?.agentName).toBe(from.name);
    const after = await eventTypes(db, id);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length)).toEqual([
      'conversation.transferred',
      'offer.created',
      'offer.accepted',
    ]);
    // The previous agent may no longer act on it.
    await expect(
      transferConversation(db, id, { id: from.id, role: 'agent' }, { toAgentId: from.id }, null),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('transfer to a queue waits there and goes to someone other than the transferring agent', async () => {
    const number = await buildNumber(db);
    const from = await buildAgent(db, { lastConversationEndedAt: null });
    const other = await buildAgent(db, { lastConversationEndedAt: minutesAgo(1) });
    const first = await buildQueue(db, [from]);
    const second = await buildQueue(db, [from, other]);
    const id = await activeWith(from, first.id, number.id);

    await transferConversation(
      db,
      id,
      { id: from.id, role: 'agent' },
      { toQueueId: second.id },
      'billing question',
    );
    const row = await conversationRow(db, id);
    expect({ queueId: row.queueId, state: row.state, agentId: row.agentId }).toEqual({
      queueId: second.id,
      state: 'offered',
      agentId: other.id,
    });
  });

  it('reassign makes the conversation active with the new agent, within their capacity', async () => {
    const number = await buildNumber(db);
    const from = await buildAgent(db, { capacitySms: 1, lastConversationEndedAt: null });
    const to = await buildAgent(db, { capacitySms: 1, presence: 'away' });
    const full = await buildAgent(db, { capacitySms: 1, presence: 'away' });
    await giveActive(db, full, number.id, 1);
    const queue = await buildQueue(db, [from]);
    const id = await activeWith(from, queue.id, number.id);
    const next = await queueNew(number.id, queue.id);
    expect(next.state).toBe('queued');

    await expect(reassignConversation(db, id, supervisor, full.id)).rejects.toMatchObject({
      code: 'conflict',
    });
    await reassignConversation(db, id, supervisor, to.id);
    expect(await whoHolds(id)).toEqual({ state: 'active', agentId: to.id });
    // The freed agent gets the waiting conversation.
    expect(await whoHolds(next.id)).toEqual({ state: 'offered', agentId: from.id });
  });
});

describe('presence', () => {
  it('going away withdraws pending offers, which go to another agent', async () => {
    const number = await buildNumber(db);
    const leaving = await buildAgent(db, { lastConversationEndedAt: null });
    const staying = await buildAgent(db, { lastConversationEndedAt: minutesAgo(1) });
    const queue = await buildQueue(db, [leaving, staying]);
    const conversation = await queueNew(number.id, queue.id);
    expect(conversation.agentId).toBe(leaving.id);

    const view = await setPresence(db, leaving.id, 'away', leaving.id);
    expect(view.presence).toBe('away');
    expect((await offersOf(db, conversation.id)).map((o) => [o.agentId, o.state])).toEqual([
      [leaving.id, 'canceled'],
      [staying.id, 'pending'],
    ]);
  });

  it('an agent offline longer than the queue allows loses active conversations to the queue', async () => {
    const number = await buildNumber(db);
    const gone = await buildAgent(db, { lastConversationEndedAt: null });
    const other = await buildAgent(db, {
      lastConversationEndedAt: minutesAgo(1),
      presence: 'away',
    });
    const queue = await buildQueue(db, [gone, other], { offlineRequeueSeconds: 300 });
    const conversation = await queueNew(number.id, queue.id);
    await acceptOffer(db, (await pendingOffer(db, conversation.id))!.id, gone.id);
    await setPresence(db, gone.id, 'offline', gone.id);
    await setPresence(db, other.id, 'available', other.id);

    // Offline for less than 300 s: still theirs.
    expect((await requeueOfflineAgents(db, 10)).requeued).toBe(0);
    expect(await whoHolds(conversation.id)).toEqual({ state: 'active', agentId: gone.id });

    await db
      .update(users)
      .set({ presenceChangedAt: sql`now() - interval '301 seconds'` })
      .where(eq(users.id, gone.id));
    const { requeued, queueIds } = await requeueOfflineAgents(db, 10);
    expect({ requeued, queueIds }).toEqual({ requeued: 1, queueIds: [queue.id] });
    await assignWaiting(db, { queueIds });
    expect(await whoHolds(conversation.id)).toEqual({ state: 'offered', agentId: other.id });
  });
});

describe('max wait', () => {
  it('overflows to the overflow queue once, where its agents take it', async () => {
    const number = await buildNumber(db);
    const backup = await buildAgent(db);
    const overflow = await buildQueue(db, [backup]);
    const main = await buildQueue(db, [], { maxWaitSeconds: 60, overflowQueueId: overflow.id });
    const conversation = await queueNew(number.id, main.id);
    expect((await overflowWaiting(db, 10, enqueueOutbound)).overflowed).toBe(0);

    await db
      .update(conversations)
      .set({ queuedAt: sql`now() - interval '61 seconds'` })
      .where(eq(conversations.id, conversation.id));
    const { overflowed, queueIds } = await overflowWaiting(db, 10, enqueueOutbound);
    expect({ overflowed, queueIds }).toEqual({ overflowed: 1, queueIds: [overflow.id] });
    await assignWaiting(db, { queueIds });
    expect(await whoHolds(conversation.id)).toEqual({ state: 'offered', agentId: backup.id });
  });

  it('sends the overflow message once and keeps the conversation waiting', async () => {
    const number = await buildNumber(db);
    const main = await buildQueue(db, [], {
      maxWaitSeconds: 30,
      overflowMessage: 'We are busy; an agent will answer as soon as possible.',
    });
    const conversation = await queueNew(number.id, main.id);
    await db
      .update(conversations)
      .set({ queuedAt: sql`now() - interval '31 seconds'` })
      .where(eq(conversations.id, conversation.id));
    expect((await overflowWaiting(db, 10, enqueueOutbound)).overflowed).toBe(1);
    expect((await overflowWaiting(db, 10, enqueueOutbound)).overflowed).toBe(0);
    const sent = await db
      .select()
      .from(messages)
      .where(eq(messages.conversationId, conversation.id));
    expect(sent.map((m) => [m.author, m.body])).toEqual([
      ['flow', 'We are busy; an agent will answer as soon as possible.'],
    ]);
    expect((await conversationRow(db, conversation.id)).state).toBe('queued');
  });
});

describe('queue position', () => {
  it('counts the conversations ahead and estimates from recent waits', async () => {
    const number = await buildNumber(db);
    const agent = await buildAgent(db, { presence: 'away', capacitySms: 10 });
    const queue = await buildQueue(db, [agent]);
    const waiting = [];
    for (let i = 0; i < 3; i++) waiting.push(await queueNew(number.id, queue.id));
    const positions = await Promise.all(waiting.map((c) => queuePosition(db, c.id)));
    expect(positions).toEqual([
      { position: 1, estimatedWaitSeconds: null },
      { position: 2, estimatedWaitSeconds: null },
      { position: 3, estimatedWaitSeconds: null },
    ]);

    // History: three conversations answered after waiting two minutes each.
    await setPresence(db, agent.id, 'available', agent.id);
    for (const c of waiting) {
      await db
        .update(conversations)
        .set({ queuedAt: sql`now() - interval '120 seconds'` })
        .where(eq(conversations.id, c.id));
      await acceptOffer(db, (await pendingOffer(db, c.id))!.id, agent.id);
    }
    await setPresence(db, agent.id, 'away', agent.id);
    const next = await queueNew(number.id, queue.id);
    const estimate = (await queuePosition(db, next.id))!;
    expect(estimate.position).toBe(1);
    expect(estimate.estimatedWaitSeconds).toBeGreaterThanOrEqual(115);
    expect(estimate.estimatedWaitSeconds).toBeLessThanOrEqual(121);
    expect(await queuePosition(db, waiting[0]!.id)).toBeNull();
  });
});

describe('offers table', () => {
  it('holds at most one pending offer per conversation in every test above', async () => {
    const rows = await db
      .select({ conversationId: offers.conversationId, n: sql<number>`count(*)::int` })
      .from(offers)
      .where(eq(offers.state, 'pending'))
      .groupBy(offers.conversationId);
    expect(rows.every((r) => r.n === 1)).toBe(true);
  });
});
