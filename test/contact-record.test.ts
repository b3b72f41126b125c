import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInboundMessage, readWebhookForm } from '../src/channels/twilio/webhooks.js';
import { recordConsent } from '../src/consent/consent.js';
import { TWILIO_ATTRIBUTES, upsertContact } from '../src/consent/contacts.js';
import { readersOf } from '../src/conversations/access.js';
import { conversations, events, messages, surveyResponses } from '../src/db/schema.js';
import { inTransaction } from '../src/db/transactions.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  buildNumber,
  buildQueue,
  conversationInFlow,
  hex,
  phoneNumber,
} from './helpers/factories.js';

let t: TestApp;
let agent: SignedIn;
let stranger: SignedIn;
let supervisor: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  agent = await signIn(t.store, 'agent');
  stranger = await signIn(t.store, 'agent');
  supervisor = await signIn(t.store, 'supervisor');
});
afterAll(() => t?.close());

const get = (url: string, who: SignedIn) =>
  t.app.inject({ method: 'GET', url, headers: who.headers });
const patch = (id: string, payload: Record<string, unknown>, who: SignedIn) =>
  t.app.inject({ method: 'PATCH', url: `/api/contacts/${id}`, headers: who.headers, payload });

interface Record_ {
  id: string;
  name: string | null;
  displayName: string | null;
  email: string | null;
  notes: string | null;
  attributes: Record<string, string>;
  twilioAttributes: Record<string, string>;
  collected: { key: string; value: string; conversationId: string; collectedAt: string }[];
  consents: { sender: string; senderLabel: string; optedOut: boolean; changedAt: string | null }[];
  conversations: {
    id: string;
    state: string;
    numberAddress: string;
    queueName: string | null;
    agentName: string | null;
    closeReason: string | null;
    disposition: string | null;
    dispositionLabel: string | null;
    survey: { scale: string; score: number; comment: string | null } | null;
  }[];
  originations: { body: string }[];
}

/** Closes the conversation as ended, at `closedAt`, with what the bot collected in it. */
async function closedWith(
  id: string,
  attributes: Record<string, unknown>,
  botAnsweredAt: Date,
  wrapUp: { disposition?: string } = {},
) {
  const db = t.store.db;
  await db
    .update(conversations)
    .set({
      state: 'closed',
      closedAt: botAnsweredAt,
      closeReason: 'ended',
      attributes,
      disposition: wrapUp.disposition ?? null,
    })
    .where(eq(conversations.id, id));
  await db.insert(events).values({
    type: 'flow.bot-answered',
    conversationId: id,
    payload: { action: 'handover', replied: false },
    createdAt: botAnsweredAt,
  });
}

/** A conversation of the customer on the number, active with the agent. */
async function activeWith(who: SignedIn, numberId: string, customer: string) {
  const conversation = await conversationInFlow(t.store.db, numberId, customer);
  await t.store.db
    .update(conversations)
    .set({ state: 'active', agentId: who.user.id })
    .where(eq(conversations.id, conversation.id));
  return conversation;
}

async function inboundMessage(
  conversationId: string,
  numberId: string,
  from: string,
  body: string,
) {
  await t.store.db.insert(messages).values({
    conversationId,
    numberId,
    direction: 'inbound',
    author: 'customer',
    fromAddress: from,
    toAddress: 'us',
    body,
    status: 'received',
  });
}

