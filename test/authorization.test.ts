/**
 * Who may do what, across the whole API: every route but sign-in asks who is calling before
 * it looks at the request; configuration is for admins only, whatever the credential
 * (session cookie or API token) and whatever the body; an agent cannot reach another agent's
 * conversation by any route, and learns only that it does not exist.
 */
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations } from '../src/db/schema.js';
import { buildTestApp, signIn, type TestApp } from './helpers/app.js';
import {
  buildNumber,
  buildQueue,
  conversationInFlow,
  conversationRow,
} from './helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t?.close());

type Headers = Record<string, string>;

/** Signs in through the API like the web app: the session cookie, then an API token with it. */
async function credentialsOf(role: 'agent' | 'supervisor') {
  const { user } = await signIn(t.store, role);
  const login = await t.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email: user.email, password: 'correct horse battery' },
  });
  expect(login.statusCode).toBe(200);
  const cookie = String(login.headers['set-cookie']).split(';')[0]!;
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/auth/tokens',
    headers: { cookie },
    payload: { name: 'script' },
  });
  expect(created.statusCode).toBe(201);
  const { token } = created.json() as { token: string };
  return { user, cookie: { cookie }, token: { authorization: `Bearer ${token}` } };
}

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  format?: string;
  minLength?: number;
  minimum?: number;
  minItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

/** A value the schema plausibly accepts: required fields only, the simplest of each type. */
function sample(schema: JsonSchema): unknown {
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return sample(schema.anyOf.find((s) => s.type !== 'null') ?? {});
  switch (schema.type) {
    case 'object':
      return Object.fromEntries(
        (schema.required ?? []).map((key) => [key, sample(schema.properties?.[key] ?? {})]),
      );
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items ?? {}));
    case 'string':
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'email') return 'someone@example.com';
      return 'x'.repeat(Math.max(schema.minLength ?? 1, 12));
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, 1);
    case 'boolean':
      return true;
    default:
      return null;
  }
}

interface Operation {
  requestBody?: { content?: { 'application/json'?: { schema?: JsonSchema } } };
}

/**
 * Every operation under the prefix, from the OpenAPI document: a new route is covered as it
 * is added. Path parameters get a well-formed id, so that the route itself is what answers,
 * unless given another value.
 */
function operationsUnder(prefix: string, pathParameter: () => string = () => randomUUID()) {
  const doc = t.app.swagger() as { paths: Record<string, Record<string, Operation>> };
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith(prefix))
    .flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({
        method: method.toUpperCase() as InjectOptions['method'],
        path,
        url: path.replaceAll(/\{[^}]+\}/g, pathParameter),
        schema: operation.requestBody?.content?.['application/json']?.schema,
      })),
    );
}

const adminOperations = () => operationsUnder('/api/admin/');

/** Operations of agents' routes that only supervisors and admins may call. */
const SUPERVISOR_OPERATIONS = [
  'GET /api/conversations',
  'PUT /api/agents/{id}/presence',
  'POST /api/conversations/{id}/reassign',
  'GET /api/queues/stats',
];

describe('every API route but sign-in asks who is calling first', () => {
  /** A request every route would refuse as malformed: bad id, bad query, a body of the wrong type. */
  const malformed = (method: InjectOptions['method'], url: string, headers: Headers = {}) =>
    t.app.inject({
      method,
      url: `${url}?limit=-1&after=-1&state=none`,
      headers: { ...headers, 'content-type': 'application/json' },
      ...(method !== 'GET' && method !== 'DELETE' && { payload: '42' }),
    });

  it('answers 401, not 400, to a caller without credentials whatever they send', async () => {
    // Sign-in, and what the sign-in page asks before it: the ways to sign in.
    const signInOperations = ['POST /api/auth/login', 'GET /api/auth/methods'];
    const operations = operationsUnder('/api/', () => 'not-an-id').filter(
      ({ method, path }) => !signInOperations.includes(`${method} ${path}`),
    );
    // The routes that validated their body first, among others.
    expect(operations.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining([
        'PUT /api/agents/me/presence',
        'POST /api/conversations/{id}/transfer',
        'POST /api/conversations/{id}/reassign',
        'POST /api/originations',
        'POST /api/segments',
        'POST /api/auth/tokens',
      ]),
    );
    // The WebSocket route is not in the document.
    operations.push({ method: 'GET', path: '/api/events', url: '/api/events', schema: undefined });
    const answers: string[] = [];
    for (const { method, url } of operations) {
      const response = await malformed(method, url);
      answers.push(`${method} ${url} → ${response.statusCode} ${response.json().error}`);
    }
    expect(answers).toEqual(operations.map((o) => `${o.method} ${o.url} → 401 unauthorized`));
  });

  it("refuses an agent the supervisors' and admins' routes with 403, not 400, whatever they send", async () => {
    const agent = await credentialsOf('agent');
    const operations = operationsUnder('/api/', () => 'not-an-id').filter(
      ({ method, path }) =>
        path.startsWith('/api/admin/') || SUPERVISOR_OPERATIONS.includes(`${method} ${path}`),
    );
    expect(operations.length).toBe(adminOperations().length + SUPERVISOR_OPERATIONS.length);
    const answers: string[] = [];
    for (const { method, url } of operations) {
      for (const headers of [agent.cookie, agent.token]) {
        const response = await malformed(method, url, headers);
        answers.push(`${method} ${url} → ${response.statusCode} ${response.json().error}`);
      }
    }
    expect(answers).toEqual(
      operations.flatMap((o) => Array(2).fill(`${o.method} ${o.url} → 403 forbidden`)),
    );
  });
});

