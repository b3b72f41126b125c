import { randomBytes } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../src/admin/agents.js';
import { createQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import { upsertContact } from '../src/consent/contacts.js';
import { conversations, media, messages } from '../src/db/schema.js';
import { inTransaction } from '../src/db/transactions.js';
import { closeConversation } from '../src/flows/closing.js';
import type { FlowInput } from '../src/flows/flows.js';
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
}
interface Transcript {
  conversation: { allowAttachments: boolean };
  originalText: string | null;
  messages: { author: string; body: string; media: unknown[] }[];
}

async function user(name: string, role: 'agent' | 'admin' = 'agent') {
  const created = await createAgent(stack.db, {
    email: `${name}-${randomBytes(3).toString('hex')}@example.com`,
    name,
    role,
    password: 'correct horse battery',
    capacitySms: 5,
  });
  const { token } = await createSession(stack.db, created.id, 'api-token');
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${stack.parley.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const upload = async () => {
    const response = await fetch(`${stack.parley.url}/api/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' },
      body: randomBytes(100),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { token: string }).token;
  };
  return { user: created, call, upload };
}

/** A number whose flow routes to a queue of the given agents (who are set available). */
async function numberWithFlow(flow: Omit<FlowInput, 'name'>, members: { user: { id: string } }[]) {
  const queue = await createQueue(stack.db, {
    name: `Q ${randomBytes(2).toString('hex')}`,
    memberIds: members.map((m) => m.user.id),
    offerTimeoutSeconds: 30,
  });
  return stack.addNumber({ flow: { name: 'Policies', queueId: queue.id, ...flow } });
}

const PICTURE = { contentType: 'image/png', base64: randomBytes(80).toString('base64') };

/** The messages stored for a conversation, oldest first. */
async function transcriptRows(conversationId: string) {
  return stack.db
    .select({ author: messages.author, body: messages.body, direction: messages.direction })
    .from(messages)
    .where(eq(messages.conversationId, conversationId))
    .orderBy(asc(messages.createdAt));
}

async function openConversationOf(handset: string) {
  return eventually(async () => {
    const [row] = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.customerAddress, handset));
    return row;
  });
}

describe('attachment policy', () => {
  it("refuses agents' attachments with a 400 on attachments when the flow says no, and still takes customers'", async () => {
    const ada = await user('ada');
    const { number } = await numberWithFlow(
      { allowAgentAttachments: false, allowAttachments: true },
      [ada],
    );
    await ada.call('PUT', '/api/agents/me/presence', { presence: 'available' });
    const handset = phoneNumber();

    const refusedOrigination = await ada.call('POST', '/api/originations', {
      to: handset,
      numberId: number.id,
      body: 'Your receipt',
      attachments: [await ada.upload()],
      strategy: 'assign-now',
    });
    expect(refusedOrigination.status).toBe(400);
    const problem = (await refusedOrigination.json()) as { field: string; message: string };
    expect(problem.field).toBe('attachments');
    expect(problem.message).toMatch(/does not let agents send attachments/);
    expect(
      await stack.db.select().from(messages).where(eq(messages.toAddress, handset)),
    ).toHaveLength(0);

    const started = await ada.call('POST', '/api/originations', {
      to: handset,
      numberId: number.id,
      body: 'Your receipt follows by email',
      strategy: 'assign-now',
    });
    expect(started.status).toBe(202);
    const { conversationId } = (await started.json()) as { conversationId: string };
    const refusedReply = await ada.call('POST', `/api/conversations/${conversationId}/messages`, {
      body: 'Here it is',
      attachments: [await ada.upload()],
    });
    expect(refusedReply.status).toBe(400);
    expect(await refusedReply.json()).toMatchObject({ field: 'attachments' });
    const transcript = (await (
      await ada.call('GET', `/api/conversations/${conversationId}`)
    ).json()) as Transcript;
    expect(transcript.conversation.allowAttachments).toBe(false);

    // The customer switch is on: their picture is fetched, not refused.
    await stack.text(handset, number.address, 'Here is mine', [PICTURE]);
    const customerMedia = await eventually(async () => {
      const rows = await stack.db
        .select({ status: media.status })
        .from(media)
        .innerJoin(messages, eq(messages.id, media.messageId))
        .where(and(eq(messages.conversationId, conversationId), eq(messages.author, 'customer')));
      return rows.length > 0 && rows;
    });
    expect(customerMedia.map((m) => m.status)).not.toContain('refused');
  });

  it("sends agents' attachments when the flow allows them, while refusing customers'", async () => {
    const bea = await user('bea');
    const { number } = await numberWithFlow(
      { allowAgentAttachments: true, allowAttachments: false },
      [bea],
    );
    const handset = phoneNumber();
    const started = await bea.call('POST', '/api/originations', {
      to: handset,
      numberId: number.id,
      body: 'Your receipt',
      attachments: [await bea.upload()],
      strategy: 'assign-now',
    });
    expect(started.status).toBe(202);
    const received = await stack.received(handset, 'Your receipt');
    expect(received.media).toHaveLength(1);
    const { conversationId } = (await started.json()) as { conversationId: string };
    const transcript = (await (
      await bea.call('GET', `/api/conversations/${conversationId}`)
    ).json()) as Transcript;
    expect(transcript.conversation.allowAttachments).toBe(true);

    await stack.text(handset, number.address, 'Thanks, here is mine', [PICTURE]);
    const customerMedia = await eventually(async () => {
      const rows = await stack.db
        .select({ status: media.status })
        .from(media)
        .innerJoin(messages, eq(messages.id, media.messageId))
        .where(and(eq(messages.conversationId, conversationId), eq(messages.author, 'customer')));
      return rows.length > 0 && rows;
    });
    expect(customerMedia.map((m) => m.status)).toEqual(['refused']);
  });
});

describe('a reply to outreach', () => {
  const GREETING = 'An agent will be with you shortly.';

  async function outreach(flow: Omit<FlowInput, 'name'>, text: string) {
    const agent = await user('cy');
    const { number } = await numberWithFlow({ initialMessage: GREETING, ...flow }, [agent]);
    await agent.call('PUT', '/api/agents/me/presence', { presence: 'available' });
    const handset = phoneNumber();
    const sent = await agent.call('POST', '/api/originations', {
      to: handset,
      numberId: number.id,
      body: text,
      strategy: 'on-reply',
    });
    expect(sent.status).toBe(202);
    await stack.received(handset, text);
    return { agent, number, handset };
  }

  async function acceptedOffer(agent: Awaited<ReturnType<typeof user>>) {
    const offer = await eventually(
      async () => ((await (await agent.call('GET', '/api/offers')).json()) as Offer[])[0],
    );
    expect((await agent.call('POST', `/api/offers/${offer.id}/accept`, {})).status).toBe(200);
    return offer;
  }

  it('starts with the agent text and sends no greeting (a text: the batch path)', async () => {
    const { agent, number, handset } = await outreach({}, 'Your repair is ready.');
    await stack.text(handset, number.address, 'On my way');
    const offer = await acceptedOffer(agent);

    const transcript = (await (
      await agent.call('GET', `/api/conversations/${offer.conversationId}`)
    ).json()) as Transcript;
    expect(transcript.messages.map((m) => [m.author, m.body])).toEqual([
      ['agent', 'Your repair is ready.'],
      ['customer', 'On my way'],
    ]);
    // The transcript says it itself: no banner on top.
    expect(transcript.originalText).toBeNull();
    const origination = await stack.db
      .select()
      .from(messages)
      .where(and(eq(messages.toAddress, handset), eq(messages.author, 'agent')));
    expect(origination).toHaveLength(1);
  });

  it('starts with the agent text and sends no greeting (a picture: the per-message path)', async () => {
    const { agent, number, handset } = await outreach({}, 'Send us a photo of the damage.');
    await stack.text(handset, number.address, 'Here', [PICTURE]);
    const offer = await acceptedOffer(agent);
    expect(await transcriptRows(offer.conversationId)).toEqual([
      { author: 'agent', body: 'Send us a photo of the damage.', direction: 'outbound' },
      { author: 'customer', body: 'Here', direction: 'inbound' },
    ]);
  });

  it('greets the reply too when the flow says so, once', async () => {
    const { agent, number, handset } = await outreach(
      { greetOutreachReplies: true },
      'Your order shipped.',
    );
    await stack.text(handset, number.address, 'Great');
    await stack.received(handset, GREETING);
    const offer = await acceptedOffer(agent);
    const rows = await transcriptRows(offer.conversationId);
    expect(rows[0]).toMatchObject({ author: 'agent', body: 'Your order shipped.' });
    expect(rows.filter((m) => m.body === GREETING)).toHaveLength(1);

    // A second text in the conversation neither greets nor moves the origination again.
    await stack.text(handset, number.address, 'Thanks');
    await eventually(async () => (await transcriptRows(offer.conversationId)).length === 4);
    expect(
      (await transcriptRows(offer.conversationId)).filter((m) => m.body === GREETING),
    ).toHaveLength(1);
  });

  it('greets a customer who writes without an outreach', async () => {
    const dee = await user('dee');
    const { number } = await numberWithFlow({ initialMessage: GREETING }, [dee]);
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'Hello?');
    await stack.received(handset, GREETING);
  });
});

describe('flow language', () => {
  const flow = {
    language: 'en',
    initialMessage: 'Hello from {businessName}',
    finalMessage: 'Goodbye',
    businessName: 'Acme',
    messageVariants: { es: { initial: 'Hola de {businessName}', final: 'Adiós' } },
  };

  async function conversationWith(language: string | undefined) {
    const { number } = await stack.addNumber({ flow: { name: 'Languages', ...flow } });
    const handset = phoneNumber();
    if (language) await upsertContact(stack.db, handset, { language });
    await stack.text(handset, number.address, 'Hi');
    const conversation = await openConversationOf(handset);
    return { handset, conversation };
  }

  async function end(conversationId: string) {
    await inTransaction(stack.db, (tx) =>
      closeConversation(tx, conversationId, { reason: 'ended' }),
    );
  }

  it("sends a contact whose language is es the flow's Spanish messages", async () => {
    const { handset, conversation } = await conversationWith('es');
    await stack.received(handset, 'Hola de Acme');
    await end(conversation.id);
    await stack.received(handset, 'Adiós');
    const bodies = (await transcriptRows(conversation.id)).map((m) => m.body);
    expect(bodies).toEqual(['Hi', 'Hola de Acme', 'Adiós']);
  });

  it('sends the main text to a contact whose language has no variant, or none', async () => {
    for (const language of ['de', undefined]) {
      const { handset, conversation } = await conversationWith(language);
      await stack.received(handset, 'Hello from Acme');
      await end(conversation.id);
      await stack.received(handset, 'Goodbye');
      expect((await transcriptRows(conversation.id)).map((m) => m.body)).toEqual([
        'Hi',
        'Hello from Acme',
        'Goodbye',
      ]);
    }
  });

  it('refuses a language that is no language tag, naming the field', async () => {
    const admin = await user('ed', 'admin');
    const response = await admin.call('POST', '/api/admin/flows', {
      name: 'Bad',
      messageVariants: { 'not a tag': { initial: 'x' } },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      field: 'messageVariants.not a tag',
      message: expect.stringMatching(/BCP 47 tag such as en, es or fr-CA/),
    });
    const bad = await admin.call('POST', '/api/admin/flows', { name: 'Bad', language: 'English!' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'language' });
  });
});
