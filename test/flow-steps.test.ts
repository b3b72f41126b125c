import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { eq } from 'drizzle-orm';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue } from '../src/admin/queues.js';
import { contacts, conversations, media, messages } from '../src/db/schema.js';
import { phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
let bot: Server;
let botUrl: string;
const botRequests: { body: string; customer: string }[] = [];
/** What the bot answers, by the customer's text. */
const botAnswers: Record<string, { status: number; json?: unknown }> = {};

beforeAll(async () => {
  stack = await Stack.start();
  bot = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const payload = JSON.parse(Buffer.concat(chunks).toString()) as {
      customer: string;
      message: { body: string };
    };
    botRequests.push({ body: payload.message.body, customer: payload.customer });
    const answer = botAnswers[payload.message.body] ?? { status: 200, json: {} };
    response.writeHead(answer.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(answer.json ?? {}));
  });
  bot.listen(0, '127.0.0.1');
  await once(bot, 'listening');
  botUrl = `http://127.0.0.1:${(bot.address() as { port: number }).port}/bot`;
});
afterAll(async () => {
  bot?.close();
  await stack?.close();
});

async function conversationOf(handset: string) {
  const [message] = await stack.db.select().from(messages).where(eq(messages.fromAddress, handset));
  const [conversation] = await stack.db
    .select()
    .from(conversations)
    .where(eq(conversations.id, message!.conversationId!));
  return conversation!;
}

describe('the bot step', () => {
  it('replies, keeps the conversation while it says continue, then hands over with attributes', async () => {
    const { number } = await stack.addNumber({ flow: { name: 'Bot', botUrl, botRetries: 0 } });
    const handset = phoneNumber();
    botAnswers['I need help'] = {
      status: 200,
      json: { reply: 'What is your order number?', action: 'continue' },
    };
    botAnswers['A-1234'] = {
      status: 200,
      json: {
        reply: 'Thanks, passing you to a person.',
        attributes: { order: 'A-1234' },
        action: 'handover',
      },
    };
    await stack.text(handset, number.address, 'I need help');
    await stack.received(handset, 'What is your order number?');
    expect((await conversationOf(handset)).state).toBe('flow');

    await stack.text(handset, number.address, 'A-1234');
    await stack.received(handset, 'Thanks, passing you to a person.');
    const handedOver = await eventually(async () => {
      const c = await conversationOf(handset);
      return c.state !== 'flow' ? c : undefined;
    });
    expect(handedOver.state).toBe('queued');
    expect(handedOver.attributes).toMatchObject({ order: 'A-1234' });
    expect(botRequests.filter((r) => r.customer === handset).map((r) => r.body)).toEqual([
      'I need help',
      'A-1234',
    ]);
  });

  it('closes the conversation when the bot says close', async () => {
    const { number } = await stack.addNumber({
      flow: { name: 'Bot closes', botUrl, finalMessage: 'Bye from the flow' },
    });
    const handset = phoneNumber();
    botAnswers['just checking'] = { status: 200, json: { reply: 'All done!', action: 'close' } };
    await stack.text(handset, number.address, 'just checking');
    await stack.received(handset, 'Bye from the flow');
    const closed = await conversationOf(handset);
    expect(closed).toMatchObject({ state: 'closed', closeReason: 'bot' });
  });

  it('hands over to the queue when the bot fails after its retries', async () => {
    const { number } = await stack.addNumber({ flow: { name: 'Bot down', botUrl, botRetries: 2 } });
    const handset = phoneNumber();
    botAnswers['hello bot'] = { status: 500 };
    await stack.text(handset, number.address, 'hello bot');
    const queued = await eventually(async () => {
      const c = await conversationOf(handset);
      return c.state === 'queued' ? c : undefined;
    });
    expect(queued.state).toBe('queued');
    expect(botRequests.filter((r) => r.customer === handset)).toHaveLength(3);
  });
});

describe('attachment policy', () => {
  it('tells the customer attachments are not accepted and does not store them', async () => {
    const { number } = await stack.addNumber({
      flow: {
        name: 'No files',
        allowAttachments: false,
        attachmentsRefusedMessage: 'Sorry, we cannot accept pictures here.',
      },
    });
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'see this', [
      { contentType: 'image/png', base64: randomBytes(50).toString('base64') },
    ]);
    await stack.received(handset, 'Sorry, we cannot accept pictures here.');
    const [message] = await stack.db
      .select()
      .from(messages)
      .where(eq(messages.fromAddress, handset));
    const rows = await stack.db.select().from(media).where(eq(media.messageId, message!.id));
    expect(rows.map((r) => [r.status, r.sha256])).toEqual([['refused', null]]);
  });
});

