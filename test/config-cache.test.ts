/**
 * The lookups a webhook makes (its number, the account's token, the flow) are cached in each
 * instance and dropped on every instance as soon as an admin change commits.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, updateAccount } from '../src/admin/accounts.js';
import { createNumber } from '../src/admin/numbers.js';
import { WEBHOOK_PATH } from '../src/channels/twilio/webhooks.js';
import { loadConfig } from '../src/config.js';
import { ConfigCache } from '../src/db/config-cache.js';
import { accounts } from '../src/db/schema.js';
import { openStore, type Store } from '../src/db/store.js';
import type { SecretBox } from '../src/secret-box.js';
import { buildServer } from '../src/server.js';
import { serverDeps } from './helpers/app.js';
import { hex, phoneNumber } from './helpers/factories.js';
import { eventually } from './helpers/stack.js';
import { openTestStore } from './helpers/store.js';

const PUBLIC_URL = 'https://parley.test';
/** Far longer than any test waits: a change seen in time was announced, not expired. */
const LONG_TTL_MS = 600_000;

let store: Store & { databaseUrl?: string };
/** The second instance's store: its own pool on PostgreSQL, the same store on PGlite. */
let otherStore: Store | undefined;
let secretBox: SecretBox;
let first: FastifyInstance;
let second: FastifyInstance;
let secondCache: ConfigCache;
beforeAll(async () => {
  store = await openTestStore();
  const config = loadConfig({ LOG_LEVEL: 'silent', PUBLIC_URL });
  const deps = serverDeps(store, config);
  secretBox = deps.secretBox;
  first = await buildServer({ ...deps, configCache: new ConfigCache(LONG_TTL_MS) });
  otherStore = store.databaseUrl ? await openStore({ databaseUrl: store.databaseUrl }) : undefined;
  secondCache = new ConfigCache(LONG_TTL_MS);
  second = await buildServer({
    ...serverDeps(otherStore ?? store, config),
    configCache: secondCache,
  });
});
afterAll(async () => {
  await first?.close();
  await second?.close();
  await otherStore?.close();
  await store?.close();
});

async function addAccount() {
  const sid = `AC${hex(16)}`;
  const authToken = hex(16);
  const view = await createAccount(store.db, secretBox, { name: sid, accountSid: sid, authToken });
  return { id: view.id, sid, authToken };
}

/** Posts an inbound webhook signed with `authToken`; the status code. */
async function text(
  app: FastifyInstance,
  account: { sid: string },
  to: string,
  authToken: string,
): Promise<number> {
  const params = {
    MessageSid: `SM${randomBytes(16).toString('hex')}`,
    AccountSid: account.sid,
    From: phoneNumber(),
    To: to,
    Body: 'hello',
    NumMedia: '0',
  };
  const response = await app.inject({
    method: 'POST',
    url: WEBHOOK_PATH,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(
        authToken,
        `${PUBLIC_URL}${WEBHOOK_PATH}`,
        params,
      ),
    },
    payload: new URLSearchParams(params).toString(),
  });
  return response.statusCode;
}

describe('cached configuration', () => {
  it('takes a rotated auth token on every instance as soon as the rotation commits', async () => {
    const account = await addAccount();
    const number = await createNumber(store.db, { accountId: account.id, address: phoneNumber() });
    expect(await text(second, account, number.address, account.authToken)).toBe(200);

    const rotated = hex(16);
    await updateAccount(store.db, secretBox, account.id, { authToken: rotated });
    for (const app of [first, second]) {
      expect(
        await eventually(
          async () => (await text(app, account, number.address, rotated)) === 200 || undefined,
          5000,
        ),
      ).toBe(true);
      expect(await text(app, account, number.address, account.authToken)).toBe(403);
    }
  });

  it('answers for a number on every instance as soon as it is added', async () => {
    const account = await addAccount();
    const address = phoneNumber();
    // Unknown: refused, and that answer is cached too.
    expect(await text(second, account, address, account.authToken)).toBe(403);
    await createNumber(store.db, { accountId: account.id, address });
    expect(
      await eventually(
        async () => (await text(second, account, address, account.authToken)) === 200 || undefined,
        5000,
      ),
    ).toBe(true);
  });

  it('reads the configuration once per lifetime, not per webhook', async () => {
    let cleared = 0;
    secondCache.onClear(() => {
      cleared += 1;
    });
    const account = await addAccount();
    const number = await createNumber(store.db, { accountId: account.id, address: phoneNumber() });
    // Both announcements heard: one arriving after the first text would rightly drop it.
    await eventually(async () => cleared >= 2 || undefined, 5000);
    expect(await text(second, account, number.address, account.authToken)).toBe(200);
    // Changed behind the admin's back (no announcement): this instance keeps what it read.
    await store.db
      .update(accounts)
      .set({ authTokenEnc: secretBox.seal(hex(16)) })
      .where(eq(accounts.id, account.id));
    expect(await text(second, account, number.address, account.authToken)).toBe(200);
  });
});
