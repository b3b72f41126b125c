import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations, messages, users } from '../src/db/schema.js';
import { queueConversation } from '../src/routing/index.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  buildFlow,
  buildNumber,
  buildQueue,
  conversationInFlow,
  phoneNumber,
} from './helpers/factories.js';

let t: TestApp;
let agent: SignedIn;
let colleague: SignedIn;
let supervisor: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  agent = await signIn(t.store, 'agent');
  colleague = await signIn(t.store, 'agent');
  supervisor = await signIn(t.store, 'supervisor');
});
afterAll(() => t?.close());

const call = (method: 'GET' | 'POST', url: string, who?: SignedIn) =>
  t.app.inject({ method, url, ...(who && { headers: who.headers }) });

/** A conversation active with the agent on a fresh number (or the one given). */
async function activeWith(who: SignedIn, numberId?: string) {
  const db = t.store.db;
  const number = numberId ?? (await buildNumber(db)).id;
  const conversation = await conversationInFlow(db, number);
  await db
    .update(conversations)
    .set({ state: 'active', agentId: who.user.id })
    .where(eq(conversations.id, conversation.id));
  return conversation;
}

/** A message in the conversation, as the inbound pipeline or the outbox would store it. */
async function message(conversationId: string, direction: 'inbound' | 'outbound', body: string) {
  const db = t.store.db;
  const [conversation] = await db
    .select()
    .from(conversations)
    .where(eq(conversations.id, conversationId));
  await db.insert(messages).values({
    conversationId,
    numberId: conversation!.numberId,
    direction,
    author: direction === 'inbound' ? 'customer' : 'agent',
    fromAddress: direction === 'inbound' ? conversation!.customerAddress : 'us',
    toAddress: direction === 'inbound' ? 'us' : conversation!.customerAddress,
    body,
    status: direction === 'inbound' ? 'received' : 'queued',
  });
}

interface MineItem {
  id: string;
  unread: number;
  lastMessage: { body: string; direction: string; createdAt: string } | null;
}

async function mine(who: SignedIn, id: string): Promise<MineItem | undefined> {
  const response = await call('GET', '/api/conversations/mine', who);
  expect(response.statusCode).toBe(200);
  return (response.json() as MineItem[]).find((c) => c.id === id);
}

describe('the list preview', () => {
  it('says who wrote the latest message: me, another agent by name, or the flow', async () => {
    const db = t.store.db;
    const conversation = await activeWith(agent);
    const [row] = await db
      .select()
      .from(conversations)
      .where(eq(conversations.id, conversation.id));
    const outbound = (author: 'agent' | 'flow', agentId: string | null, body: string) =>
      db.insert(messages).values({
        conversationId: conversation.id,
        numberId: row!.numberId,
        direction: 'outbound',
        author,
        agentId,
        fromAddress: 'us',
        toAddress: row!.customerAddress,
        body,
        status: 'queued',
      });
    await outbound('flow', null, 'An agent will be with you shortly.');
    expect((await mine(agent, conversation.id))?.lastMessage).toMatchObject({
      author: 'flow',
      agentId: null,
    });
    await outbound('agent', colleague.user.id, 'Passing you to my colleague');
    expect((await mine(agent, conversation.id))?.lastMessage).toMatchObject({
      author: 'agent',
      agentId: colleague.user.id,
      agentName: colleague.user.name,
    });
    await outbound('agent', agent.user.id, 'Hi, I can help');
    expect((await mine(agent, conversation.id))?.lastMessage).toMatchObject({
      author: 'agent',
      agentId: agent.user.id,
    });
  });
});

