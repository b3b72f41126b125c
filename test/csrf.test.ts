/**
 * Cross-site request forgery, replayed: a page on another port of Parley's host makes the
 * browser send the session cookie (same site, so SameSite=Lax does not stop it). Requests
 * signed in by cookie that change something, sign-ins and the live-event WebSocket must come
 * from Parley's own origin; API routes take JSON only; API tokens are not affected.
 */
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { createServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations, messages, users } from '../src/db/schema.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  buildNumber,
  conversationInFlow,
  conversationRow,
  hex,
  phoneNumber,
} from './helpers/factories.js';
import { upgradeStatus as upgradeStatusAt } from './helpers/ws.js';

/** Parley's origin in these tests (PUBLIC_URL https://parley.test) and a neighbour's. */
const OWN = 'https://parley.test';
const OTHER_PORT = 'https://parley.test:8443';

let t: TestApp;
let baseUrl: string;
let admin: Browser;
let agent: Browser;
let numberId: string;

interface Browser {
  signedIn: SignedIn;
  /** The session cookie the browser holds after signing in on Parley's page. */
  cookie: string;
}

beforeAll(async () => {
  t = await buildTestApp();
  baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
  admin = await signInByBrowser('admin');
  agent = await signInByBrowser('agent');
  numberId = (await buildNumber(t.store.db)).id;
});
afterAll(() => t?.close());

async function signInByBrowser(role: 'admin' | 'agent'): Promise<Browser> {
  const signedIn = await signIn(t.store, role);
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { origin: OWN, 'sec-fetch-site': 'same-origin' },
    payload: { email: signedIn.user.email, password: 'correct horse battery' },
  });
  expect(response.statusCode).toBe(200);
  return { signedIn, cookie: String(response.headers['set-cookie']).split(';')[0]! };
}

/** An active conversation of the agent, for them to end. */
async function activeConversation(): Promise<string> {
  const conversation = await conversationInFlow(t.store.db, numberId);
  await t.store.db
    .update(conversations)
    .set({ state: 'active', agentId: agent.signedIn.user.id })
    .where(eq(conversations.id, conversation.id));
  return conversation.id;
}

/** The three requests of the attack page, each with its own new target. */
async function attacks() {
  const email = `mallory-${hex(4)}@example.com`;
  const to = phoneNumber();
  const conversationId = await activeConversation();
  return {
    email,
    to,
    conversationId,
    end: {
      method: 'POST',
      url: `/api/conversations/${conversationId}/end`,
      cookie: () => agent.cookie,
    },
    createAdmin: {
      method: 'POST',
      url: '/api/admin/agents',
      cookie: () => admin.cookie,
      json: { email, name: 'Mallory', role: 'admin', password: 'correct horse battery' },
      form: `email=${encodeURIComponent(email)}&name=Mallory&role=admin&password=correct+horse+battery`,
    },
    sendSms: {
      method: 'POST',
      url: '/api/originations',
      cookie: () => agent.cookie,
      json: { to, body: 'Your code is 000000', numberId },
      form: `to=${encodeURIComponent(to)}&body=Your+code+is+000000&numberId=${numberId}`,
    },
  } as const;
}

async function usersWithEmail(email: string) {
  return t.store.db.select({ id: users.id }).from(users).where(eq(users.email, email));
}

async function messagesTo(to: string) {
  return t.store.db.select({ id: messages.id }).from(messages).where(eq(messages.toAddress, to));
}

function send(
  request: { method: InjectOptions['method']; url: string; cookie: () => string },
  headers: Record<string, string>,
  payload?: string | Record<string, unknown>,
) {
  return t.app.inject({
    method: request.method,
    url: request.url,
    headers: { cookie: request.cookie(), ...headers },
    ...(payload !== undefined && { payload }),
  });
}

/** The status the WebSocket upgrade of GET /api/events gets: 101 when it becomes a socket. */
const upgradeStatus = (headers: Record<string, string>, base = baseUrl) =>
  upgradeStatusAt(`${base.replace(/^http/, 'ws')}/api/events`, headers);

describe('a page on another origin, with the session cookie', () => {
  for (const [what, headers] of [
    ['Origin', { origin: OTHER_PORT }],
    ['Sec-Fetch-Site', { 'sec-fetch-site': 'same-site' }],
    ['Origin null', { origin: 'null' }],
  ] as const) {
    it(`cannot create an admin, send an SMS or end a conversation (${what})`, async () => {
      const { createAdmin, sendSms, end, email, to, conversationId } = await attacks();
      for (const response of [
        await send(createAdmin, headers, createAdmin.json),
        await send(sendSms, headers, sendSms.json),
        await send(end, headers),
      ]) {
        expect(response.statusCode).toBe(403);
        expect(response.json()).toMatchObject({ error: 'forbidden' });
      }
      expect(await usersWithEmail(email)).toEqual([]);
      expect(await messagesTo(to)).toEqual([]);
      expect(await conversationRow(t.store.db, conversationId)).toMatchObject({
        state: 'active',
      });
    });
  }

  it('cannot open the live-event WebSocket', async () => {
    expect(await upgradeStatus({ cookie: agent.cookie, origin: OTHER_PORT })).toBe(403);
    expect(
      await upgradeStatus({ cookie: agent.cookie, origin: OWN, 'sec-fetch-site': 'cross-site' }),
    ).toBe(403);
  });

  it('cannot sign the browser in to its own account (login CSRF)', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { origin: OTHER_PORT },
      payload: { email: agent.signedIn.user.email, password: 'correct horse battery' },
    });
    expect(response.statusCode).toBe(403);
    expect(response.headers['set-cookie']).toBeUndefined();
  });
});