describe('GET /api/contacts/:id', () => {
  it('answers the fields, what Twilio told, what bots collected, consent per sender and every conversation', async () => {
    const db = t.store.db;
    const customer = phoneNumber();
    const service = `MG${hex(16)}`;
    const shop = await buildNumber(db, { name: 'Shop' });
    const serviced = await buildNumber(db, { messagingServiceSid: service });
    const contact = await upsertContact(db, customer, {
      city: 'Austin',
      profileName: 'Ana',
      plan: 'gold',
    });
    // Two past conversations: what the bot collected last wins, key by key.
    const first = await conversationInFlow(db, shop.id, customer);
    const queue = await buildQueue(db, [], {
      dispositions: [{ code: 'resolved', label: 'Resolved at first contact' }],
    });
    await db.update(conversations).set({ queueId: queue.id }).where(eq(conversations.id, first.id));
    await closedWith(
      first.id,
      { orderId: '41', language: 'es' },
      new Date('2026-01-05T10:00:00Z'),
      {
        disposition: 'resolved',
      },
    );
    const second = await conversationInFlow(db, serviced.id, customer);
    await closedWith(second.id, { orderId: 43, vip: true }, new Date('2026-02-05T10:00:00Z'));
    await db.insert(surveyResponses).values({
      conversationId: first.id,
      numberId: shop.id,
      customerAddress: customer,
      scale: 'score',
      score: 4,
      answeredAt: new Date('2026-01-05T11:00:00Z'),
      comment: 'Quick',
    });
    await inTransaction(db, (tx) =>
      recordConsent(tx, {
        contactId: contact.id,
        sender: service,
        optedOut: true,
        keyword: 'STOP',
        conversationId: second.id,
      }),
    );

    const response = await get(`/api/contacts/${contact.id}`, supervisor);
    expect(response.statusCode).toBe(200);
    const record = response.json() as Record_;
    expect(record).toMatchObject({
      id: contact.id,
      address: customer,
      channel: 'sms',
      name: null,
      displayName: 'Ana',
      email: null,
      notes: null,
      attributes: { plan: 'gold' },
      twilioAttributes: { city: 'Austin', profileName: 'Ana' },
    });
    expect(record.collected).toEqual([
      {
        key: 'language',
        value: 'es',
        conversationId: first.id,
        collectedAt: '2026-01-05T10:00:00.000Z',
      },
      {
        key: 'orderId',
        value: '43',
        conversationId: second.id,
        collectedAt: '2026-02-05T10:00:00.000Z',
      },
      {
        key: 'vip',
        value: 'true',
        conversationId: second.id,
        collectedAt: '2026-02-05T10:00:00.000Z',
      },
    ]);
    // The opted-out service first (it changed), then the number they texted, subscribed.
    expect(record.consents).toEqual([
      {
        sender: service,
        senderLabel: `Messaging Service ${service} (${serviced.address})`,
        optedOut: true,
        changedAt: expect.any(String),
      },
      {
        sender: shop.address,
        senderLabel: `Shop (${shop.address})`,
        optedOut: false,
        changedAt: null,
      },
    ]);
    expect(record.conversations.map((c) => c.id)).toEqual([second.id, first.id]);
    expect(record.conversations[1]).toMatchObject({
      state: 'closed',
      numberAddress: shop.address,
      closeReason: 'ended',
      queueName: queue.name,
      disposition: 'resolved',
      dispositionLabel: 'Resolved at first contact',
      survey: { scale: 'score', score: 4, comment: 'Quick' },
    });
    expect(record.conversations[0]).toMatchObject({
      disposition: null,
      dispositionLabel: null,
      survey: null,
    });
    expect(record.originations).toEqual([]);
  });

  it('is 404 for a contact that does not exist, and 400 for an id that is no UUID', async () => {
    const absent = await get('/api/contacts/00000000-0000-4000-8000-000000000000', supervisor);
    expect(absent.statusCode).toBe(404);
    expect(absent.json()).toMatchObject({ error: 'not_found', message: 'no such contact' });
    const malformed = await get('/api/contacts/42', supervisor);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ field: 'id' });
  });

  it("keeps apart exactly the attributes Twilio's webhook tells", () => {
    const told = parseInboundMessage(
      readWebhookForm({
        MessageSid: `SM${'0'.repeat(32)}`,
        From: 'whatsapp:+15550002222',
        To: 'whatsapp:+15550001111',
        FromCity: 'Austin',
        FromState: 'TX',
        FromZip: '78701',
        FromCountry: 'US',
        ProfileName: 'Ana',
        ReferralHeadline: 'Spring offer',
        ReferralSourceType: 'ad',
        ReferralSourceUrl: 'https://ad.example',
      }),
    );
    expect(Object.keys(told.location).sort()).toEqual([...TWILIO_ATTRIBUTES].sort());
  });
});

