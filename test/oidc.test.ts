import { desc, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInWithOidc } from '../src/auth/oidc-users.js';
import { createUser } from '../src/auth/users.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { auditEntries, users } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { buildServer } from '../src/server.js';
import { buildTestApp, serverDeps, type TestApp } from './helpers/app.js';
import {
  passProviderPages,
  startOidcProvider,
  type TestProvider,
} from './helpers/oidc-provider.js';

const PUBLIC_URL = 'https://parley.test';
const CALLBACK = `${PUBLIC_URL}/api/auth/oidc/callback`;

let provider: TestProvider;
let t: TestApp;
/** The same store with user creation off and passwords off. */
let strict: FastifyInstance;
/** What `strict` logs. */
const strictLog: string[] = [];

beforeAll(async () => {
  provider = await startOidcProvider([CALLBACK]);
  t = await buildTestApp({
    ...provider.env,
    OIDC_ROLE_CLAIM: 'groups',
    OIDC_ROLE_MAP: 'parley-admins=admin,parley-supervisors=supervisor,parley-agents=agent',
    OIDC_CREATE_USERS: 'true',
    OIDC_BUTTON_LABEL: 'Sign in with Example ID',
  });
  const strictConfig = loadConfig({
    LOG_LEVEL: 'debug',
    PUBLIC_URL,
    ...provider.env,
    PASSWORD_SIGN_IN: 'false',
  });
  strict = await buildServer({
    ...serverDeps(t.store, strictConfig),
    logger: createLogger('debug', { write: (line: string) => strictLog.push(line) }),
  });
});
afterAll(async () => {
  await strict?.close();
  await t?.close();
  await provider?.close();
});

/** The session cookie (name=value) among the answer's cookies, if one was set. */
function sessionCookieOf(setCookie: string | string[] | undefined): string | undefined {
  const lines = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return lines
    .map((line) => line.split(';')[0]!)
    .find((pair) => pair.startsWith('parley_session=') && pair !== 'parley_session=');
}

/**
 * A browser's round trip: Parley's start, the provider's pages, Parley's callback; the
 * callback's answer.
 */
async function signInWithProvider(
  action: { login: string } | 'cancel',
  options: { app?: FastifyInstance; tamper?: (callback: URL) => void } = {},
) {
  const app = options.app ?? t.app;
  const start = await app.inject({ url: '/api/auth/oidc/start' });
  expect(start.statusCode).toBe(303);
  const flowCookie = String(start.headers['set-cookie']);
  expect(flowCookie).toMatch(/^parley_oidc=[^;]+; Path=\/api\/auth\/oidc\/callback; HttpOnly;/);
  expect(flowCookie).toContain('SameSite=Lax');
  const authorization = new URL(String(start.headers.location));
  expect(authorization.origin).toBe(provider.issuer);
  expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorization.searchParams.get('nonce')).toBeTruthy();
  const callback = await passProviderPages(authorization.href, CALLBACK, action);
  options.tamper?.(callback);
  const answer = await app.inject({
    url: `${callback.pathname}${callback.search}`,
    headers: {
      cookie: flowCookie.split(';')[0]!,
      // As the browser sends it: a top-level navigation from the provider's site.
      'sec-fetch-site': 'cross-site',
    },
  });
  return {
    status: answer.statusCode,
    location: String(answer.headers.location),
    session: sessionCookieOf(answer.headers['set-cookie']),
  };
}

async function me(session: string | undefined, app = t.app) {
  return app.inject({ url: '/api/me', headers: { cookie: session ?? '' } });
}

async function lastAudit(action: string) {
  const [entry] = await t.store.db
    .select()
    .from(auditEntries)
    .where(eq(auditEntries.action, action))
    .orderBy(desc(auditEntries.id))
    .limit(1);
  return entry;
}

