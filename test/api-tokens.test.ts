/**
 * API tokens: named, optionally expiring, stamped when used, listed without their secret,
 * revocable by their owner or an admin; an expired or revoked token opens neither the API
 * nor the live-event socket, and each kind of token works only where it belongs.
 */
import type { AddressInfo } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../src/auth/sessions.js';
import { createUser, type Role } from '../src/auth/users.js';
import { sessions } from '../src/db/schema.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { hex } from './helpers/factories.js';
import { upgradeStatus as upgradeStatusAt } from './helpers/ws.js';

let t: TestApp;
let origin: string;
beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(() => t?.close());

type Headers = Record<string, string>;

/** A user of the role with a browser session (the cookie), as after signing in. */
async function withSession(role: Role) {
  const name = `${role}-${hex(3)}`;
  const user = await createUser(t.store.db, {
    email: `${name}@example.com`,
    name,
    role,
    password: 'correct horse battery',
  });
  const session = await createSession(t.store.db, user.id, 'session');
  return { user, cookie: { cookie: `parley_session=${session.token}` } };
}

interface TokenJson {
  id: string;
  userId: string;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  token?: string;
}

async function createToken(headers: Headers, payload: object) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/auth/tokens',
    headers,
    payload,
  });
  expect(response.statusCode).toBe(201);
  const created = response.json() as TokenJson & { token: string };
  return { ...created, bearer: { authorization: `Bearer ${created.token}` } };
}

const listTokens = (headers: Headers, query = '') =>
  t.app.inject({ url: `/api/auth/tokens${query}`, headers });

const revoke = (headers: Headers, id: string) =>
  t.app.inject({ method: 'DELETE', url: `/api/auth/tokens/${id}`, headers });

const me = async (headers: Headers) => (await t.app.inject({ url: '/api/me', headers })).statusCode;

/** The status a WebSocket upgrade of GET /api/events gets: 101 when it becomes a socket. */
const upgradeStatus = (query: string, headers: Headers = {}) =>
  upgradeStatusAt(`${origin.replace('http', 'ws')}/api/events${query}`, headers);

