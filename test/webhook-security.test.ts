import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { eq, sql } from 'drizzle-orm';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/admin/accounts.js';
import type { NumberRow } from '../src/admin/numbers.js';
import {
  STATUS_CALLBACK_PATH,
  storableText,
  WEBHOOK_PATH,
} from '../src/channels/twilio/webhooks.js';
import { loadConfig } from '../src/config.js';
import { isOptedOut } from '../src/consent/consent.js';
import { upsertContact } from '../src/consent/contacts.js';
import { contacts, events, messages } from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import { createLogger } from '../src/logger.js';
import type { SecretBox } from '../src/secret-box.js';
import { buildServer } from '../src/server.js';
import { serverDeps } from './helpers/app.js';
import { buildNumber, hex, phoneNumber } from './helpers/factories.js';
import { openTestStore } from './helpers/store.js';

const PUBLIC_URL = 'https://parley.test';

let store: Store;
let secretBox: SecretBox;
let baseUrl: string;
let closeServer: () => Promise<void>;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  store = await openTestStore();
  const config = loadConfig({ LOG_LEVEL: 'info', PUBLIC_URL });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        logLines.push(JSON.parse(line));
      }
      done();
    },
  });
  const deps = serverDeps(store, config);
  secretBox = deps.secretBox;
  const app = await buildServer({ ...deps, logger: createLogger('info', sink) });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  closeServer = () => app.close();
  accountA = await addAccount();
  accountB = await addAccount();
});
afterAll(async () => {
  await closeServer?.();
  await store?.close();
});

interface TestAccount {
  id: string;
  sid: string;
  authToken: string;
  /** A business number of the account. */
  number: NumberRow;
}
let accountA: TestAccount;
let accountB: TestAccount;

async function addAccount(): Promise<TestAccount> {
  const sid = `AC${hex(16)}`;
  const authToken = hex(16);
  const view = await createAccount(store.db, secretBox, { name: sid, accountSid: sid, authToken });
  const number = await buildNumber(store.db, { accountId: view.id });
  return { id: view.id, sid, authToken, number };
}

const messageSid = () => `SM${randomBytes(16).toString('hex')}`;

function sign(account: TestAccount, path: string, params: Record<string, string>): string {
  return twilio.getExpectedTwilioSignature(account.authToken, `${PUBLIC_URL}${path}`, params);
}