describe('single sign-on', () => {
  it('tells the sign-in page which ways to sign in there are', async () => {
    expect((await t.app.inject({ url: '/api/auth/methods' })).json()).toEqual({
      password: true,
      sso: { label: 'Sign in with Example ID', startUrl: '/api/auth/oidc/start' },
    });
    expect((await strict.inject({ url: '/api/auth/methods' })).json()).toEqual({
      password: false,
      sso: { label: 'Sign in with SSO', startUrl: '/api/auth/oidc/start' },
    });
  });

  it('makes a new user with the role their groups map to, with no password, and signs them in', async () => {
    provider.accounts.set('sub-nia', {
      email: 'nia@example.com',
      email_verified: true,
      name: 'Nia Okafor',
      groups: ['staff', 'parley-supervisors'],
    });
    const answer = await signInWithProvider({ login: 'sub-nia' });
    expect(answer).toMatchObject({ status: 303, location: '/' });
    const signedIn = await me(answer.session);
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.json()).toMatchObject({
      email: 'nia@example.com',
      name: 'Nia Okafor',
      role: 'supervisor',
    });
    const [row] = await t.store.db.select().from(users).where(eq(users.email, 'nia@example.com'));
    expect(row).toMatchObject({
      passwordHash: null,
      oidcIssuer: provider.issuer,
      oidcSubject: 'sub-nia',
    });
    expect(await lastAudit('user.created')).toMatchObject({
      actorId: row!.id,
      targetId: row!.id,
      detail: { method: 'oidc' },
    });
    expect(await lastAudit('auth.signed-in')).toMatchObject({
      actorId: row!.id,
      detail: { method: 'oidc' },
    });

    // No password signs them in, whatever is tried.
    for (const password of ['', 'null', 'undefined', 'scrypt']) {
      const login = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: 'nia@example.com', password: password || 'x' },
      });
      expect(login.statusCode).toBe(401);
    }

    // The next sign-in finds the same user; a new group takes effect.
    provider.accounts.set('sub-nia', {
      ...provider.accounts.get('sub-nia'),
      groups: ['parley-admins'],
    });
    const again = await signInWithProvider({ login: 'sub-nia' });
    expect((await me(again.session)).json()).toMatchObject({ id: row!.id, role: 'admin' });
    expect(await lastAudit('user.updated')).toMatchObject({
      targetId: row!.id,
      before: { role: 'supervisor' },
      after: { role: 'admin' },
    });
  });

  it('links an existing user by their verified email, and keeps the link when the email changes', async () => {
    const existing = await createUser(t.store.db, {
      email: 'Omar@Example.com',
      name: 'Omar',
      role: 'agent',
      password: 'correct horse battery',
    });
    provider.accounts.set('sub-omar', {
      email: 'omar@example.com',
      email_verified: true,
      groups: ['parley-agents'],
    });
    const answer = await signInWithProvider({ login: 'sub-omar' });
    expect((await me(answer.session)).json()).toMatchObject({ id: existing.id, role: 'agent' });
    const [row] = await t.store.db.select().from(users).where(eq(users.id, existing.id));
    expect(row).toMatchObject({ oidcIssuer: provider.issuer, oidcSubject: 'sub-omar' });

    provider.accounts.set('sub-omar', {
      ...provider.accounts.get('sub-omar'),
      email: 'o@example.org',
    });
    const renamed = await signInWithProvider({ login: 'sub-omar' });
    expect((await me(renamed.session)).json()).toMatchObject({ id: existing.id });
  });

  it('does not link an existing user by an email the provider has not verified', async () => {
    await createUser(t.store.db, {
      email: 'pat@example.com',
      name: 'Pat',
      role: 'admin',
      password: 'correct horse battery',
    });
    provider.accounts.set('sub-mallory', {
      email: 'pat@example.com',
      email_verified: false,
      groups: ['parley-agents'],
    });
    const answer = await signInWithProvider({ login: 'sub-mallory' });
    expect(answer).toMatchObject({ status: 303, location: '/?sso_error=email-unverified' });
    expect(answer.session).toBeUndefined();
  });

  it('does not make a user for an email the provider has not verified', async () => {
    provider.accounts.set('sub-nell', {
      email: 'nell@example.com',
      email_verified: false,
      groups: ['parley-agents'],
    });
    const answer = await signInWithProvider({ login: 'sub-nell' });
    expect(answer).toMatchObject({ status: 303, location: '/?sso_error=email-unverified' });
    expect(answer.session).toBeUndefined();
    const [row] = await t.store.db.select().from(users).where(eq(users.email, 'nell@example.com'));
    expect(row).toBeUndefined();
    expect(await lastAudit('auth.sign-in-failed')).toMatchObject({
      actorId: null,
      detail: { method: 'oidc', reason: 'email-unverified', email: 'nell@example.com' },
    });
  });

  it('refuses someone whose groups give no role', async () => {
    provider.accounts.set('sub-quinn', {
      email: 'quinn@example.com',
      email_verified: true,
      groups: ['staff'],
    });
    const answer = await signInWithProvider({ login: 'sub-quinn' });
    expect(answer).toMatchObject({ location: '/?sso_error=no-role' });
    expect(answer.session).toBeUndefined();
    const [row] = await t.store.db.select().from(users).where(eq(users.email, 'quinn@example.com'));
    expect(row).toBeUndefined();
  });

  it('refuses a disabled user', async () => {
    const user = await createUser(t.store.db, {
      email: 'rae@example.com',
      name: 'Rae',
      role: 'agent',
      password: 'correct horse battery',
    });
    await t.store.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, user.id));
    provider.accounts.set('sub-rae', {
      email: 'rae@example.com',
      email_verified: true,
      groups: ['parley-agents'],
    });
    const answer = await signInWithProvider({ login: 'sub-rae' });
    expect(answer).toMatchObject({ location: '/?sso_error=disabled' });
    expect(answer.session).toBeUndefined();
    expect(await lastAudit('auth.sign-in-failed')).toMatchObject({
      actorId: user.id,
      detail: { method: 'oidc', reason: 'disabled' },
    });
  });

  it('refuses someone unknown to Parley when user creation is off', async () => {
    provider.accounts.set('sub-sol', {
      email: 'sol@example.com',
      email_verified: true,
    });
    const answer = await signInWithProvider({ login: 'sub-sol' }, { app: strict });
    expect(answer).toMatchObject({ status: 303, location: '/?sso_error=unknown-user' });
    expect(answer.session).toBeUndefined();
    const [row] = await t.store.db.select().from(users).where(eq(users.email, 'sol@example.com'));
    expect(row).toBeUndefined();
    expect(await lastAudit('auth.sign-in-failed')).toMatchObject({
      actorId: null,
      detail: { method: 'oidc', reason: 'unknown-user' },
    });
  });

  it('logs why a sign-in was refused, never the client secret, the flow cookie or the code', async () => {
    provider.accounts.set('sub-wen', { email: 'wen@example.com', email_verified: true });
    const logged = strictLog.length;
    await signInWithProvider(
      { login: 'sub-wen' },
      { app: strict, tamper: (callback) => expect(callback.searchParams.get('code')).toBeTruthy() },
    );
    const log = strictLog.slice(logged).join('');
    expect(log).toContain('"reason":"unknown-user"');
    expect(log).not.toContain(provider.clientSecret);
    expect(log).not.toMatch(/parley_oidc=v1\./);
    // The request line names the callback, without its query: the code and state.
    expect(log).toContain('"url":"/api/auth/oidc/callback"');
    expect(log).not.toMatch(/code=|state=/);
  });

  it('keeps roles assigned in Parley when there is no role claim', async () => {
    const user = await createUser(t.store.db, {
      email: 'tam@example.com',
      name: 'Tam',
      role: 'supervisor',
      password: 'correct horse battery',
    });
    provider.accounts.set('sub-tam', {
      email: 'tam@example.com',
      email_verified: true,
      groups: ['parley-agents'],
    });
    const answer = await signInWithProvider({ login: 'sub-tam' }, { app: strict });
    expect((await me(answer.session, strict)).json()).toMatchObject({
      id: user.id,
      role: 'supervisor',
    });
  });

  it('refuses an answer whose state is not the one this browser started', async () => {
    provider.accounts.set('sub-uma', {
      email: 'uma@example.com',
      email_verified: true,
      groups: ['parley-agents'],
    });
    const answer = await signInWithProvider(
      { login: 'sub-uma' },
      { tamper: (callback) => callback.searchParams.set('state', 'forged') },
    );
    expect(answer).toMatchObject({ status: 303, location: '/?sso_error=bad-state' });
    expect(answer.session).toBeUndefined();
    expect(await lastAudit('auth.sign-in-failed')).toMatchObject({
      detail: { method: 'oidc', reason: 'bad-state' },
    });
  });

  it('makes one user when two first sign-ins of one person finish at once', async () => {
    const identity = {
      issuer: provider.issuer,
      subject: 'sub-twice',
      email: 'twice@example.com',
      emailVerified: true,
      name: 'Twice',
      roleClaim: undefined,
    };
    const rules = { claimedRole: null, defaultRole: undefined, createUsers: true };
    const actor = { userId: null, label: 'anonymous', ip: null, userAgent: null, requestId: null };
    const results = await Promise.all([
      signInWithOidc(t.store.db, identity, rules, actor),
      signInWithOidc(t.store.db, identity, rules, actor),
    ]);
    const ids = results.map((result) => (result.ok ? result.user.id : result.reason));
    expect(ids[0]).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    expect(ids[1]).toBe(ids[0]);
    const rows = await t.store.db.select().from(users).where(eq(users.oidcSubject, 'sub-twice'));
    expect(rows).toHaveLength(1);
  });

  it('refuses a callback without the flow cookie, or with a forged one, logging it but not auditing it', async () => {
    const failures = async () =>
      (
        await t.store.db
          .select({ id: auditEntries.id })
          .from(auditEntries)
          .where(eq(auditEntries.action, 'auth.sign-in-failed'))
      ).length;
    const recorded = await failures();
    const logged = strictLog.length;
    for (const cookie of ['', 'parley_oidc=v1.AAAA.BBBB.CCCC']) {
      const answer = await strict.inject({
        url: '/api/auth/oidc/callback?code=abc&state=xyz',
        headers: { cookie },
      });
      expect(answer.statusCode).toBe(303);
      expect(answer.headers.location).toBe('/?sso_error=bad-state');
    }
    // Anyone may send these, as often as they like: the append-only trail does not grow.
    expect(await failures()).toBe(recorded);
    const refusals = strictLog
      .slice(logged)
      .map((line) => JSON.parse(line) as { level: number; msg: string; reason?: string })
      .filter((line) => line.msg === 'single sign-on refused');
    expect(refusals).toEqual([
      expect.objectContaining({ level: 30, reason: 'bad-state' }),
      expect.objectContaining({ level: 30, reason: 'bad-state' }),
    ]);
  });

  it('sends someone who cancels at the provider back to the sign-in page, saying so', async () => {
    const answer = await signInWithProvider('cancel');
    expect(answer).toMatchObject({ status: 303, location: '/?sso_error=denied' });
    expect(answer.session).toBeUndefined();
  });

  it('says so on the sign-in page when the provider cannot be reached', async () => {
    const offline = await buildServer(
      serverDeps(
        t.store,
        loadConfig({
          LOG_LEVEL: 'silent',
          PUBLIC_URL,
          ...provider.env,
          // Nothing listens on port 9 (discard) here.
          OIDC_ISSUER_URL: 'http://127.0.0.1:9',
        }),
      ),
    );
    try {
      const start = await offline.inject({ url: '/api/auth/oidc/start' });
      expect(start.statusCode).toBe(303);
      expect(start.headers.location).toBe('/?sso_error=provider-error');
    } finally {
      await offline.close();
    }
  });

  it('refuses password sign-in with 403 when PASSWORD_SIGN_IN=false', async () => {
    await createUser(t.store.db, {
      email: 'val@example.com',
      name: 'Val',
      role: 'agent',
      password: 'correct horse battery',
    });
    const refused = await strict.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'val@example.com', password: 'correct horse battery' },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({
      error: 'forbidden',
      message: expect.stringMatching(/SSO/),
    });
    expect(refused.headers['set-cookie']).toBeUndefined();
    // The same user with passwords on.
    const allowed = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'val@example.com', password: 'correct horse battery' },
    });
    expect(allowed.statusCode).toBe(200);
  });
});

