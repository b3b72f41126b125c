import { eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../src/auth/sessions.js';
import { createUser } from '../src/auth/users.js';
import { signInFailures } from '../src/db/schema.js';
import { buildServer } from '../src/server.js';
import { buildTestApp, serverDeps, signIn, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
  await createUser(t.store.db, {
    email: 'ada@example.com',
    name: 'Ada',
    role: 'agent',
    password: 'correct horse battery',
  });
});
afterAll(() => t?.close());

const login = (email: string, password: string, ip = '10.0.0.1') =>
  t.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email, password },
    remoteAddress: ip,
  });

describe('sign-in', () => {
  it('sets an httpOnly, SameSite=Lax, Secure session cookie that identifies the user', async () => {
    const response = await login('ADA@example.com', 'correct horse battery');
    expect(response.statusCode).toBe(200);
    const cookie = String(response.headers['set-cookie']);
    expect(cookie).toMatch(
      /^parley_session=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/,
    );
    const me = await t.app.inject({ url: '/api/me', headers: { cookie: cookie.split(';')[0]! } });
    expect(me.json()).toMatchObject({ email: 'ada@example.com', role: 'agent' });
    expect(me.body).not.toContain('password');
  });

  it('refuses a wrong password with 401 and no cookie', async () => {
    const response = await login('ada@example.com', 'wrong');
    expect(response.statusCode).toBe(401);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('answers 400 naming the field when the body is malformed', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'ada@example.com' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'bad_request', field: 'password' });
  });

  it('limits failed sign-ins per address and email', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await login('ada@example.com', 'nope', '10.9.9.9')).statusCode).toBe(401);
    }
    expect((await login('ada@example.com', 'correct horse battery', '10.9.9.9')).statusCode).toBe(
      429,
    );
    // Another address is not locked out.
    expect((await login('ada@example.com', 'correct horse battery', '10.9.9.8')).statusCode).toBe(
      200,
    );
  });

  it('counts failures across instances sharing the database, and forgets them after the window', async () => {
    const second = await buildServer(serverDeps(t.store, t.config));
    const loginAt = (app: FastifyInstance, password: string) =>
      app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'ada@example.com', password },
        remoteAddress: '10.7.7.7',
      });
    try {
      for (let i = 0; i < 5; i++) {
        expect((await loginAt(t.app, 'nope')).statusCode).toBe(401);
        expect((await loginAt(second, 'nope')).statusCode).toBe(401);
      }
      expect((await loginAt(t.app, 'correct horse battery')).statusCode).toBe(429);
      expect((await loginAt(second, 'correct horse battery')).statusCode).toBe(429);

      await t.store.db
        .update(signInFailures)
        .set({ since: sql`now() - interval '16 minutes'` })
        .where(eq(signInFailures.key, '10.7.7.7|ada@example.com'));
      expect((await loginAt(second, 'correct horse battery')).statusCode).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('ends the session on logout', async () => {
    const cookie = String(
      (await login('ada@example.com', 'correct horse battery')).headers['set-cookie'],
    ).split(';')[0]!;
    expect(
      (await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie } }))
        .statusCode,
    ).toBe(204);
    expect((await t.app.inject({ url: '/api/me', headers: { cookie } })).statusCode).toBe(401);
  });

  it('sets an agent offline when their last browser session signs out, not before', async () => {
    await createUser(t.store.db, {
      email: 'grace@example.com',
      name: 'Grace',
      role: 'agent',
      password: 'correct horse battery',
    });
    const cookieOf = async () =>
      String(
        (await login('grace@example.com', 'correct horse battery')).headers['set-cookie'],
      ).split(';')[0]!;
    const laptop = await cookieOf();
    const phone = await cookieOf();
    const presenceOf = async (cookie: string) => {
      const directory = await t.app.inject({ url: '/api/directory', headers: { cookie } });
      const me = (await t.app.inject({ url: '/api/me', headers: { cookie } })).json() as {
        id: string;
      };
      return (directory.json() as { agents: { id: string; presence: string }[] }).agents.find(
        (agent) => agent.id === me.id,
      )?.presence;
    };
    await t.app.inject({
      method: 'PUT',
      url: '/api/agents/me/presence',
      headers: { cookie: laptop },
      payload: { presence: 'available' },
    });

    await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: laptop } });
    expect(await presenceOf(phone)).toBe('available');
    await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: phone } });
    expect(await presenceOf(await cookieOf())).toBe('offline');
  });
});

describe('API tokens', () => {
  it('authenticate with Bearer, and an unknown token is 401', async () => {
    const { user } = await signIn(t.store, 'supervisor');
    const session = await createSession(t.store.db, user.id, 'session');
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/auth/tokens',
      headers: { cookie: `parley_session=${session.token}` },
      payload: { name: 'script' },
    });
    expect(created.statusCode).toBe(201);
    const { token } = created.json() as { token: string };
    const me = await t.app.inject({
      url: '/api/me',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.json()).toMatchObject({ id: user.id, role: 'supervisor' });
    const bad = await t.app.inject({ url: '/api/me', headers: { authorization: 'Bearer nope' } });
    expect(bad.statusCode).toBe(401);
  });
});
