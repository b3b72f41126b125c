import { randomBytes } from 'node:crypto';
import { and, count, eq, inArray } from 'drizzle-orm';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../src/auth/sessions.js';
import { createUser } from '../src/auth/users.js';
import { isOptedOut } from '../src/consent/consent.js';
import { conversations, events, media, messages } from '../src/db/schema.js';
import { phoneNumber, shortCodeNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.close());

const webhookUrl = () => `${stack.config.publicUrl}/webhooks/twilio/messages`;

/** A signed incoming-message webhook as Twilio would send it, posted straight to Parley. */
function signedParams(
  to: string,
  from: string,
  body: string,
  sid = `SM${randomBytes(16).toString('hex')}`,
) {
  return {
    MessageSid: sid,
    SmsSid: sid,
    SmsMessageSid: sid,
    AccountSid: stack.twilio.sid,
    From: from,
    To: to,
    Body: body,
    NumMedia: '0',
    SmsStatus: 'received',
    ApiVersion: '2010-04-01',
  };
}

function post(params: Record<string, string>, signature: string | undefined, url = webhookUrl()) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature !== undefined && { 'x-twilio-signature': signature }),
    },
    body: new URLSearchParams(params).toString(),
  });
}

const sign = (params: Record<string, string>, url = webhookUrl()) =>
  twilio.getExpectedTwilioSignature(stack.twilio.authToken, url, params);

async function messagesFrom(from: string) {
  return stack.db.select().from(messages).where(eq(messages.fromAddress, from));
}

describe('a customer texting a number', () => {
  it('lands in one conversation, gets the initial response, and a second text joins it', async () => {
    const { number } = await stack.addNumber({
      flow: {
        name: 'Support',
        businessName: 'Acme',
        initialMessage: 'Thanks for texting {businessName}!',
      },
    });
    const handset = phoneNumber();
    const first = await stack.text(handset, number.address, 'Hello?');
    expect(first.webhook.status).toBe(200);

    const reply = await stack.received(handset, 'Thanks for texting Acme!');
    expect(reply.from).toBe(number.address);

    await stack.text(handset, number.address, 'Anyone there?');
    const stored = await messagesFrom(handset);
    expect(stored.map((m) => m.body).sort()).toEqual(['Anyone there?', 'Hello?']);
    expect(new Set(stored.map((m) => m.conversationId)).size).toBe(1);
    const [conversation] = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, stored[0]!.conversationId!));
    expect(conversation?.customerAddress).toBe(handset);
  });

  it('stores a webhook replayed five times once', async () => {
    const { number } = await stack.addNumber();
    const handset = phoneNumber();
    const params = signedParams(number.address, handset, 'only once');
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => post(params, sign(params))),
    );
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
      expect(await response.text()).toContain('<Response/>');
    }
    expect(await messagesFrom(handset)).toHaveLength(1);
  });

  it('keeps 50 handsets texting at once apart, and 10 texts at once from one handset together', async () => {
    const { number } = await stack.addNumber();
    const handsets = Array.from({ length: 50 }, () => phoneNumber());
    await Promise.all(handsets.map((h, i) => stack.text(h, number.address, `hello ${i}`)));
    const many = await stack.db
      .select({ n: count() })
      .from(conversations)
      .where(
        and(
          eq(conversations.numberId, number.id),
          inArray(conversations.customerAddress, handsets),
        ),
      );
    expect(many[0]?.n).toBe(50);

    const chatty = phoneNumber();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => stack.text(chatty, number.address, `text ${i}`)),
    );
    const stored = await messagesFrom(chatty);
    expect(stored).toHaveLength(10);
    expect(new Set(stored.map((m) => m.conversationId)).size).toBe(1);
  });
});

describe('webhook authenticity', () => {
  it('refuses forged, missing and other-URL signatures with 403 and stores nothing', async () => {
    const { number } = await stack.addNumber();
    const handset = phoneNumber();
    const params = signedParams(number.address, handset, 'forged');
    const forged = await post(params, sign({ ...params, Body: 'something else' }));
    const missing = await post(params, undefined);
    const otherUrl = await post(
      params,
      sign(params, 'https://evil.example.com/webhooks/twilio/messages'),
    );
    expect([forged.status, missing.status, otherUrl.status]).toEqual([403, 403, 403]);
    expect(await messagesFrom(handset)).toHaveLength(0);
  });

  it('answers 403 for an unknown number and 400 for a malformed signed body', async () => {
    const params = signedParams(phoneNumber(), phoneNumber(), 'who?');
    expect((await post(params, sign(params))).status).toBe(403);
    const { number } = await stack.addNumber();
    const { MessageSid: _, ...withoutSid } = signedParams(number.address, phoneNumber(), 'x');
    const malformed = await post(withoutSid, sign(withoutSid));
    expect([malformed.status, await malformed.text()]).toEqual([400, 'Bad Request']);
  });

  it('accepts a number in a Messaging Service, found by the service SID', async () => {
    const service = (await stack.control('POST', '/_emulator/services', {
      accountSid: stack.twilio.sid,
      inboundRequestUrl: webhookUrl(),
      useInboundWebhookOnNumber: false,
    })) as { sid: string };
    const { number } = await stack.addNumber({
      flow: { name: 'MG', initialMessage: 'Hi from the service' },
      messagingServiceSid: service.sid,
      emulator: { serviceSid: service.sid, smsUrl: null },
    });
    const handset = phoneNumber();
    const sent = await stack.text(handset, number.address, 'via service');
    expect(sent.webhook.status).toBe(200);
    expect(await messagesFrom(handset)).toHaveLength(1);
    await stack.received(handset, 'Hi from the service');
  });
});