function post(
  path: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

/** Posts params signed with the account's token, as Twilio would. */
function postSigned(account: TestAccount, path: string, params: Record<string, string>) {
  return post(path, params, { 'x-twilio-signature': sign(account, path, params) });
}

function inboundParams(account: TestAccount, overrides: Record<string, string> = {}) {
  const sid = messageSid();
  return {
    MessageSid: sid,
    SmsSid: sid,
    AccountSid: account.sid,
    From: phoneNumber(),
    To: account.number.address,
    Body: 'hello',
    NumMedia: '0',
    ...overrides,
  };
}

/** An outbound message of the account's number that Twilio reported delivered. */
async function deliveredMessage(
  account: TestAccount,
  status: 'delivered' | 'queued' = 'delivered',
) {
  const [row] = await store.db
    .insert(messages)
    .values({
      numberId: account.number.id,
      direction: 'outbound',
      author: 'agent',
      fromAddress: account.number.address,
      toAddress: phoneNumber(),
      body: 'Your order shipped',
      twilioSid: messageSid(),
      status,
    })
    .returning();
  return row!;
}

async function statusOf(id: string) {
  const [row] = await store.db.select().from(messages).where(eq(messages.id, id));
  return row?.status;
}

/** The reasons logged for refused webhooks since `from`. */
const refusalsSince = (from: number) =>
  logLines
    .slice(from)
    .filter((l) => l.msg === 'Twilio webhook refused')
    .map((l) => l.reason);

describe('status callbacks', () => {
  it('take every status Twilio sends, and move a message forward only, in any order, once', async () => {
    const callbacks = async (sid: string, statuses: [string, string?][]) => {
      for (const [status, errorCode] of statuses) {
        const response = await postSigned(accountA, STATUS_CALLBACK_PATH, {
          AccountSid: accountA.sid,
          MessageSid: sid,
          MessageStatus: status,
          ...(errorCode && { ErrorCode: errorCode }),
        });
        expect(response.status, `${status} answered`).toBe(204);
      }
    };
    const statusEvents = async (id: string) =>
      (
        await store.db
          .select({ status: sql<string>`${events.payload}->>'status'` })
          .from(events)
          .where(sql`${events.type} = 'message.status' AND ${events.payload}->>'messageId' = ${id}`)
          .orderBy(events.id)
      ).map((row) => row.status);

    // An MMS some of whose pictures did not arrive; `sent` late and twice, `delivered` after.
    const picture = await deliveredMessage(accountA, 'queued');
    await callbacks(picture.twilioSid!, [
      ['accepted'],
      ['partially_delivered', '30008'],
      ['sent'],
      ['sent'],
      ['delivered'],
    ]);
    const [mms] = await store.db.select().from(messages).where(eq(messages.id, picture.id));
    expect(mms).toMatchObject({ status: 'partially_delivered', errorCode: 30008 });
    expect(mms!.errorMessage).toBeTruthy();
    expect(await statusEvents(picture.id)).toEqual(['partially_delivered']);

    // A WhatsApp message read before its `delivered` arrived; `sent` skipped.
    const whatsapp = await deliveredMessage(accountA, 'queued');
    await callbacks(whatsapp.twilioSid!, [['sending'], ['read'], ['delivered'], ['read']]);
    expect(await statusOf(whatsapp.id)).toBe('read');
    expect(await statusEvents(whatsapp.id)).toEqual(['sending', 'read']);

    // A Messaging Service reports an opted-out recipient in a callback: the reason is shown,
    // and the opt-out recorded once, however often Twilio repeats it.
    const refused = await deliveredMessage(accountA, 'queued');
    await callbacks(refused.twilioSid!, [
      ['failed', '21610'],
      ['failed', '21610'],
    ]);
    const [optedOut] = await store.db.select().from(messages).where(eq(messages.id, refused.id));
    expect(optedOut).toMatchObject({
      status: 'failed',
      errorCode: 21610,
      errorMessage: 'The recipient has opted out (replied STOP)',
    });
    expect(await isOptedOut(store.db, refused.toAddress, accountA.number.address)).toBe(true);
    const learnt = await store.db
      .select()
      .from(events)
      .where(
        sql`${events.type} = 'consent.changed' AND ${events.payload}->>'sender' = ${accountA.number.address}`,
      );
    expect(learnt).toHaveLength(1);

    // Canceled (a scheduled message) is a failure the agent sees.
    const scheduled = await deliveredMessage(accountA, 'queued');
    await callbacks(scheduled.twilioSid!, [['scheduled'], ['canceled']]);
    expect(await statusOf(scheduled.id)).toBe('failed');
  });

  it('move a message only when signed by the account that owns its number', async () => {
    const message = await deliveredMessage(accountA);
    const read = { MessageSid: message.twilioSid!, MessageStatus: 'read' };

    const signedByB = await postSigned(accountB, STATUS_CALLBACK_PATH, {
      ...read,
      AccountSid: accountB.sid,
    });
    const signedByBNamingA = await postSigned(accountB, STATUS_CALLBACK_PATH, {
      ...read,
      AccountSid: accountA.sid,
    });
    expect([signedByB.status, signedByBNamingA.status]).toEqual([403, 403]);
    expect(await signedByB.text()).toBe('Forbidden');
    expect(await statusOf(message.id)).toBe('delivered');

    const signedByA = await postSigned(accountA, STATUS_CALLBACK_PATH, {
      ...read,
      AccountSid: accountA.sid,
    });
    expect(signedByA.status).toBe(204);
    expect(await statusOf(message.id)).toBe('read');
  });

  it('answer a message unknown to Parley like a bad signature', async () => {
    const logged = logLines.length;
    const unknown = await postSigned(accountA, STATUS_CALLBACK_PATH, {
      MessageSid: messageSid(),
      AccountSid: accountA.sid,
      MessageStatus: 'delivered',
    });
    const unsigned = await post(STATUS_CALLBACK_PATH, {
      MessageSid: messageSid(),
      AccountSid: `AC${hex(16)}`,
      MessageStatus: 'delivered',
    });
    expect([unknown.status, await unknown.text()]).toEqual([403, 'Forbidden']);
    expect([unsigned.status, await unsigned.text()]).toEqual([403, 'Forbidden']);
    expect(refusalsSince(logged)).toEqual([
      expect.stringMatching(/^no message SM[0-9a-f]{32} of account AC/),
      'AccountSid is not an account of Parley',
    ]);
  });
});

describe('inbound webhook', () => {
  it('refuses a MessageSid that is a message of another account, changing nothing', async () => {
    const message = await deliveredMessage(accountA);
    const params = inboundParams(accountB, { MessageSid: message.twilioSid! });
    const response = await postSigned(accountB, WEBHOOK_PATH, params);
    expect([response.status, await response.text()]).toEqual([403, 'Forbidden']);
    const stored = await store.db
      .select()
      .from(messages)
      .where(eq(messages.twilioSid, message.twilioSid!));
    expect(stored.map((m) => [m.id, m.direction])).toEqual([[message.id, 'outbound']]);
  });

  it('answers an unknown number and a missing or bad signature alike, the reason only in the log', async () => {
    const logged = logLines.length;
    const unknownTo = inboundParams(accountA, { To: phoneNumber() });
    const known = inboundParams(accountA);
    const responses = [
      await post(WEBHOOK_PATH, unknownTo),
      await postSigned(accountA, WEBHOOK_PATH, unknownTo),
      await post(WEBHOOK_PATH, known),
      await post(WEBHOOK_PATH, known, {
        'x-twilio-signature': sign(accountB, WEBHOOK_PATH, known),
      }),
      await postSigned(accountA, WEBHOOK_PATH, { ...known, AccountSid: accountB.sid }),
    ];
    const answers = await Promise.all(responses.map(async (r) => [r.status, await r.text()]));
    expect(answers).toEqual(Array(5).fill([403, 'Forbidden']));
    expect(refusalsSince(logged)).toEqual([
      'no number configured for this To or MessagingServiceSid',
      'no number configured for this To or MessagingServiceSid',
      'no X-Twilio-Signature header',
      expect.stringMatching(/^X-Twilio-Signature does not match/),
      `AccountSid is not ${accountA.sid}`,
    ]);
    const text = JSON.stringify(logLines.slice(logged));
    expect(text).not.toContain(known.From);
    expect(text).not.toContain('hello');
  });

  it('stores a message with NUL in Body and FromCity, replaced, naming the fields in a warning', async () => {
    const logged = logLines.length;
    const params = inboundParams(accountA, {
      Body: 'my code is 12\u000034 😀',
      FromCity: 'SAN\u0000JOSE',
      FromState: 'CA',
    });
    const response = await postSigned(accountA, WEBHOOK_PATH, params);
    expect(response.status).toBe(200);
    const [message] = await store.db
      .select()
      .from(messages)
      .where(eq(messages.twilioSid, params.MessageSid));
    expect(message?.body).toBe('my code is 12\uFFFD34 😀');
    const [contact] = await store.db
      .select()
      .from(contacts)
      .where(eq(contacts.address, params.From));
    expect(contact?.attributes).toMatchObject({ city: 'SAN\uFFFDJOSE', state: 'CA' });
    const warning = logLines.slice(logged).find((l) => l.level === 40);
    expect(warning).toMatchObject({
      msg: 'replaced characters PostgreSQL cannot store',
      fields: ['Body', 'FromCity'],
    });
    expect(JSON.stringify(logLines.slice(logged))).not.toContain('my code');
  });

  it('makes unpaired UTF-16 surrogates storable in jsonb, keeping paired ones', async () => {
    const name = 'broken \uD83D and \uDE00 but 😀 whole';
    await expect(upsertContact(store.db, phoneNumber(), { name })).rejects.toThrow();
    const contact = await upsertContact(store.db, phoneNumber(), { name: storableText(name) });
    expect(contact.attributes.name).toBe('broken \uFFFD and \uFFFD but 😀 whole');
  });
});

/** Sends raw bytes over a socket and resolves to the response's status code. */
function rawStatus(request: string): Promise<number> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    // No half-close: Node aborts a request whose client ends its side; `Connection: close` ends it.
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(Number(head.split(' ')[1])));
    socket.on('error', reject);
  });
}

