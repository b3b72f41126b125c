import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../src/admin/agents.js';
import { createQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import { conversations, messages } from '../src/db/schema.js';
import { phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.close());

interface Offer {
  id: string;
  conversationId: string;
  reason: string;
  originalText: string | null;
}

async function agent(name: string) {
  const user = await createAgent(stack.db, {
    email: `${name}-${randomBytes(3).toString('hex')}@example.com`,
    name,
    role: 'agent',
    password: 'correct horse battery',
    capacitySms: 2,
  });
  const { token } = await createSession(stack.db, user.id, 'api-token');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${stack.parley.url}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  return {
    user,
    call,
    presence: (presence: string) => call('PUT', '/api/agents/me/presence', { presence }),
    offers: async () => (await (await call('GET', '/api/offers')).json()) as Offer[],
  };
}

/** A number whose flow routes to a queue of the given agents. */
async function numberWithQueue(memberIds: string[]) {
  const queue = await createQueue(stack.db, {
    name: `Q ${randomBytes(2).toString('hex')}`,
    memberIds,
    offerTimeoutSeconds: 5,
  });
  return stack.addNumber({ flow: { name: 'Replies', queueId: queue.id } });
}

describe('origination on-reply', () => {
  it('opens no conversation until the customer answers, then offers it to the agent with the text', async () => {
    const ada = await agent('ada');
    const bob = await agent('bob');
    const { number } = await numberWithQueue([ada.user.id, bob.user.id]);
    await ada.presence('available');
    await bob.presence('available');
    const handset = phoneNumber();
    const sent = await ada.call('POST', '/api/originations', {
      to: handset,
      numberId: number.id,
      body: 'Your repair is ready. Reply to book a pickup.',
      strategy: 'on-reply',
    });
    expect(sent.status).toBe(202);
    expect(((await sent.json()) as { conversationId: string | null }).conversationId).toBeNull();
    await stack.received(handset, 'Your repair is ready. Reply to book a pickup.');
    const before = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.customerAddress, handset));
    expect(before).toHaveLength(0);

    await stack.text(handset, number.address, 'Tomorrow at 10?');
    const offer = await eventually(async () => (await ada.offers())[0]);
    expect(offer).toMatchObject({
      reason: 'affinity',
      originalText: 'Your repair is ready. Reply to book a pickup.',
    });
    expect(await bob.offers()).toHaveLength(0);
    expect((await ada.call('POST', `/api/offers/${offer.id}/accept`, {})).status).toBeLessThan(300);
    const [conversation] = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, offer.conversationId));
    expect(conversation).toMatchObject({ state: 'active', agentId: ada.user.id });
    // The conversation starts with the agent's text, which a banner would only repeat.
    const transcript = (await (
      await ada.call('GET', `/api/conversations/${offer.conversationId}`)
    ).json()) as {
      originalText: string | null;
      messages: { author: string; body: string }[];
    };
    expect(transcript.messages.map((m) => [m.author, m.body])).toEqual([
      ['agent', 'Your repair is ready. Reply to book a pickup.'],
      ['customer', 'Tomorrow at 10?'],
    ]);
    expect(transcript.originalText).toBeNull();
  });

  it('goes to the queue when the originating agent is offline', async () => {
    const carol = await agent('carol');
    const dan = await agent('dan');
    const { number } = await numberWithQueue([carol.user.id, dan.user.id]);
    await carol.presence('available');
    await dan.presence('available');
    const handset = phoneNumber();
    await carol.call('POST', '/api/originations', {
      to: handset,
      numberId: number.id,
      body: 'Following up on your order',
      strategy: 'on-reply',
    });
    await stack.received(handset, 'Following up on your order');
    await carol.presence('offline');
    await stack.text(handset, number.address, 'Thanks, all good');
    const offer = await eventually(async () => (await dan.offers())[0]);
    expect(offer.reason).toBe('queue');
    expect(await carol.offers()).toHaveLength(0);
    const [reply] = await stack.db.select().from(messages).where(eq(messages.fromAddress, handset));
    expect(reply?.conversationId).toBe(offer.conversationId);
  });
});
