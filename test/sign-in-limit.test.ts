/**
 * Sign-in throttling holds under guesses sent at the same time, to one instance or to
 * several sharing the database, and a refusal's timing does not tell whether the account
 * exists.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FAILURES } from '../src/auth/sign-in-limit.js';
import { createUser } from '../src/auth/users.js';
import { openStore, type Store } from '../src/db/store.js';
import { buildServer } from '../src/server.js';
import { buildTestApp, serverDeps, type TestApp } from './helpers/app.js';

const PASSWORD = 'correct horse battery';

let t: TestApp;
let second: { app: FastifyInstance; store: Store };
beforeAll(async () => {
  t = await buildTestApp();
  await createUser(t.store.db, {
    email: 'ada@example.com',
    name: 'Ada',
    role: 'agent',
    password: PASSWORD,
  });
  // On PostgreSQL a second instance has its own connections to the same database; the
  // embedded store has one owner, so there the second server shares it.
  const store = t.store.databaseUrl
    ? await openStore({ databaseUrl: t.store.databaseUrl })
    : t.store;
  second = { app: await buildServer(serverDeps(store, t.config)), store };
});
afterAll(async () => {
  await second?.app.close();
  if (second && second.store !== t.store) await second.store.close();
  await t?.close();
});

const login = (app: FastifyInstance, email: string, password: string, ip: string) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email, password },
    remoteAddress: ip,
  });

describe('sign-in throttling', () => {
  it('checks at most the limit of 60 wrong passwords sent at once, then refuses the right one too', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => login(t.app, 'ada@example.com', 'nope', '10.1.1.1')),
    );
    const checked = answers.filter((answer) => answer.statusCode !== 429);
    expect(checked.length).toBeLessThanOrEqual(MAX_FAILURES);
    expect(checked.every((answer) => answer.statusCode === 401)).toBe(true);
    for (const refused of answers.filter((answer) => answer.statusCode === 429)) {
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    }
    const right = await login(t.app, 'ada@example.com', PASSWORD, '10.1.1.1');
    expect(right.statusCode).toBe(429);
    expect(right.headers['set-cookie']).toBeUndefined();
  });

  it('checks at most the limit of guesses sent at once to two instances sharing the database', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        login(i % 2 ? t.app : second.app, 'ada@example.com', 'nope', '10.2.2.2'),
      ),
    );
    expect(answers.filter((answer) => answer.statusCode !== 429).length).toBeLessThanOrEqual(
      MAX_FAILURES,
    );
    expect((await login(second.app, 'ada@example.com', PASSWORD, '10.2.2.2')).statusCode).toBe(429);
  });

  it('takes as long to refuse an unknown email as a wrong password for a known one', async () => {
    const timed = async (email: string, ip: string) => {
      const start = performance.now();
      const answer = await login(t.app, email, 'nope', ip);
      expect(answer.statusCode).toBe(401);
      return performance.now() - start;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    // Interleaved, each from its own address, so both see the same load and no lockout.
    for (let i = 0; i < 9; i++) {
      known.push(await timed('ada@example.com', `10.4.0.${i}`));
      unknown.push(await timed(`nobody-${i}@example.com`, `10.4.1.${i}`));
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
    expect(median(unknown)).toBeGreaterThan(median(known) / 2);
    expect(median(unknown)).toBeLessThan(median(known) * 2);
  });
});