describe('PATCH /api/contacts/:id', () => {
  it('edits name, email, notes and custom attributes, and tells the desks holding the contact', async () => {
    const db = t.store.db;
    const customer = phoneNumber();
    const number = await buildNumber(db);
    const contact = await upsertContact(db, customer, { profileName: 'Ana', plan: 'silver' });
    const open = await activeWith(agent, number.id, customer);

    const edited = await patch(
      contact.id,
      {
        name: '  Ana Lima ',
        email: 'ana@example.com',
        notes: 'Prefers mornings.',
        attributes: { tier: 'gold', plan: null },
      },
      agent,
    );
    expect(edited.statusCode).toBe(200);
    const expected = {
      name: 'Ana Lima',
      displayName: 'Ana Lima',
      email: 'ana@example.com',
      notes: 'Prefers mornings.',
      attributes: { tier: 'gold' },
      twilioAttributes: { profileName: 'Ana' },
    };
    expect(edited.json()).toMatchObject(expected);
    expect((await get(`/api/contacts/${contact.id}`, supervisor)).json()).toMatchObject(expected);
    // The transcript names the customer by the name kept on the contact.
    const transcript = await get(`/api/conversations/${open.id}`, agent);
    expect(transcript.json()).toMatchObject({ contact: { name: 'Ana Lima' } });

    const [logged] = await db
      .select()
      .from(events)
      .where(and(eq(events.type, 'contact.updated'), eq(events.conversationId, open.id)));
    expect(logged?.payload).toEqual({
      contactId: contact.id,
      fields: ['name', 'email', 'notes', 'attributes.tier', 'attributes.plan'],
      byUserId: agent.user.id,
    });
    // Delivered to the agent holding the contact, not to another agent.
    const readers = (await readersOf(db, [open.id])).get(open.id);
    expect(readers?.has(agent.user.id)).toBe(true);
    expect(readers?.has(stranger.user.id)).toBe(false);

    // Null clears: the name agents see is the profile name again.
    const cleared = await patch(contact.id, { name: null, email: null }, supervisor);
    expect(cleared.json()).toMatchObject({ name: null, displayName: 'Ana', email: null });
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const contact = await upsertContact(t.store.db, phoneNumber(), { profileName: 'Bo' });
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`key${i}`, 'x']));
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ email: 'not-an-email' }, 'email', /email address/],
      [{ name: 'n'.repeat(201) }, 'name', /at most 200/],
      [{ notes: 'n'.repeat(10_001) }, 'notes', /at most 10,000/],
      [{ attributes: { 'two words': 'x' } }, 'attributes.two words', /letters, digits/],
      [{ attributes: { ['k'.repeat(65)]: 'x' } }, `attributes.${'k'.repeat(65)}`, /1 to 64/],
      [{ attributes: { city: 'Paris' } }, 'attributes.city', /Twilio/],
      [{ attributes: { tier: 'v'.repeat(1_001) } }, 'attributes.tier', /at most 1,000/],
      [{ attributes: { tier: 7 } }, 'attributes.tier', /string/],
      [{ attributes: many }, 'attributes', /at most 50/],
    ];
    for (const [payload, field, message] of cases) {
      const response = await patch(contact.id, payload, supervisor);
      expect(response.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(response.json()).toMatchObject({ error: 'bad_request', field });
      expect(response.json().message).toMatch(message);
    }
    const unknown = await patch(contact.id, { nickname: 'B' }, supervisor);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toMatch(/nickname/);
    // Nothing of it was kept.
    expect((await get(`/api/contacts/${contact.id}`, supervisor)).json()).toMatchObject({
      name: null,
      email: null,
      notes: null,
      attributes: {},
    });
  });

  it('keeps at most 50 custom attributes, counted after the edit', async () => {
    const contact = await upsertContact(t.store.db, phoneNumber(), { city: 'Austin' });
    const fortyNine = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`key${i}`, 'x']));
    expect((await patch(contact.id, { attributes: fortyNine }, supervisor)).statusCode).toBe(200);
    const over = await patch(contact.id, { attributes: { extra1: 'x', extra2: 'y' } }, supervisor);
    expect(over.statusCode).toBe(400);
    expect(over.json()).toMatchObject({ field: 'attributes', message: /at most 50/ });
    // Replacing one and deleting one keeps the count: allowed.
    const swap = await patch(
      contact.id,
      { attributes: { key0: 'y', key1: null, extra1: 'x' } },
      supervisor,
    );
    expect(swap.statusCode).toBe(200);
    const attributes = (swap.json() as Record_).attributes;
    expect(Object.keys(attributes)).toHaveLength(49);
    expect(attributes).toMatchObject({ key0: 'y', extra1: 'x' });
    expect(attributes.key1).toBeUndefined();
  });

  it('keeps both of two edits of different attributes made at once', async () => {
    const contact = await upsertContact(t.store.db, phoneNumber(), { city: 'Austin' });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        patch(contact.id, { attributes: { [`field${i}`]: `value ${i}` } }, supervisor),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 200));
    const record = (await get(`/api/contacts/${contact.id}`, supervisor)).json() as Record_;
    expect(record.attributes).toEqual(
      Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`field${i}`, `value ${i}`])),
    );
    expect(record.twilioAttributes).toEqual({ city: 'Austin' });
  });

  it('lets no more than 50 custom attributes in when edits race for the last places', async () => {
    const contact = await upsertContact(t.store.db, phoneNumber());
    const fortyFive = Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`key${i}`, 'x']));
    expect((await patch(contact.id, { attributes: fortyFive }, supervisor)).statusCode).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        patch(contact.id, { attributes: { [`late${i}`]: 'x' } }, supervisor),
      ),
    );
    expect(answers.filter((a) => a.statusCode === 200)).toHaveLength(5);
    expect(answers.filter((a) => a.statusCode === 400)).toHaveLength(5);
    const record = (await get(`/api/contacts/${contact.id}`, supervisor)).json() as Record_;
    expect(Object.keys(record.attributes)).toHaveLength(50);
  });
});

