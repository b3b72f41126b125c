/**
 * Facebook Messenger through Twilio: a page (`messenger:<page id>`) answers people
 * (`messenger:<user id>`) who wrote to it first. Webhooks are posted signed, as Twilio
 * signs them, straight to Parley; the flow and routing steps the workers would run are
 * called in turn.
 */
import { randomBytes } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/admin/accounts.js';
import { WEBHOOK_PATH } from '../src/channels/twilio/webhooks.js';
import { isOptedOut } from '../src/consent/consent.js';
import { conversations, media, messages, outbox, users } from '../src/db/schema.js';
import { advanceFlow } from '../src/flows/flow-runner.js';
import { createLogger } from '../src/logger.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  agentsWithWrongLoad,
  buildFlow,
  buildNumber,
  buildQueue,
  conversationRow,
  hex,
  membersWithWrongRank,
  pendingOffer,
  phoneNumber,
} from './helpers/factories.js';

let t: TestApp;
let account: { id: string; sid: string; authToken: string };
beforeAll(async () => {
  t = await buildTestApp();
  const sid = `AC${hex(16)}`;
  const authToken = hex(16);
  const view = await createAccount(t.store.db, t.secretBox, {
    name: 'Messenger',
    accountSid: sid,
    authToken,
  });
  account = { id: view.id, sid, authToken };
});
afterAll(() => t?.close());
afterEach(async () => {
  expect(await agentsWithWrongLoad(t.store.db)).toEqual([]);
  expect(await membersWithWrongRank(t.store.db)).toEqual([]);
});

/** A Facebook page id or a page-scoped user id: digits, as Twilio writes them. */
const fbId = () => String(10n ** 15n + BigInt(`0x${hex(6)}`));

/** A Messenger page answered by a flow routing to a queue of the given members. */
async function page(members: SignedIn[]) {
  const db = t.store.db;
  const queue = await buildQueue(
    db,
    members.map((m) => m.user),
    { strategy: 'longest-idle' },
  );
  const flow = await buildFlow(db, { queueId: queue.id });
  return buildNumber(db, {
    accountId: account.id,
    kind: 'messenger',
    address: `messenger:${fbId()}`,
    flowId: flow.id,
  });
}

/** An available agent with the given room per channel. */
async function agent(capacity: { sms?: number; messenger: number }): Promise<SignedIn> {
  const signedIn = await signIn(t.store, 'agent');
  await t.store.db
    .update(users)
    .set({
      presence: 'available',
      capacityMessenger: capacity.messenger,
      ...(capacity.sms !== undefined && { capacitySms: capacity.sms }),
    })
    .where(eq(users.id, signedIn.user.id));
  return signedIn;
}

/** Posts a message from `from` to the page as Twilio would, signed with the account's token. */
async function write(to: string, from: string, body: string, extra: Record<string, string> = {}) {
  const sid = `SM${randomBytes(16).toString('hex')}`;
  const params: Record<string, string> = {
    MessageSid: sid,
    SmsMessageSid: sid,
    AccountSid: account.sid,
    From: from,
    To: to,
    Body: body,
    NumMedia: '0',
    ApiVersion: '2010-04-01',
    ...extra,
  };
  const signature = twilio.getExpectedTwilioSignature(
    account.authToken,
    `${t.config.publicUrl}${WEBHOOK_PATH}`,
    params,
  );
  return t.app.inject({
    method: 'POST',
    url: WEBHOOK_PATH,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature,
    },
    payload: new URLSearchParams(params).toString(),
  });
}

/** The customer's open conversation with the page, after the flow handed it to routing. */
async function routed(numberId: string, customer: string) {
  const db = t.store.db;
  const [open] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.numberId, numberId), eq(conversations.customerAddress, customer)));
  expect(open).toBeDefined();
  const logger = createLogger('silent');
  await advanceFlow({ db, logger, instanceId: crypto.randomUUID() }, open!.id);
  return conversationRow(db, open!.id);
}

const api = (who: SignedIn, method: 'GET' | 'POST', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: who.headers, ...(payload && { payload }) });

async function upload(who: SignedIn, contentType: string): Promise<string> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/uploads',
    headers: { ...who.headers, 'content-type': contentType },
    payload: randomBytes(64),
  });
  expect(response.statusCode).toBe(201);
  return (response.json() as { token: string }).token;
}