describe('a Messaging Service', () => {
  it('keeps a customer in one conversation whichever number of the service they text', async () => {
    const service = (await stack.control('POST', '/_emulator/services', {
      accountSid: stack.twilio.sid,
      inboundRequestUrl: webhookUrl(),
      useInboundWebhookOnNumber: false,
    })) as { sid: string };
    const inService = {
      messagingServiceSid: service.sid,
      emulator: { serviceSid: service.sid, smsUrl: null },
    };
    const { number: first } = await stack.addNumber(inService);
    const { number: second } = await stack.addNumber(inService);
    const handset = phoneNumber();
    await stack.text(handset, first.address, 'to the first number');
    await stack.text(handset, second.address, 'to the second number');
    const texts = await messagesFrom(handset);
    expect(texts).toHaveLength(2);
    expect(texts[0]!.conversationId).not.toBeNull();
    expect(texts[1]!.conversationId).toBe(texts[0]!.conversationId);
    // Another customer's text to the second number is theirs alone.
    const other = phoneNumber();
    await stack.text(other, second.address, 'someone else');
    const [theirs] = await messagesFrom(other);
    expect(theirs!.conversationId).not.toBe(texts[0]!.conversationId);
    expect(theirs!.numberId).toBe(second.id);
  });
});

describe('MMS', () => {
  it('stores every picture, readable by an authorised request only', async () => {
    const { number } = await stack.addNumber();
    const handset = phoneNumber();
    const pictures = [0, 1, 2].map((i) =>
      Buffer.from(`picture ${i} ${randomBytes(8).toString('hex')}`),
    );
    await stack.text(
      handset,
      number.address,
      'three pictures',
      pictures.map((p) => ({ contentType: 'image/png', base64: p.toString('base64') })),
    );
    const [message] = await messagesFrom(handset);
    const stored = await eventually(async () => {
      const rows = await stack.db.select().from(media).where(eq(media.messageId, message!.id));
      return rows.length === 3 && rows.every((r) => r.status === 'stored') ? rows : undefined;
    });

    const supervisor = await createUser(stack.db, {
      email: `sup-${randomBytes(3).toString('hex')}@example.com`,
      name: 'Sup',
      role: 'supervisor',
      password: 'correct horse battery',
    });
    const { token } = await createSession(stack.db, supervisor.id, 'api-token');
    for (const row of stored.sort((a, b) => a.position - b.position)) {
      const response = await fetch(`${stack.parley.url}/api/media/${row.id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      // The media route's own sandbox policy, not the one every response gets.
      expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(Buffer.from(await response.arrayBuffer())).toEqual(pictures[row.position]);
    }
    const anonymous = await fetch(`${stack.parley.url}/api/media/${stored[0]!.id}`);
    expect(anonymous.status).toBe(401);
  });

  it('refuses a MediaUrl that is not on Twilio, keeping the message', async () => {
    const { number } = await stack.addNumber();
    const handset = phoneNumber();
    const params = {
      ...signedParams(number.address, handset, 'look'),
      NumMedia: '1',
      MediaUrl0: 'https://attacker.example.com/steal',
      MediaContentType0: 'image/jpeg',
    };
    expect((await post(params, sign(params))).status).toBe(200);
    const [message] = await messagesFrom(handset);
    const [row] = await eventually(async () => {
      const rows = await stack.db.select().from(media).where(eq(media.messageId, message!.id));
      return rows[0]?.status === 'failed' ? rows : undefined;
    });
    expect(row?.lastError).toMatch(/refusing media URL outside Twilio/);
    expect(row?.nextAttemptAt).toBeNull();
  });
});

describe('consent keywords', () => {
  const HELP_TEXT = 'Reply STOP to opt out. Call 555-0100 for help.';

  it('opts out on STOP and back in on START, per sender', async () => {
    const { number } = await stack.addNumber({ flow: { name: 'Consent' } });
    const handset = phoneNumber();
    const consentOf = () => isOptedOut(stack.db, handset, number.address);
    await stack.text(handset, number.address, '  stop ');
    expect(await consentOf()).toBe(true);
    await stack.text(handset, number.address, 'START');
    expect(await consentOf()).toBe(false);
    const changes = await stack.db.select().from(events).where(eq(events.type, 'consent.changed'));
    expect(changes.filter((e) => e.payload.contactId !== undefined).length).toBeGreaterThanOrEqual(
      2,
    );
  });

  it('closes the open conversation on STOP, sending nothing more, so no agent types into it', async () => {
    const { number } = await stack.addNumber({
      flow: { name: 'Stops', finalMessage: 'Bye from us', surveyMessage: 'Rate us 1-5' },
    });
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'I have a question');
    await stack.text(handset, number.address, 'STOP');
    const rows = await stack.db
      .select({ state: conversations.state, closeReason: conversations.closeReason })
      .from(conversations)
      .where(eq(conversations.customerAddress, handset));
    expect(rows).toEqual([{ state: 'closed', closeReason: 'opted-out' }]);
    const sent = await stack.db
      .select({ body: messages.body })
      .from(messages)
      .where(and(eq(messages.toAddress, handset), eq(messages.direction, 'outbound')));
    expect(sent.map((m) => m.body)).not.toContain('Bye from us');
    expect(sent.map((m) => m.body)).not.toContain('Rate us 1-5');
  });

  it('answers HELP once: Twilio answers on a long code, Parley on a short code of its own', async () => {
    const flow = { name: 'Help', helpMessage: HELP_TEXT };
    const { number: longCode } = await stack.addNumber({ flow });
    const viaTwilio = phoneNumber();
    await stack.text(viaTwilio, longCode.address, 'help');
    const [twilios] = await stack.inbox(viaTwilio, 1);
    expect(twilios?.body).not.toBe(HELP_TEXT);
    const queued = await stack.db
      .select({ body: messages.body })
      .from(messages)
      .where(and(eq(messages.toAddress, viaTwilio), eq(messages.direction, 'outbound')));
    expect(queued).toEqual([]);

    const { number: shortCode } = await stack.addNumber({
      flow,
      kind: 'short-code',
      address: shortCodeNumber(),
    });
    const viaParley = phoneNumber();
    await stack.text(viaParley, shortCode.address, 'HELP');
    const inbox = await stack.inbox(viaParley, 1);
    expect(inbox.map((m) => m.body)).toEqual([HELP_TEXT]);
  });
});

describe('toll-free consent', () => {
  it('is lifted by START or UNSTOP only: a YES to a toll-free number is a text like any other', async () => {
    const { number } = await stack.addNumber({ kind: 'toll-free' });
    const handset = phoneNumber();
    const consentOf = () => isOptedOut(stack.db, handset, number.address);
    await stack.text(handset, number.address, 'STOP');
    expect(await consentOf()).toBe(true);
    await stack.text(handset, number.address, 'Yes');
    expect(await consentOf()).toBe(true);
    const [yes] = await messagesFrom(handset).then((rows) => rows.filter((m) => m.body === 'Yes'));
    expect(yes?.conversationId).not.toBeNull();
    await stack.text(handset, number.address, 'UNSTOP');
    expect(await consentOf()).toBe(false);
  });
});

describe('flow', () => {
  it('answers out of hours with the out-of-hours message, and closes when told to', async () => {
    // Open only on a day that is never today: one hour on 1 January, and today is a holiday.
    const { number } = await stack.addNumber({
      flow: {
        name: 'Closed',
        timeZone: 'UTC',
        hours: [{ weekday: 0, opensAt: '00:00', closesAt: '00:01' }],
        holidays: [{ day: new Date().toISOString().slice(0, 10), name: 'Today' }],
        initialMessage: 'We are open',
        outOfHoursMessage: 'We are closed; back tomorrow.',
        outOfHoursAction: 'close',
      },
    });
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'hello?');
    await stack.received(handset, 'We are closed; back tomorrow.');
    const [message] = await messagesFrom(handset);
    const [conversation] = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, message!.conversationId!));
    expect(conversation?.state).toBe('closed');
    expect(conversation?.closeReason).toBe('out-of-hours');
  });

  it('closes an inactive conversation with the final response', async () => {
    const { number } = await stack.addNumber({
      flow: {
        name: 'Quiet',
        inactivityCloseMinutes: 1,
        finalMessage: 'Closing this chat. Text again anytime.',
      },
    });
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'hi');
    const [message] = await messagesFrom(handset);
    // Make the conversation look quiet for two minutes instead of waiting for it.
    await stack.db
      .update(conversations)
      .set({ lastMessageAt: new Date(Date.now() - 120_000) })
      .where(eq(conversations.id, message!.conversationId!));
    await stack.received(handset, 'Closing this chat. Text again anytime.');
    const [conversation] = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, message!.conversationId!));
    expect(conversation?.closeReason).toBe('inactivity');
  });
});