describe('status callbacks', () => {
  it('move a status forward only: a late sent never overwrites delivered', async () => {
    const { number } = await stack.addNumber({
      flow: { name: 'Status', initialMessage: 'Welcome!' },
    });
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'hi');
    await stack.received(handset, 'Welcome!');
    const outbound = await eventually(async () => {
      const [row] = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
      return row?.status === 'delivered' ? row : undefined;
    });
    const url = `${stack.config.publicUrl}/webhooks/twilio/status`;
    const params = {
      MessageSid: outbound.twilioSid!,
      AccountSid: stack.twilio.sid,
      MessageStatus: 'sent',
      From: number.address,
      To: handset,
    };
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(
          stack.twilio.authToken,
          url,
          params,
        ),
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(response.status).toBe(204);
    const [after] = await stack.db.select().from(messages).where(eq(messages.id, outbound.id));
    expect(after?.status).toBe('delivered');

    const forged = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': 'bogus',
      },
      body: new URLSearchParams({
        ...params,
        MessageStatus: 'failed',
        ErrorCode: '30008',
      }).toString(),
    });
    expect(forged.status).toBe(403);
  });

  it('that arrive before Twilio answers the send are held, then applied to the message', async () => {
    const { number } = await stack.addNumber({
      flow: { name: 'Slow answer', initialMessage: 'Welcome, slowly!' },
    });
    // Twilio carries out the next send and answers it 3 s later: its callbacks come first.
    await stack.control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'create-then-slow',
      count: 1,
      delayMs: 3000,
    });
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'hi');
    await stack.received(handset, 'Welcome, slowly!');
    const outbound = await eventually(async () => {
      const [row] = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
      return row?.status === 'delivered' && row.twilioSid ? row : undefined;
    });
    expect(outbound.body).toBe('Welcome, slowly!');
  });

  it('keeps the error code and a readable reason when the handset is unreachable', async () => {
    const { number } = await stack.addNumber({
      flow: { name: 'Undelivered', initialMessage: 'Hello?' },
    });
    const handset = phoneNumber();
    await stack.control('POST', `/_emulator/handsets/${encodeURIComponent(handset)}/settings`, {
      deliveryErrorCode: 30003,
    });
    await stack.text(handset, number.address, 'ping');
    const undelivered = await eventually(async () => {
      const [row] = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
      return row?.status === 'undelivered' ? row : undefined;
    });
    expect(undelivered).toMatchObject({
      errorCode: 30003,
      errorMessage: 'The handset is unreachable',
    });
  });
});

describe('WhatsApp', () => {
  it('works through the same paths, inbound and outbound', async () => {
    const { number } = await stack.addNumber({
      kind: 'whatsapp',
      address: `whatsapp:${phoneNumber()}`,
      flow: { name: 'WhatsApp', initialMessage: 'Hi on WhatsApp' },
    });
    const handset = `whatsapp:${phoneNumber()}`;
    await stack.text(handset, number.address, 'hola');
    await stack.received(handset, 'Hi on WhatsApp');
    const conversation = await conversationOf(handset);
    expect(conversation.customerAddress).toBe(handset);
  });

  it('keeps the ad a customer came from, and their profile name, on the contact', async () => {
    const { number } = await stack.addNumber({
      kind: 'whatsapp',
      address: `whatsapp:${phoneNumber()}`,
    });
    const handset = `whatsapp:${phoneNumber()}`;
    await stack.control('POST', `/_emulator/handsets/${encodeURIComponent(handset)}/messages`, {
      to: number.address,
      body: 'Is the sale still on?',
      profileName: 'Ana',
      referral: { headline: 'Spring sale', sourceType: 'ad', sourceUrl: 'https://fb.me/ad1' },
    });
    const [contact] = await stack.db.select().from(contacts).where(eq(contacts.address, handset));
    expect(contact?.attributes).toEqual({
      profileName: 'Ana',
      referralHeadline: 'Spring sale',
      referralSourceType: 'ad',
      referralSourceUrl: 'https://fb.me/ad1',
    });
  });
});

describe('queue position', () => {
  it('tells a waiting customer their place in the queue', async () => {
    const queue = await createQueue(stack.db, {
      name: `Nobody home ${randomBytes(2).toString('hex')}`,
    });
    const { number } = await stack.addNumber({
      flow: {
        name: 'Waiting',
        queueId: queue.id,
        queuePositionMessage: 'You are number {queuePosition} in line.',
      },
    });
    const first = phoneNumber();
    const second = phoneNumber();
    await stack.text(first, number.address, 'first');
    await stack.received(first, 'You are number 1 in line.');
    await stack.text(second, number.address, 'second');
    await stack.received(second, 'You are number 2 in line.');
  });
});