describe('a person writing to a Messenger page', () => {
  it('opens a conversation offered only to an agent with room for Messenger', async () => {
    const none = await agent({ sms: 3, messenger: 0 });
    const one = await agent({ messenger: 1 });
    // Longest-idle would prefer `none` (never finished a conversation) were capacity ignored.
    await t.store.db
      .update(users)
      .set({ lastConversationEndedAt: new Date() })
      .where(eq(users.id, one.user.id));
    const number = await page([none, one]);
    const person = `messenger:${fbId()}`;

    const response = await write(number.address, person, 'Hi, where is my order?', {
      ProfileName: 'Ana Souza',
    });
    expect(response.statusCode).toBe(200);
    const conversation = await routed(number.id, person);
    expect(conversation).toMatchObject({ state: 'offered', agentId: one.user.id });
    const [agentRow] = await t.store.db.select().from(users).where(eq(users.id, one.user.id));
    expect(agentRow).toMatchObject({ loadMessenger: 1, loadSms: 0, loadWhatsapp: 0 });

    // Now `one` is full on Messenger and `none` has no room there: the next one waits.
    const other = `messenger:${fbId()}`;
    await write(number.address, other, 'Hello?');
    expect(await routed(number.id, other)).toMatchObject({ state: 'queued', agentId: null });

    // The agent sees the channel and the profile name Twilio sent.
    const transcript = await api(one, 'GET', `/api/conversations/${conversation.id}`);
    expect(transcript.json()).toMatchObject({
      conversation: { channel: 'messenger', numberAddress: number.address },
      contact: { address: person, name: 'Ana Souza' },
    });
  });

  it("stores the person's attachment, and queues the agent's reply with one to the person, from the page", async () => {
    const mine = await agent({ messenger: 2 });
    const number = await page([mine]);
    const person = `messenger:${fbId()}`;
    // The person's photo is stored for download from Twilio, as an MMS picture is.
    const photoUrl = `https://api.twilio.com/2010-04-01/Accounts/${account.sid}/Messages/MM${hex(16)}/Media/ME${hex(16)}`;
    await write(number.address, person, 'Can you send the invoice?', {
      NumMedia: '1',
      MediaUrl0: photoUrl,
      MediaContentType0: 'image/jpeg',
    });
    const conversation = await routed(number.id, person);
    const received = await t.store.db
      .select({ contentType: media.contentType, sourceUrl: media.sourceUrl, status: media.status })
      .from(media)
      .innerJoin(messages, eq(messages.id, media.messageId))
      .where(eq(messages.conversationId, conversation.id));
    expect(received).toEqual([
      { contentType: 'image/jpeg', sourceUrl: photoUrl, status: 'pending' },
    ]);
    const offer = await pendingOffer(t.store.db, conversation.id);
    expect((await api(mine, 'POST', `/api/offers/${offer!.id}/accept`)).statusCode).toBe(200);

    const pdf = await upload(mine, 'application/pdf');
    const sent = await api(mine, 'POST', `/api/conversations/${conversation.id}/messages`, {
      body: 'Here it is',
      attachments: [pdf],
    });
    expect(sent.statusCode).toBe(202);
    const messageId = (sent.json() as { id: string }).id;
    const [stored] = await t.store.db.select().from(messages).where(eq(messages.id, messageId));
    expect(stored).toMatchObject({
      fromAddress: number.address,
      toAddress: person,
      body: 'Here it is',
      direction: 'outbound',
    });
    const attached = await t.store.db
      .select({ contentType: media.contentType })
      .from(media)
      .where(eq(media.messageId, messageId))
      .orderBy(asc(media.position));
    expect(attached).toEqual([{ contentType: 'application/pdf' }]);
    const queued = await t.store.db.select().from(outbox).where(eq(outbox.messageId, messageId));
    expect(queued).toHaveLength(1);

    // Messenger carries one attachment per message, and no GIF.
    const two = await api(mine, 'POST', `/api/conversations/${conversation.id}/messages`, {
      attachments: [pdf, await upload(mine, 'image/png')],
    });
    expect(two.statusCode).toBe(400);
    expect(two.json()).toMatchObject({ field: 'attachments' });
    const gif = await api(mine, 'POST', `/api/conversations/${conversation.id}/messages`, {
      attachments: [await upload(mine, 'image/gif')],
    });
    expect(gif.statusCode).toBe(400);
    expect(gif.json()).toMatchObject({ field: 'attachments' });
  });

  it('opts out on STOP and back in on START, but not on YES', async () => {
    const number = await page([]);
    const person = `messenger:${fbId()}`;
    await write(number.address, person, 'STOP');
    expect(await isOptedOut(t.store.db, person, number.address)).toBe(true);
    await write(number.address, person, 'yes');
    expect(await isOptedOut(t.store.db, person, number.address)).toBe(true);
    await write(number.address, person, 'START');
    expect(await isOptedOut(t.store.db, person, number.address)).toBe(false);
  });
});

describe('agents on a Messenger page', () => {
  it('cannot start a conversation from it', async () => {
    const me = await agent({ messenger: 1 });
    const number = await page([me]);
    const response = await api(me, 'POST', '/api/originations', {
      numberId: number.id,
      to: phoneNumber(),
      body: 'Hello from the page',
      strategy: 'assign-now',
    });
    expect(response.statusCode).toBe(400);
    const error = response.json() as { field: string; message: string };
    expect(error.field).toBe('numberId');
    expect(error.message).toMatch(/start only when the customer writes/);
    const sent = await t.store.db
      .select()
      .from(messages)
      .where(eq(messages.fromAddress, number.address));
    expect(sent).toEqual([]);
  });

  it('do not get it among the numbers to send from, even as their queue’s', async () => {
    const me = await agent({ messenger: 1 });
    const number = await page([me]);
    const sms = await buildNumber(t.store.db, { accountId: account.id });
    const response = await api(me, 'GET', '/api/numbers/senders');
    expect(response.statusCode).toBe(200);
    const ids = (response.json() as { id: string }[]).map((s) => s.id);
    expect(ids).toContain(sms.id);
    expect(ids).not.toContain(number.id);
  });
});