describe('hostile input', () => {
  it('never gets a 5xx on the webhook path', async () => {
    const signed = (overrides: Record<string, string>, path = WEBHOOK_PATH) =>
      postSigned(accountA, path, inboundParams(accountA, overrides));
    const message = await deliveredMessage(accountA);
    const callback = (overrides: Record<string, string>) =>
      postSigned(accountA, STATUS_CALLBACK_PATH, {
        MessageSid: message.twilioSid!,
        AccountSid: accountA.sid,
        MessageStatus: 'failed',
        ...overrides,
      });
    const form = (body: string, contentType = 'application/x-www-form-urlencoded') =>
      fetch(`${baseUrl}${WEBHOOK_PATH}`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
    const knownTo = new URLSearchParams({ To: accountA.number.address }).toString();
    const randomText = (length: number) => randomBytes(length).toString('base64').slice(0, length);
    const cases: Record<string, () => Promise<Response | number>> = {
      'NUL in every field': async () => {
        const params = inboundParams(accountA);
        const poisoned = Object.fromEntries(
          Object.entries(params).map(([k, v]) => [
            k,
            k === 'To' || k === 'AccountSid' ? v : `${v}\u0000`,
          ]),
        );
        return postSigned(accountA, WEBHOOK_PATH, {
          ...poisoned,
          MessageSid: params.MessageSid,
          FromCountry: '\u0000',
          ProfileName: '\u0000\u0000',
          OptOutType: '\u0000',
        });
      },
      'NUL in To and MessagingServiceSid': () =>
        signed({ To: `${accountA.number.address}\u0000`, MessagingServiceSid: `MG\u0000` }),
      'NUL in a media URL and type': () =>
        signed({
          NumMedia: '1',
          MediaUrl0: 'https://api.twilio.com/\u0000',
          MediaContentType0: 'image/\u0000',
        }),
      'a Body of 120 000 characters': () => signed({ Body: 'ab😀'.repeat(30_000) }),
      'emoji and UCS-2': () => signed({ Body: '👩‍👩‍👧‍👦 Привет 你好 \u200f\uFEFF' }),
      'a From of 5000 characters': () => signed({ From: randomText(5000) }),
      'a To of 5000 characters': () => signed({ To: randomText(5000) }),
      'NumMedia not a number': () => signed({ NumMedia: 'many' }),
      'NumMedia negative': () => signed({ NumMedia: '-1' }),
      'NumMedia huge': () => signed({ NumMedia: '99999999999999999999' }),
      'NumMedia without MediaUrl': () =>
        signed({ NumMedia: '2', MediaUrl0: 'https://api.twilio.com/x' }),
      'a malformed MessageSid': () => signed({ MessageSid: 'SM\u0000' }),
      'fields named like Object.prototype': () =>
        signed({ ['__proto__']: 'x', constructor: 'y', hasOwnProperty: 'z', toString: 'w' }),
      'a repeated field': () => form('Body=a&Body=b&To=%2B1&From=%2B2'),
      'bad percent-encoding': () => form('Body=%ZZ%&To=%FF%00&From=%E0%A4%A'),
      'an empty form': () => form(''),
      'text/plain': () => form('Body=hi', 'text/plain'),
      'JSON with nested values': () =>
        form(JSON.stringify({ To: { $gt: '' }, Body: ['a'], From: null }), 'application/json'),
      'unpaired surrogates in signed JSON': () => {
        const params = inboundParams(accountA, { Body: 'a \uD83D', FromCity: '\uDE00' });
        return fetch(`${baseUrl}${WEBHOOK_PATH}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-twilio-signature': sign(accountA, WEBHOOK_PATH, params),
          },
          body: JSON.stringify(params),
        });
      },
      'JSON that does not parse': () => form('{"To":', 'application/json'),
      'octet-stream': () => form('\u0000\u0001', 'application/octet-stream'),
      multipart: () => form('--x\r\n\r\n--x--', 'multipart/form-data; boundary=x'),
      'a body over the size limit': () => form(`Body=${'a'.repeat(2_000_000)}`),
      'two signature headers': () =>
        rawStatus(
          `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: a\r\nX-Twilio-Signature: b\r\nContent-Length: ${knownTo.length}\r\nConnection: close\r\n\r\n${knownTo}`,
        ),
      'an absolute-form request target': () =>
        rawStatus(
          `POST http://evil.example${WEBHOOK_PATH}?%zz HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: a\r\nContent-Length: ${knownTo.length}\r\nConnection: close\r\n\r\n${knownTo}`,
        ),
      'an odd query string': () => {
        const params = inboundParams(accountA);
        return post(`${WEBHOOK_PATH}?%&a=%ZZ&%00`, params, { 'x-twilio-signature': 'x' });
      },
      'a status callback with a huge ErrorCode and NUL in ErrorMessage': () =>
        callback({ ErrorCode: '99999999999', ErrorMessage: 'bad\u0000' }),
      'a status callback with an unknown status': () => callback({ MessageStatus: '\u0000' }),
      'a status callback with a malformed AccountSid': () =>
        post(STATUS_CALLBACK_PATH, { AccountSid: `AC\u0000`, MessageSid: 'x' }),
    };
    const statuses: Record<string, number> = {};
    for (const [name, send] of Object.entries(cases)) {
      const response = await send();
      statuses[name] = typeof response === 'number' ? response : response.status;
    }
    const serverErrors = Object.entries(statuses).filter(([, status]) => status >= 500);
    expect(serverErrors).toEqual([]);
    expect(Object.values(statuses).every((status) => status >= 200)).toBe(true);
    expect(statuses).toMatchObject({
      'NUL in every field': 200,
      'a Body of 120 000 characters': 200,
      'emoji and UCS-2': 200,
      'a From of 5000 characters': 400,
      'a status callback with a huge ErrorCode and NUL in ErrorMessage': 204,
    });
  });
});

describe('logs', () => {
  it('of a failed insert hold neither the message text nor the phone numbers', async () => {
    // The store refusing the row stands for any failure of the insert.
    await store.db.execute(
      sql.raw(
        `ALTER TABLE messages ADD CONSTRAINT test_refuse CHECK (body NOT LIKE '%refuse me%')`,
      ),
    );
    try {
      const logged = logLines.length;
      const params = inboundParams(accountA, { Body: 'please refuse me, my PIN is 4321' });
      const response = await postSigned(accountA, WEBHOOK_PATH, params);
      expect(response.status).toBe(500);
      const failure = logLines.slice(logged).find((l) => l.msg === 'request failed');
      expect((failure?.err as { message?: string })?.message).toMatch(
        /^Failed query: insert into "messages".*violates check constraint "test_refuse"$/,
      );
      const text = JSON.stringify(logLines.slice(logged));
      for (const pii of ['refuse me', '4321', params.From, params.To]) {
        expect(text).not.toContain(pii);
      }
    } finally {
      await store.db.execute(sql.raw('ALTER TABLE messages DROP CONSTRAINT test_refuse'));
    }
  });
});