describe('configuration (/api/admin/…) is for admins only', () => {
  it('finds the admin routes in the OpenAPI document', () => {
    const operations = adminOperations().map((o) => `${o.method} ${o.url.split('/')[3]}`);
    for (const expected of [
      'GET accounts',
      'POST numbers',
      'PATCH flows',
      'PATCH queues',
      'POST agents',
      'DELETE quick-replies',
    ]) {
      expect(operations).toContain(expected);
    }
  });

  it('refuses agents (cookie or API token) and supervisors with 403, whatever the body', async () => {
    const agent = await credentialsOf('agent');
    const supervisor = await credentialsOf('supervisor');
    const callers: [string, Headers][] = [
      ['agent by cookie', agent.cookie],
      ['agent by API token', agent.token],
      ['supervisor by cookie', supervisor.cookie],
      ['supervisor by API token', supervisor.token],
    ];
    const answers: string[] = [];
    const expected: string[] = [];
    for (const { method, url, schema } of adminOperations()) {
      // A body the route would take from an admin, and one it would refuse: 403 either way.
      const bodies = schema ? [sample(schema), {}] : [undefined];
      for (const [who, headers] of callers) {
        for (const body of bodies) {
          const response = await t.app.inject({
            method,
            url,
            headers,
            ...(body !== undefined && { payload: body as Record<string, unknown> }),
          });
          const label = `${who} ${method} ${url} ${JSON.stringify(body)}`;
          const error = String(response.headers['content-type']).includes('json')
            ? (response.json() as { error?: string }).error
            : response.body;
          answers.push(`${label} → ${response.statusCode} ${error}`);
          expected.push(`${label} → 403 forbidden`);
        }
      }
      expect(
        (await t.app.inject({ method, url, ...(schema && { payload: {} }) })).statusCode,
        `${method} ${url} signed out`,
      ).toBe(401);
    }
    expect(answers).toEqual(expected);
  });
});

describe("another agent's conversation", () => {
  it('is 404 for an agent on every route that reaches a conversation', async () => {
    const db = t.store.db;
    const owner = await signIn(t.store, 'agent');
    const intruder = await credentialsOf('agent');
    const queue = await buildQueue(db, []);
    const conversation = await conversationInFlow(db, (await buildNumber(db)).id);
    await db
      .update(conversations)
      .set({ state: 'active', agentId: owner.user.id })
      .where(eq(conversations.id, conversation.id));
    const id = conversation.id;
    const routes: [InjectOptions['method'], string, Record<string, unknown>?][] = [
      ['GET', `/api/conversations/${id}`],
      ['POST', `/api/conversations/${id}/messages`, { body: 'Hello from someone else' }],
      ['POST', `/api/conversations/${id}/end`],
      ['POST', `/api/conversations/${id}/transfer`, { toQueueId: queue.id }],
      ['POST', `/api/conversations/${id}/read`],
      ['GET', `/api/contacts/${conversation.contactId}`],
      ['GET', `/api/conversations/${id}/queue-position`],
      ['PATCH', `/api/contacts/${conversation.contactId}`, { notes: 'Written by someone else' }],
    ];
    for (const headers of [intruder.cookie, intruder.token]) {
      for (const [method, url, payload] of routes) {
        const response = await t.app.inject({
          method,
          url,
          headers,
          ...(payload && { payload }),
        });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
        expect(response.json(), `${method} ${url}`).toMatchObject({ error: 'not_found' });
      }
    }
    // Nothing happened to it, and its own agent reaches it by the same routes.
    expect(await conversationRow(db, id)).toMatchObject({
      state: 'active',
      agentId: owner.user.id,
    });
    for (const [method, url] of [routes[0]!, routes[4]!, routes[5]!, routes[6]!]) {
      const response = await t.app.inject({ method, url, headers: owner.headers });
      expect(response.statusCode, `${method} ${url} by its agent`).toBeLessThan(300);
    }
  });

  it("stays 404 while the agent talks to the same customer on another number; the customer's closed ones are readable", async () => {
    const db = t.store.db;
    const colleague = await signIn(t.store, 'agent');
    const me = await signIn(t.store, 'agent');
    const customer = `+1555${String(Date.now()).slice(-7)}`;
    const theirs = await conversationInFlow(db, (await buildNumber(db)).id, customer);
    const mine = await conversationInFlow(db, (await buildNumber(db)).id, customer);
    const past = await conversationInFlow(db, (await buildNumber(db)).id, customer);
    await db
      .update(conversations)
      .set({ state: 'active', agentId: colleague.user.id })
      .where(eq(conversations.id, theirs.id));
    await db
      .update(conversations)
      .set({ state: 'active', agentId: me.user.id })
      .where(eq(conversations.id, mine.id));
    await db
      .update(conversations)
      .set({ state: 'closed', closedAt: new Date(), agentId: colleague.user.id })
      .where(eq(conversations.id, past.id));
    const read = (id: string, path = '') =>
      t.app.inject({ url: `/api/conversations/${id}${path}`, headers: me.headers });
    expect((await read(theirs.id)).statusCode).toBe(404);
    const note = await t.app.inject({
      method: 'POST',
      url: `/api/conversations/${theirs.id}/notes`,
      headers: me.headers,
      payload: { body: 'Not mine to write on' },
    });
    expect(note.statusCode).toBe(404);
    expect((await read(past.id)).statusCode).toBe(200);
    expect((await read(mine.id)).statusCode).toBe(200);
  });
});