describe("an agent and a contact's record", () => {
  it("reads and edits only a contact they hold, and then that contact's past conversations", async () => {
    const db = t.store.db;
    const number = await buildNumber(db);
    const customer = phoneNumber();
    const past = await conversationInFlow(db, number.id, customer);
    await inboundMessage(past.id, number.id, customer, 'Where is order 41?');
    await closedWith(past.id, {}, new Date('2026-01-05T10:00:00Z'));
    const contactId = past.contactId;
    // Another customer's past conversation, with an agent long gone.
    const otherCustomer = phoneNumber();
    const othersPast = await conversationInFlow(db, number.id, otherCustomer);
    await closedWith(othersPast.id, {}, new Date('2026-01-06T10:00:00Z'));

    // Not talking to the customer now: the contact and their history are absent.
    expect((await get(`/api/contacts/${contactId}`, agent)).statusCode).toBe(404);
    const refused = await patch(contactId, { name: 'Mallory' }, agent);
    expect(refused.statusCode).toBe(404);
    expect(refused.json()).toMatchObject({ error: 'not_found', message: 'no such contact' });
    expect((await get(`/api/conversations/${past.id}`, agent)).statusCode).toBe(404);

    // The customer texts again and the agent takes it.
    await activeWith(agent, number.id, customer);
    const record = await get(`/api/contacts/${contactId}`, agent);
    expect(record.statusCode).toBe(200);
    expect((record.json() as Record_).conversations.map((c) => c.id)).toContain(past.id);
    expect((await patch(contactId, { notes: 'Asked twice' }, agent)).statusCode).toBe(200);
    const transcript = await get(`/api/conversations/${past.id}`, agent);
    expect(transcript.statusCode).toBe(200);
    expect(transcript.json()).toMatchObject({ messages: [{ body: 'Where is order 41?' }] });

    // Still nothing of anyone else's, nor for the agent who holds neither.
    expect((await get(`/api/conversations/${othersPast.id}`, agent)).statusCode).toBe(404);
    expect((await get(`/api/contacts/${othersPast.contactId}`, agent)).statusCode).toBe(404);
    expect((await get(`/api/contacts/${contactId}`, stranger)).statusCode).toBe(404);
    expect((await patch(contactId, { notes: 'x' }, stranger)).statusCode).toBe(404);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/contacts/${contactId}` })).statusCode,
    ).toBe(401);
  });
});