describe('unread counts', () => {
  it("counts the customer's messages until read, then only those after", async () => {
    const conversation = await activeWith(agent);
    await message(conversation.id, 'inbound', 'Hello?');
    await message(conversation.id, 'inbound', 'Anyone there?');
    await message(conversation.id, 'outbound', 'Yes, how can I help?');

    const before = await mine(agent, conversation.id);
    expect(before).toMatchObject({
      unread: 2,
      lastMessage: { body: 'Yes, how can I help?', direction: 'outbound' },
    });
    expect(new Date(before!.lastMessage!.createdAt).toISOString()).toBe(
      before!.lastMessage!.createdAt,
    );

    const read = await call('POST', `/api/conversations/${conversation.id}/read`, agent);
    expect(read.statusCode).toBe(204);
    expect((await mine(agent, conversation.id))?.unread).toBe(0);

    await message(conversation.id, 'inbound', 'My order is late');
    await message(conversation.id, 'outbound', 'Let me look');
    await message(conversation.id, 'inbound', 'Order 42');
    expect(await mine(agent, conversation.id)).toMatchObject({
      unread: 2,
      lastMessage: { body: 'Order 42', direction: 'inbound' },
    });

    // Reading again moves the mark; someone else's read does not touch the agent's count.
    expect(
      (await call('POST', `/api/conversations/${conversation.id}/read`, agent)).statusCode,
    ).toBe(204);
    await message(conversation.id, 'inbound', 'Still there?');
    expect(
      (await call('POST', `/api/conversations/${conversation.id}/read`, supervisor)).statusCode,
    ).toBe(204);
    expect((await mine(agent, conversation.id))?.unread).toBe(1);
  });

  it('has no last message and nothing unread before the first message', async () => {
    const conversation = await activeWith(agent);
    expect(await mine(agent, conversation.id)).toMatchObject({ unread: 0, lastMessage: null });
  });

  it('marks read only what the user may read: 404 otherwise', async () => {
    const conversation = await activeWith(agent);
    const theirs = await call('POST', `/api/conversations/${conversation.id}/read`, colleague);
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json()).toMatchObject({ error: 'not_found', message: 'no such conversation' });
    // Supervisors may read any conversation, but not one that does not exist.
    const unknown = await call(
      'POST',
      '/api/conversations/00000000-0000-4000-8000-000000000000/read',
      supervisor,
    );
    expect(unknown.statusCode).toBe(404);
    expect((await call('POST', `/api/conversations/${conversation.id}/read`)).statusCode).toBe(401);
  });

  it('lets an agent mark read a conversation offered to them', async () => {
    const db = t.store.db;
    const offeree = await signIn(t.store, 'agent');
    await db.update(users).set({ presence: 'available' }).where(eq(users.id, offeree.user.id));
    const queue = await buildQueue(db, [offeree.user]);
    const conversation = await conversationInFlow(db, (await buildNumber(db)).id);
    await message(conversation.id, 'inbound', 'Hi');
    await queueConversation(db, conversation.id, queue.id);
    expect(await mine(offeree, conversation.id)).toMatchObject({ state: 'offered', unread: 1 });
    expect(
      (await call('POST', `/api/conversations/${conversation.id}/read`, offeree)).statusCode,
    ).toBe(204);
    expect((await mine(offeree, conversation.id))?.unread).toBe(0);
  });
});

interface Summary {
  id: string;
  state: string;
  channel: string;
  queueName: string | null;
  agentName: string | null;
  lastMessageAt: string;
  closedAt: string | null;
}