describe('single sign-on configuration', () => {
  const base = {
    OIDC_ISSUER_URL: 'https://login.example.com/realms/parley',
    OIDC_CLIENT_ID: 'parley',
    OIDC_CLIENT_SECRET: 'secret',
  };
  const problemOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems;
    }
  };

  it('reads a complete configuration', () => {
    const config = loadConfig({
      ...base,
      OIDC_ROLE_CLAIM: 'roles',
      OIDC_ROLE_MAP: 'cn=admins=admin, Agents = agent',
    });
    expect(config.oidc).toMatchObject({
      issuerUrl: base.OIDC_ISSUER_URL,
      scopes: 'openid email profile',
      roleClaim: 'roles',
      createUsers: false,
      buttonLabel: 'Sign in with SSO',
    });
    expect(config.passwordSignIn).toBe(true);
    expect(loadConfig({}).oidc).toBeUndefined();
  });

  it('stops start-up with one sentence naming the variable of a bad or partial configuration', () => {
    expect(problemOf({ OIDC_ISSUER_URL: base.OIDC_ISSUER_URL })).toEqual([
      'OIDC_CLIENT_ID must be set when OIDC_ISSUER_URL is set.',
    ]);
    expect(problemOf({ ...base, OIDC_CLIENT_SECRET: '' })).toEqual([
      'OIDC_CLIENT_SECRET must be set when OIDC_ISSUER_URL is set.',
    ]);
    expect(problemOf({ OIDC_CLIENT_ID: 'parley' })).toEqual([
      'OIDC_ISSUER_URL must be set when OIDC_CLIENT_ID is set.',
    ]);
    expect(problemOf({ PASSWORD_SIGN_IN: 'false' })?.[0]).toMatch(
      /^PASSWORD_SIGN_IN may be false only/,
    );
    expect(problemOf({ ...base, OIDC_ISSUER_URL: 'http://login.example.com' })?.[0]).toMatch(
      /^OIDC_ISSUER_URL must be an https URL/,
    );
    expect(problemOf({ ...base, OIDC_ROLE_MAP: 'admins=admin' })?.[0]).toMatch(
      /^OIDC_ROLE_CLAIM must be set when OIDC_ROLE_MAP is set/,
    );
    expect(
      problemOf({ ...base, OIDC_ROLE_CLAIM: 'groups', OIDC_ROLE_MAP: 'admins=root' })?.[0],
    ).toMatch(/^OIDC_ROLE_MAP must be claim values and roles/);
    expect(problemOf({ ...base, OIDC_SCOPES: 'email profile' })?.[0]).toMatch(
      /^OIDC_SCOPES must be a list of scopes that includes openid/,
    );
    expect(problemOf({ ...base, OIDC_DEFAULT_ROLE: 'owner' })?.[0]).toMatch(
      /^OIDC_DEFAULT_ROLE must be one of admin, supervisor, agent/,
    );
    // The secret itself is never quoted.
    expect(JSON.stringify(problemOf({ ...base, OIDC_ROLE_MAP: 'x' }))).not.toContain('secret');
  });
});
