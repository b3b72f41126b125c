/**
 * Setting a number up: "Set in Twilio" sets the fallback URL too and reads Twilio's settings
 * back; a message Twilio delivers to the fallback URL verifies and is stored once; numbers are
 * read as people type them, national format in the account's country; a number is looked up
 * on Twilio when it is added.
 */
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateNumber } from '../src/admin/numbers.js';
import { WEBHOOK_PATH } from '../src/channels/twilio/webhooks.js';
import { messages, numbers } from '../src/db/schema.js';
import { signIn } from './helpers/app.js';
import { phoneNumber, shortCodeNumber } from './helpers/factories.js';
import { freePort, Stack } from './helpers/stack.js';

/**
 * Stands where PUBLIC_URL points, in front of Parley: passes requests on, or plays a primary
 * webhook that fails — down (the connection closed, nothing reaches Parley), or answering 500
 * after Parley has stored the message (a slow or broken hop on the way back).
 */
class FrontDoor {
  mode: 'pass' | 'down' | 'store-then-fail' = 'pass';
  /** Webhooks Parley answered through this door, by status. */
  readonly parleyAnswered: number[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async open(port: number, parleyUrl: string): Promise<FrontDoor> {
    const server = createServer();
    const door = new FrontDoor(server, `http://127.0.0.1:${port}`);
    server.on('request', async (request, response) => {
      const body = await readBody(request);
      if (door.mode === 'down' && request.url === WEBHOOK_PATH) {
        request.socket.destroy();
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(
          (entry): entry is [string, string] =>
            typeof entry[1] === 'string' && !['host', 'content-length'].includes(entry[0]),
        ),
      );
      let answer: Response;
      try {
        answer = await fetch(`${parleyUrl}${request.url}`, {
          method: request.method,
          headers,
          ...(body.length > 0 && { body }),
        });
      } catch {
        // Parley has stopped (the stack closes first): a proxy answers 502, as a real one does.
        response.writeHead(502).end('Parley could not be reached');
        return;
      }
      const text = await answer.text();
      if (request.url === WEBHOOK_PATH) door.parleyAnswered.push(answer.status);
      if (door.mode === 'store-then-fail' && request.url === WEBHOOK_PATH) {
        response.writeHead(500).end('upstream failed');
        return;
      }
      const type = answer.headers.get('content-type');
      response.writeHead(answer.status, type ? { 'content-type': type } : {});
      response.end(text);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return door;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let stack: Stack;
let door: FrontDoor;
let admin: Record<string, string>;
let agent: Record<string, string>;
/** WEBHOOK_FALLBACK_URL: the same Parley under another name, as another instance would be. */
let fallbackBase: string;

beforeAll(async () => {
  const parleyPort = await freePort();
  const doorPort = await freePort();
  fallbackBase = `http://localhost:${parleyPort}`;
  door = await FrontDoor.open(doorPort, `http://127.0.0.1:${parleyPort}`);
  stack = await Stack.start({
    PORT: String(parleyPort),
    PUBLIC_URL: door.url,
    WEBHOOK_FALLBACK_URL: fallbackBase,
  });
  admin = {
    ...(await signIn(stack.parley.store, 'admin')).headers,
    'content-type': 'application/json',
  };
  agent = {
    ...(await signIn(stack.parley.store, 'agent')).headers,
    'content-type': 'application/json',
  };
});
afterAll(async () => {
  await stack?.close();
  await door?.close();
});

async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = admin,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.parley.url}${path}`, {
    method,
    headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** A Seattle number (425), valid for libphonenumber, unique enough for one stack. */
function seattleNumber(): string {
  return `+1425${randomInt(2_000_000, 9_999_999)}`;
}

/** Makes the number exist on the stack's Twilio (emulator) account. */
async function onTwilio(address: string, extra: Record<string, unknown> = {}): Promise<void> {
  await stack.control('POST', '/_emulator/numbers', {
    accountSid: stack.twilio.sid,
    phoneNumber: address,
    ...extra,
  });
}

async function storedCopies(messageSid: string): Promise<number> {
  return (await stack.db.select().from(messages).where(eq(messages.twilioSid, messageSid))).length;
}

describe('Set in Twilio', () => {
  it("sets a number's webhook, fallback and status callback, and reads them back from Twilio", async () => {
    const { number } = await stack.addNumber();
    const expected = {
      webhookUrl: `${door.url}${WEBHOOK_PATH}`,
      fallbackUrl: `${fallbackBase}${WEBHOOK_PATH}`,
      statusCallbackUrl: `${door.url}/webhooks/twilio/status`,
    };
    const before = await api('GET', `/api/admin/numbers/${number.id}/twilio-webhooks`);
    expect(before.body).toMatchObject({
      expected,
      current: { configured: 'number', webhookUrl: expected.webhookUrl, fallbackUrl: null },
      matches: false,
    });

    const configured = await api('POST', `/api/admin/numbers/${number.id}/configure-twilio`, {});
    expect(configured).toMatchObject({ status: 200, body: { configured: 'number', ...expected } });
    const after = await api('GET', `/api/admin/numbers/${number.id}/twilio-webhooks`);
    expect(after.body).toMatchObject({
      current: { configured: 'number', sid: expect.stringMatching(/^PN/), ...expected },
      matches: true,
    });
    const listed = await api('GET', '/api/admin/numbers');
    expect(
      (listed.body as unknown as { id: string }[]).find((n) => n.id === number.id),
    ).toMatchObject(expected);
  });

  it("sets a Messaging Service's inbound, fallback and status callback URLs", async () => {
    const { number } = await stack.addNumber();
    const service = (await stack.control('POST', '/_emulator/services', {
      accountSid: stack.twilio.sid,
      numbers: [number.address],
    })) as { sid: string };
    await updateNumber(stack.db, number.id, { messagingServiceSid: service.sid });

    const configured = await api('POST', `/api/admin/numbers/${number.id}/configure-twilio`, {});
    expect(configured.body).toMatchObject({
      configured: 'messaging-service',
      sid: service.sid,
      fallbackUrl: `${fallbackBase}${WEBHOOK_PATH}`,
    });
    const readBack = await api('GET', `/api/admin/numbers/${number.id}/twilio-webhooks`);
    expect(readBack.body).toMatchObject({
      current: {
        configured: 'messaging-service',
        sid: service.sid,
        webhookUrl: `${door.url}${WEBHOOK_PATH}`,
        fallbackUrl: `${fallbackBase}${WEBHOOK_PATH}`,
        statusCallbackUrl: `${door.url}/webhooks/twilio/status`,
      },
      matches: true,
    });
  });

  it('a message Twilio posts to the fallback URL while the webhook is down verifies and is stored once', async () => {
    const { number } = await stack.addNumber();
    await api('POST', `/api/admin/numbers/${number.id}/configure-twilio`, {});
    door.mode = 'down';
    try {
      const sent = await stack.text(phoneNumber(), number.address, 'Are you there?');
      expect(sent.webhook).toMatchObject({
        status: null,
        fallbackUsed: true,
        fallback: { status: 200 },
      });
      expect(await storedCopies(sent.sid)).toBe(1);
    } finally {
      door.mode = 'pass';
    }
  });

  it('a message stored by the webhook whose answer failed, then posted to the fallback, is stored once', async () => {
    const { number } = await stack.addNumber();
    await api('POST', `/api/admin/numbers/${number.id}/configure-twilio`, {});
    door.mode = 'store-then-fail';
    const answeredBefore = door.parleyAnswered.length;
    try {
      const sent = await stack.text(phoneNumber(), number.address, 'Hello twice?');
      // Parley took the first delivery; Twilio saw a 500 and used the fallback URL.
      expect(door.parleyAnswered.slice(answeredBefore)).toEqual([200]);
      expect(sent.webhook).toMatchObject({
        status: 500,
        fallbackUsed: true,
        fallback: { status: 200 },
      });
      expect(await storedCopies(sent.sid)).toBe(1);
    } finally {
      door.mode = 'pass';
    }
  });

  it('refuses a webhook signed for a URL that is neither the public nor the fallback URL', async () => {
    const { number } = await stack.addNumber({
      emulator: { smsUrl: `${stack.parley.url}${WEBHOOK_PATH}` },
    });
    const sent = await stack.text(phoneNumber(), number.address, 'Signed for another URL');
    expect(sent.webhook.status).toBe(403);
    expect(await storedCopies(sent.sid)).toBe(0);
  });
});

describe('number formats', () => {
  it('reads +1…, 1… and national format as the same E.164 number when an admin adds it', async () => {
    const address = seattleNumber();
    await onTwilio(address);
    const national = `(${address.slice(2, 5)}) ${address.slice(5, 8)}-${address.slice(8)}`;
    const created = await api('POST', '/api/admin/numbers', {
      accountId: stack.account.id,
      address: national,
    });
    expect(created).toMatchObject({ status: 201, body: { address, kind: 'long-code' } });
    for (const typed of [
      address,
      address.slice(1),
      `${address.slice(2, 5)}-${address.slice(5, 8)}-${address.slice(8)}`,
    ]) {
      const again = await api('POST', '/api/admin/numbers', {
        accountId: stack.account.id,
        address: typed,
      });
      expect(again).toMatchObject({
        status: 409,
        body: { field: 'address', message: `number ${address} is already configured` },
      });
    }
  });

  it("reads national format in the account's default country, and digits with a country code as that country's", async () => {
    const account = await api('POST', '/api/admin/accounts', {
      name: 'London',
      accountSid: stack.twilio.sid.replace(/^AC../, 'AC00'),
      authToken: 'x',
      defaultCountry: 'XX',
    });
    expect(account).toMatchObject({ status: 400, body: { field: 'defaultCountry' } });
    const renamed = await api('PATCH', `/api/admin/accounts/${stack.account.id}`, {
      defaultCountry: 'gb',
    });
    expect(renamed).toMatchObject({ status: 200, body: { defaultCountry: 'GB' } });
    try {
      const british = `+447700${randomInt(900_000, 999_999)}`;
      const american = seattleNumber();
      await onTwilio(british);
      await onTwilio(american);
      const national = await api('POST', '/api/admin/numbers', {
        accountId: stack.account.id,
        address: `0${british.slice(3, 7)} ${british.slice(7)}`,
      });
      expect(national).toMatchObject({ status: 201, body: { address: british } });
      // 1425… is not a British number: it is read with its country code.
      const withCode = await api('POST', '/api/admin/numbers', {
        accountId: stack.account.id,
        address: american.slice(1),
      });
      expect(withCode).toMatchObject({ status: 201, body: { address: american } });
    } finally {
      await api('PATCH', `/api/admin/accounts/${stack.account.id}`, { defaultCountry: 'US' });
    }
  });

  it('sends an origination to the same E.164 number however the agent types it', async () => {
    const { number } = await stack.addNumber();
    const customer = seattleNumber();
    const digits = customer.slice(2);
    for (const typed of [
      customer,
      customer.slice(1),
      `(${digits.slice(0, 3)}) ${digits.slice(3, 6)}-${digits.slice(6)}`,
      `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`,
    ]) {
      const sent = await api(
        'POST',
        '/api/originations',
        { to: typed, numberId: number.id, body: `to ${typed}`, strategy: 'on-reply' },
        agent,
      );
      expect(sent).toMatchObject({ status: 202, body: { message: { toAddress: customer } } });
    }
  });

  it("reads an origination's national number in the sending number's account's country unless the request names one", async () => {
    const { number } = await stack.addNumber();
    await api('PATCH', `/api/admin/accounts/${stack.account.id}`, { defaultCountry: 'GB' });
    try {
      const british = `+447700${randomInt(900_000, 999_999)}`;
      const national = `0${british.slice(3)}`;
      const inGb = await api(
        'POST',
        '/api/originations',
        { to: national, numberId: number.id, body: 'Hello London', strategy: 'on-reply' },
        agent,
      );
      expect(inGb).toMatchObject({ status: 202, body: { message: { toAddress: british } } });
      const window = await api(
        'GET',
        `/api/service-window?numberId=${number.id}&to=${encodeURIComponent(national)}`,
        undefined,
        agent,
      );
      expect(window.status).toBe(200);
      const inUs = await api(
        'POST',
        '/api/originations',
        {
          to: '(425) 230-6549',
          defaultCountry: 'US',
          numberId: number.id,
          body: 'Hello Seattle',
          strategy: 'on-reply',
        },
        agent,
      );
      expect(inUs).toMatchObject({ status: 202, body: { message: { toAddress: '+14252306549' } } });
    } finally {
      await api('PATCH', `/api/admin/accounts/${stack.account.id}`, { defaultCountry: 'US' });
    }
  });

  it('answers 400 naming the field, in a sentence, for a number it cannot read', async () => {
    const address = await api('POST', '/api/admin/numbers', {
      accountId: stack.account.id,
      address: 'call me',
    });
    expect(address).toMatchObject({ status: 400, body: { field: 'address' } });
    expect(address.body.message).toBe(
      'address "call me" is not a number Parley can read: write a phone number as +14255550123, 14255550123 or in the account\'s national format, a short code as its digits, whatsapp:+… or messenger:<page id>',
    );
    const { number } = await stack.addNumber();
    const to = await api(
      'POST',
      '/api/originations',
      { to: 'Ana', numberId: number.id, body: 'x', strategy: 'on-reply' },
      agent,
    );
    expect(to).toMatchObject({ status: 400, body: { field: 'to' } });
    expect(to.body.message).toBe(
      'to "Ana" is not a phone number Parley can read: write it as +14255550123, 14255550123 or in US national format',
    );
  });
});

describe('checking a number on Twilio when it is added', () => {
  it('keeps the Twilio SID and capabilities of a number, short code and WhatsApp sender', async () => {
    const longCode = seattleNumber();
    const shortCode = shortCodeNumber();
    const whatsapp = `whatsapp:${seattleNumber()}`;
    await onTwilio(longCode);
    await onTwilio(shortCode, { kind: 'short-code' });
    await onTwilio(whatsapp, { kind: 'whatsapp' });
    const added = async (address: string) =>
      (await api('POST', '/api/admin/numbers', { accountId: stack.account.id, address })).body;
    expect(await added(longCode)).toMatchObject({
      twilioSid: expect.stringMatching(/^PN/),
      capabilities: ['sms', 'mms'],
    });
    expect(await added(shortCode)).toMatchObject({
      kind: 'short-code',
      twilioSid: expect.stringMatching(/^SC/),
      capabilities: null,
    });
    expect(await added(whatsapp)).toMatchObject({
      kind: 'whatsapp',
      twilioSid: expect.stringMatching(/^XE/),
      capabilities: null,
    });
    // Twilio's API lists Messenger pages only in a Messaging Service: without one, no look-up.
    expect(await added(`messenger:${randomInt(1e9, 9e9)}`)).toMatchObject({
      kind: 'messenger',
      twilioSid: null,
    });
  });

  it("finds a Messenger page among its Messaging Service's channel senders", async () => {
    const page = `messenger:${randomInt(1e9, 9e9)}`;
    const elsewhere = `messenger:${randomInt(1e9, 9e9)}`;
    await onTwilio(page);
    await onTwilio(elsewhere);
    const service = (await stack.control('POST', '/_emulator/services', {
      accountSid: stack.twilio.sid,
      numbers: [page],
    })) as { sid: string };
    const inService = await api('POST', '/api/admin/numbers', {
      accountId: stack.account.id,
      address: page,
      messagingServiceSid: service.sid,
    });
    expect(inService).toMatchObject({
      status: 201,
      body: { kind: 'messenger', twilioSid: expect.stringMatching(/^XE/), capabilities: null },
    });
    const notInIt = await api('POST', '/api/admin/numbers', {
      accountId: stack.account.id,
      address: elsewhere,
      messagingServiceSid: service.sid,
    });
    expect(notInIt).toMatchObject({ status: 400, body: { field: 'address' } });
    expect(notInIt.body.message).toBe(
      `Twilio has no Messenger page ${elsewhere} in Messaging Service ${service.sid}: add the page to that service in Twilio's Console first, or give the service that has it`,
    );
  });