describe('API routes take JSON only', () => {
  it('answer a form or a text body with 415, from any origin, and do nothing', async () => {
    const { createAdmin, sendSms, end, email, to, conversationId } = await attacks();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const text = { 'content-type': 'text/plain' };
    // A browser form or fetch without Origin (as old browsers sent), and from Parley itself.
    for (const origin of [{}, { origin: OWN }] as Record<string, string>[]) {
      for (const response of [
        await send(createAdmin, { ...origin, ...form }, createAdmin.form),
        await send(createAdmin, { ...origin, ...text }, JSON.stringify(createAdmin.json)),
        await send(sendSms, { ...origin, ...form }, sendSms.form),
        await send(sendSms, { ...origin, ...text }, JSON.stringify(sendSms.json)),
        await send(end, { ...origin, ...form }, ''),
        await send(end, { ...origin, ...text }, 'end'),
      ]) {
        expect(response.statusCode).toBe(415);
        expect(response.json()).toMatchObject({ error: 'unsupported_media_type' });
      }
    }
    expect(await usersWithEmail(email)).toEqual([]);
    expect(await messagesTo(to)).toEqual([]);
    expect(await conversationRow(t.store.db, conversationId)).toMatchObject({ state: 'active' });
  });
});

describe("Parley's own pages and API tokens", () => {
  it("work from Parley's origin with the cookie", async () => {
    const { createAdmin, sendSms, end, email, to, conversationId } = await attacks();
    const own = { origin: OWN, 'sec-fetch-site': 'same-origin' };
    expect((await send(createAdmin, own, createAdmin.json)).statusCode).toBe(201);
    expect((await send(sendSms, own, sendSms.json)).statusCode).toBe(202);
    expect((await send(end, own)).statusCode).toBe(204);
    expect(await usersWithEmail(email)).toHaveLength(1);
    expect(await messagesTo(to)).toHaveLength(1);
    expect(await conversationRow(t.store.db, conversationId)).toMatchObject({ state: 'closed' });
    expect(await upgradeStatus({ cookie: agent.cookie, ...own })).toBe(101);
    // Reads are not checked: a page of another origin cannot see their answers anyway.
    const me = await t.app.inject({
      url: '/api/me',
      headers: { cookie: agent.cookie, origin: OTHER_PORT },
    });
    expect(me.statusCode).toBe(200);
  });

  it('work with the cookie from a client that is not a browser (neither header)', async () => {
    const { createAdmin, email } = await attacks();
    expect((await send(createAdmin, {}, createAdmin.json)).statusCode).toBe(201);
    expect(await usersWithEmail(email)).toHaveLength(1);
    expect(await upgradeStatus({ cookie: agent.cookie })).toBe(101);
  });

  it('work with an API token whatever the Origin', async () => {
    const { createAdmin, sendSms, email, to } = await attacks();
    const byToken = (request: typeof createAdmin | typeof sendSms, bearer: SignedIn) =>
      t.app.inject({
        method: request.method,
        url: request.url,
        headers: { ...bearer.headers, origin: OTHER_PORT, 'sec-fetch-site': 'cross-site' },
        payload: request.json,
      });
    expect((await byToken(createAdmin, admin.signedIn)).statusCode).toBe(201);
    expect((await byToken(sendSms, agent.signedIn)).statusCode).toBe(202);
    expect(await usersWithEmail(email)).toHaveLength(1);
    expect(await messagesTo(to)).toHaveLength(1);
    expect(await upgradeStatus({ ...agent.signedIn.headers, origin: OTHER_PORT })).toBe(101);
  });

  it('upload raw bytes for attachments', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/uploads',
      headers: {
        cookie: agent.cookie,
        origin: OWN,
        'sec-fetch-site': 'same-origin',
        'content-type': 'image/png',
      },
      payload: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ contentType: 'image/png', size: 8 });
  });
});

describe('the web app in development (npm run dev:web)', () => {
  it("presents its own pages' Origin to Parley as Parley's, and passes others' on", async () => {
    // The Vite config reads where Parley is when it loads.
    process.env.PARLEY_URL = baseUrl;
    process.env.PUBLIC_URL = OWN;
    const vite = await createServer({
      configFile: 'web/vite.config.ts',
      logLevel: 'silent',
      server: { host: '127.0.0.1', port: 0, hmr: false },
    });
    try {
      await vite.listen();
      const { port } = vite.httpServer!.address() as AddressInfo;
      const devUrl = `http://127.0.0.1:${port}`;
      const signInThrough = (origin: string) =>
        fetch(`${devUrl}/api/auth/login`, {
          method: 'POST',
          headers: { origin, 'content-type': 'application/json' },
          body: JSON.stringify({
            email: agent.signedIn.user.email,
            password: 'correct horse battery',
          }),
        });
      expect((await signInThrough(devUrl)).status).toBe(200);
      expect((await signInThrough('http://127.0.0.1:1')).status).toBe(403);
      expect(await upgradeStatus({ cookie: agent.cookie, origin: devUrl }, devUrl)).toBe(101);
    } finally {
      await vite.close();
      delete process.env.PARLEY_URL;
      delete process.env.PUBLIC_URL;
    }
  });
});