describe('API tokens', () => {
  it('shows the secret once: the token is created with its name and expiry, and listed without the secret', async () => {
    const { user, cookie } = await withSession('agent');
    const before = Date.now();
    const created = await createToken(cookie, { name: 'nightly export', expiresInDays: 30 });
    expect(created).toMatchObject({ userId: user.id, name: 'nightly export', lastUsedAt: null });
    const expiresIn = Date.parse(created.expiresAt!) - before;
    expect(expiresIn).toBeGreaterThanOrEqual(30 * 86_400_000 - 1000);
    expect(expiresIn).toBeLessThanOrEqual(30 * 86_400_000 + 60_000);
    const lasting = await createToken(cookie, { name: 'dashboard' });
    expect(lasting.expiresAt).toBeNull();

    const list = await listTokens(cookie);
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([
      {
        id: lasting.id,
        userId: user.id,
        name: 'dashboard',
        createdAt: lasting.createdAt,
        expiresAt: null,
        lastUsedAt: null,
      },
      {
        id: created.id,
        userId: user.id,
        name: 'nightly export',
        createdAt: created.createdAt,
        expiresAt: created.expiresAt,
        lastUsedAt: null,
      },
    ]);
    expect(list.body).not.toContain(created.token);
    expect(list.body).not.toContain(lasting.token);
  });

  it('needs a name and an expiry of whole days from 1 to 3650', async () => {
    const { cookie } = await withSession('agent');
    const refused = async (payload: object) => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/auth/tokens',
        headers: cookie,
        payload,
      });
      expect(response.statusCode).toBe(400);
      return (response.json() as { field?: string }).field;
    };
    expect(await refused({ name: '  ' })).toBe('name');
    expect(await refused({ name: 'x', expiresInDays: 0 })).toBe('expiresInDays');
    expect(await refused({ name: 'x', expiresInDays: 1.5 })).toBe('expiresInDays');
    expect(await refused({ name: 'x', expiresInDays: 3651 })).toBe('expiresInDays');
    expect(await refused({ name: 'x', expiresInDays: '7' })).toBe('expiresInDays');
  });

  it('refuses an expired token with 401 on the API and on the live-event socket', async () => {
    const { cookie } = await withSession('agent');
    const token = await createToken(cookie, { name: 'one day', expiresInDays: 1 });
    expect(await me(token.bearer)).toBe(200);
    expect(await upgradeStatus(`?token=${token.token}`)).toBe(101);

    // The day passes.
    await t.store.db
      .update(sessions)
      .set({ expiresAt: sql`${sessions.expiresAt} - interval '1 day'` })
      .where(eq(sessions.id, token.id));
    expect(await me(token.bearer)).toBe(401);
    expect(await upgradeStatus(`?token=${token.token}`)).toBe(401);
    expect(await upgradeStatus('', token.bearer)).toBe(401);
  });

  it('refuses a revoked token with 401 on the API and on the live-event socket', async () => {
    const { cookie } = await withSession('agent');
    const token = await createToken(cookie, { name: 'script' });
    expect(await me(token.bearer)).toBe(200);

    expect((await revoke(cookie, token.id)).statusCode).toBe(204);
    expect(await me(token.bearer)).toBe(401);
    expect(await upgradeStatus(`?token=${token.token}`)).toBe(401);
    expect(await upgradeStatus('', token.bearer)).toBe(401);
    expect((await listTokens(cookie)).json()).toEqual([]);
    expect((await revoke(cookie, token.id)).statusCode).toBe(404);
  });

  it("lets a user revoke only their own tokens, and an admin anyone's", async () => {
    const ada = await withSession('agent');
    const bob = await withSession('supervisor');
    const admin = await withSession('admin');
    const adaToken = await createToken(ada.cookie, { name: 'ada script' });

    // Another user learns nothing: the same answer as for no such token.
    expect((await revoke(bob.cookie, adaToken.id)).statusCode).toBe(404);
    expect(await me(adaToken.bearer)).toBe(200);

    expect((await revoke(admin.cookie, adaToken.id)).statusCode).toBe(204);
    expect(await me(adaToken.bearer)).toBe(401);
  });

  it("lists a user's own tokens; an admin lists anyone's by user", async () => {
    const ada = await withSession('agent');
    const bob = await withSession('supervisor');
    const admin = await withSession('admin');
    const adaToken = await createToken(ada.cookie, { name: 'ada script' });
    await createToken(bob.cookie, { name: 'bob script' });

    expect(
      ((await listTokens(ada.cookie)).json() as TokenJson[]).map((token) => token.name),
    ).toEqual(['ada script']);
    expect(
      ((await listTokens(ada.cookie, `?userId=${ada.user.id}`)).json() as TokenJson[]).length,
    ).toBe(1);
    expect((await listTokens(bob.cookie, `?userId=${ada.user.id}`)).statusCode).toBe(403);

    const byAdmin = await listTokens(admin.cookie, `?userId=${ada.user.id}`);
    expect(byAdmin.statusCode).toBe(200);
    expect((byAdmin.json() as TokenJson[]).map((token) => token.id)).toEqual([adaToken.id]);
    expect(byAdmin.body).not.toContain(adaToken.token);
    expect((await listTokens(admin.cookie, '?userId=nope')).statusCode).toBe(400);
  });

  it('stamps the last use of a token, at most once a minute', async () => {
    const { cookie } = await withSession('agent');
    const token = await createToken(cookie, { name: 'busy client' });
    const lastUsedAt = async () =>
      ((await listTokens(cookie)).json() as TokenJson[])[0]!.lastUsedAt;

    expect(await me(token.bearer)).toBe(200);
    const first = await lastUsedAt();
    expect(first).not.toBeNull();
    expect(Math.abs(Date.parse(first!) - Date.now())).toBeLessThan(60_000);
    expect(await me(token.bearer)).toBe(200);
    expect(await upgradeStatus(`?token=${token.token}`)).toBe(101);
    expect(await lastUsedAt()).toBe(first);

    // A minute on, the next use is stamped again.
    await t.store.db
      .update(sessions)
      .set({ lastUsedAt: sql`now() - interval '61 seconds'` })
      .where(eq(sessions.id, token.id));
    const stale = await lastUsedAt();
    expect(await me(token.bearer)).toBe(200);
    expect(Date.parse((await lastUsedAt())!)).toBeGreaterThan(Date.parse(stale!));
  });

  it('cannot be made with another API token', async () => {
    const { cookie } = await withSession('agent');
    const token = await createToken(cookie, { name: 'script' });
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/auth/tokens',
      headers: token.bearer,
      payload: { name: 'forever' },
    });
    expect(response.statusCode).toBe(403);
    expect(((await listTokens(cookie)).json() as TokenJson[]).length).toBe(1);
  });
});

describe('kinds of token', () => {
  it('takes a session only as the cookie, and an API token only as Bearer or ?token=', async () => {
    const { cookie } = await withSession('agent');
    const session = cookie.cookie.slice('parley_session='.length);
    const token = await createToken(cookie, { name: 'script' });

    expect(await me(cookie)).toBe(200);
    expect(await me(token.bearer)).toBe(200);
    expect(await upgradeStatus(`?token=${token.token}`)).toBe(101);
    expect(await upgradeStatus('', cookie)).toBe(101);

    expect(await me({ authorization: `Bearer ${session}` })).toBe(401);
    expect(await me({ cookie: `parley_session=${token.token}` })).toBe(401);
    expect(await upgradeStatus(`?token=${session}`)).toBe(401);
    expect(await upgradeStatus('', { authorization: `Bearer ${session}` })).toBe(401);
  });
});