  it('refuses a number the account does not have on Twilio, naming address, and saves nothing', async () => {
    for (const address of [seattleNumber(), shortCodeNumber(), `whatsapp:${seattleNumber()}`]) {
      const refused = await api('POST', '/api/admin/numbers', {
        accountId: stack.account.id,
        address,
      });
      expect(refused).toMatchObject({ status: 400, body: { field: 'address' } });
      expect(refused.body.message).toMatch(
        new RegExp(
          `^Twilio has no (phone number|short code|WhatsApp sender) ${address.replace('+', '\\+')} on this account`,
        ),
      );
      expect(await stack.db.select().from(numbers).where(eq(numbers.address, address))).toEqual([]);
    }
  });

  it('answers 502 and saves nothing when Twilio cannot be asked', async () => {
    const address = seattleNumber();
    await onTwilio(address);
    await stack.control('POST', '/_emulator/faults', { endpoint: 'numbers.list', mode: '500' });
    try {
      const refused = await api('POST', '/api/admin/numbers', {
        accountId: stack.account.id,
        address,
      });
      expect(refused).toMatchObject({ status: 502, body: { error: 'bad_gateway' } });
      expect(refused.body.message).toMatch(
        new RegExp(
          `^Twilio could not be asked whether the account has \\${address}: .+\\. Nothing was saved; try again$`,
        ),
      );
      expect(await stack.db.select().from(numbers).where(eq(numbers.address, address))).toEqual([]);
    } finally {
      await stack.control('DELETE', '/_emulator/faults');
    }
    const retried = await api('POST', '/api/admin/numbers', {
      accountId: stack.account.id,
      address,
    });
    expect(retried.status).toBe(201);
  });
});
