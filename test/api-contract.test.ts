import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiErrorSchema } from '../src/api-schemas.js';
import { ERROR_STATUS } from '../src/errors.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

let t: TestApp;
let admin: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  admin = await signIn(t.store, 'admin');
});
afterAll(() => t?.close());

describe('the API contract', () => {
  it('declares, for every documented route, what it answers and the shape of its errors', async () => {
    const doc = (await t.app.inject('/openapi.json')).json() as {
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, unknown> };
    };
    const undeclared: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const responses = operation.responses ?? {};
        const success = Object.keys(responses).filter((status) => status.startsWith('2'));
        const described = success.every(
          (status) =>
            status === '204' ||
            Object.values(responses[status]?.content ?? {}).some((media) => media.schema),
        );
        const errors = responses['4XX']?.content?.['application/json']?.schema;
        if (success.length === 0 || !described || !errors) {
          undeclared.push(`${method.toUpperCase()} ${path}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
    expect(Object.keys(doc.paths).length).toBeGreaterThan(40);
    // Named shapes, for the web app's generated types.
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['ApiError', 'Account', 'Number', 'Transcript', 'Offer']),
    );
  });

  it('labels each error with the code of its status, in the documented shape', async () => {
    const refusals = [
      // Fastify's own refusals, before any route code runs.
      t.app.inject({
        method: 'POST',
        url: '/api/admin/accounts',
        headers: { ...admin.headers, 'content-type': 'application/json' },
        payload: '{"name":',
      }),
      t.app.inject({
        method: 'POST',
        url: '/api/admin/accounts',
        headers: { ...admin.headers, 'content-type': 'application/xml' },
        payload: '<account/>',
      }),
      t.app.inject({
        method: 'POST',
        url: '/api/admin/accounts',
        headers: { ...admin.headers, 'content-type': 'application/json' },
        payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
      }),
      // Parley's own.
      t.app.inject({ method: 'GET', url: '/api/admin/accounts' }),
      t.app.inject({
        method: 'GET',
        url: '/api/admin/flows/00000000-0000-4000-8000-000000000000',
        headers: admin.headers,
      }),
      t.app.inject({ method: 'GET', url: '/api/admin/flows/nope', headers: admin.headers }),
      // A path no route has, and a path parameter longer than the router takes (414, once
      // labelled bad_request).
      t.app.inject({ method: 'GET', url: '/api/nothing', headers: admin.headers }),
      t.app.inject({
        method: 'GET',
        url: `/api/admin/flows/${'x'.repeat(200)}`,
        headers: admin.headers,
      }),
    ];
    const answers = await Promise.all(refusals);
    expect(answers.map((answer) => answer.statusCode)).toEqual([
      400, 415, 413, 401, 404, 400, 404, 414,
    ]);
    for (const answer of answers) {
      const body = apiErrorSchema.parse(answer.json());
      expect(ERROR_STATUS[body.error as keyof typeof ERROR_STATUS]).toBe(answer.statusCode);
      expect(body.message).not.toBe('');
    }
  });
});