describe('the supervisor list', () => {
  /** One conversation in each state, latest message in the order given (first = most recent). */
  async function oneOfEach() {
    const db = t.store.db;
    const queue = await buildQueue(db, [], { name: 'Billing' });
    const whatsapp = await buildNumber(db, {
      address: `whatsapp:${phoneNumber()}`,
      kind: 'whatsapp',
    });
    const inFlow = await conversationInFlow(db, (await buildNumber(db)).id);
    const queued = await conversationInFlow(db, whatsapp.id);
    // Nobody in Billing is available: it waits.
    await queueConversation(db, queued.id, queue.id);
    const active = await activeWith(agent);
    const closed = await activeWith(agent);
    await db
      .update(conversations)
      .set({ state: 'closed', closedAt: new Date(), closeReason: 'ended' })
      .where(eq(conversations.id, closed.id));
    // Ahead of everything else in the store, newest first in this order.
    const ids = [queued.id, active.id, inFlow.id, closed.id];
    for (const [index, id] of ids.entries()) {
      await db
        .update(conversations)
        .set({ lastMessageAt: sql`now() + ${`${10 - index} days`}::interval` })
        .where(eq(conversations.id, id));
    }
    return { queue, inFlow, queued, active, closed };
  }

  it('lists open conversations by default, most recent first, with names and channel', async () => {
    const { queued, active, inFlow, closed } = await oneOfEach();
    const response = await call('GET', '/api/conversations', supervisor);
    expect(response.statusCode).toBe(200);
    const list = response.json() as Summary[];
    expect(list.slice(0, 3).map((c) => c.id)).toEqual([queued.id, active.id, inFlow.id]);
    expect(list.map((c) => c.id)).not.toContain(closed.id);
    expect(list.every((c) => c.state !== 'closed')).toBe(true);
    expect(list[0]).toMatchObject({
      state: 'queued',
      channel: 'whatsapp',
      queueName: 'Billing',
      agentName: null,
      closedAt: null,
    });
    expect(list[1]).toMatchObject({ state: 'active', channel: 'sms', agentName: agent.user.name });
    const times = list.map((c) => Date.parse(c.lastMessageAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('filters by state and limits the count', async () => {
    const { closed, active } = await oneOfEach();
    const closedList = (
      await call('GET', '/api/conversations?state=closed', supervisor)
    ).json() as Summary[];
    expect(closedList.map((c) => c.id)).toContain(closed.id);
    expect(closedList.every((c) => c.state === 'closed' && c.closedAt !== null)).toBe(true);
    const activeList = (
      await call('GET', '/api/conversations?state=active', supervisor)
    ).json() as Summary[];
    expect(activeList.map((c) => c.id)).toContain(active.id);
    expect(activeList.every((c) => c.state === 'active')).toBe(true);
    const flowList = (
      await call('GET', '/api/conversations?state=flow', supervisor)
    ).json() as Summary[];
    expect(flowList.length).toBeGreaterThan(0);
    expect(flowList.every((c) => c.state === 'flow')).toBe(true);
    const one = await call('GET', '/api/conversations?limit=1', supervisor);
    expect(one.json()).toHaveLength(1);
  });

  it('refuses a bad state or limit naming the field, and agents with 403', async () => {
    const state = await call('GET', '/api/conversations?state=pending', supervisor);
    expect(state.statusCode).toBe(400);
    expect(state.json()).toMatchObject({ error: 'bad_request', field: 'state' });
    const limit = await call('GET', '/api/conversations?limit=501', supervisor);
    expect(limit.statusCode).toBe(400);
    expect(limit.json()).toMatchObject({ error: 'bad_request', field: 'limit' });
    const admin = await signIn(t.store, 'admin');
    expect((await call('GET', '/api/conversations', admin)).statusCode).toBe(200);
    const refused = await call('GET', '/api/conversations', agent);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error: 'forbidden' });
    // The static routes beside it still answer as before.
    expect((await call('GET', '/api/conversations/mine', agent)).statusCode).toBe(200);
  });
});

describe('the transcript', () => {
  interface Transcript {
    conversation: { allowAttachments: boolean; queueName: string | null; channel: string };
  }

  it("tells the composer the flow's policy for agents' attachments, the queue and the channel", async () => {
    const db = t.store.db;
    const queue = await buildQueue(db, [], { name: 'Returns' });
    // Customers may send attachments here; agents may not: the composer follows the latter.
    const flow = await buildFlow(db, {
      allowAttachments: true,
      allowAgentAttachments: false,
      queueId: queue.id,
    });
    const refusing = await buildNumber(db, {
      address: `whatsapp:${phoneNumber()}`,
      kind: 'whatsapp',
      flowId: flow.id,
    });
    const strict = await activeWith(agent, refusing.id);
    await db
      .update(conversations)
      .set({ queueId: queue.id })
      .where(eq(conversations.id, strict.id));
    const strictView = (await call('GET', `/api/conversations/${strict.id}`, agent)).json();
    expect((strictView as Transcript).conversation).toMatchObject({
      allowAttachments: false,
      queueName: 'Returns',
      channel: 'whatsapp',
    });

    // A number without a flow has no policy against attachments.
    const plain = await activeWith(agent);
    const plainView = (await call('GET', `/api/conversations/${plain.id}`, agent)).json();
    expect((plainView as Transcript).conversation).toMatchObject({
      allowAttachments: true,
      queueName: null,
      channel: 'sms',
    });
  });
});
