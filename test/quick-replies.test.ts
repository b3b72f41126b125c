import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queues } from '../src/db/schema.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import { buildQueue } from './helpers/factories.js';

let t: TestApp;
let admin: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  admin = await signIn(t.store, 'admin');
});
afterAll(() => t?.close());

const call = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  who: SignedIn,
  payload?: Record<string, unknown>,
) => t.app.inject({ method, url, headers: who.headers, ...(payload !== undefined && { payload }) });

interface QuickReply {
  id: string;
  title: string;
  body: string;
  queueId: string | null;
  createdAt?: string;
}

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

describe('admins keep quick replies', () => {
  it('adds, lists, changes and deletes one', async () => {
    const queue = await buildQueue(t.store.db, []);
    const created = await call('POST', '/api/admin/quick-replies', admin, {
      title: 'Hours',
      body: 'We are open 9 to 5.',
    });
    expect(created.statusCode).toBe(201);
    const row = created.json() as QuickReply;
    expect(row).toMatchObject({ title: 'Hours', body: 'We are open 9 to 5.', queueId: null });
    expect(new Date(row.createdAt!).toISOString()).toBe(row.createdAt);

    const listed = (await call('GET', '/api/admin/quick-replies', admin)).json() as QuickReply[];
    expect(listed).toContainEqual(row);

    const patched = await call('PATCH', `/api/admin/quick-replies/${row.id}`, admin, {
      body: 'We are open 9 to 6.',
      queueId: queue.id,
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toEqual({ ...row, body: 'We are open 9 to 6.', queueId: queue.id });
    // Back to everyone's.
    const unqueued = await call('PATCH', `/api/admin/quick-replies/${row.id}`, admin, {
      queueId: null,
    });
    expect(unqueued.json()).toMatchObject({ title: 'Hours', queueId: null });

    expect((await call('DELETE', `/api/admin/quick-replies/${row.id}`, admin)).statusCode).toBe(
      204,
    );
    const after = (await call('GET', '/api/admin/quick-replies', admin)).json() as QuickReply[];
    expect(after.map((r) => r.id)).not.toContain(row.id);
    expect((await call('DELETE', `/api/admin/quick-replies/${row.id}`, admin)).statusCode).toBe(
      404,
    );
  });

  it('answers 404 for an unknown id and 400 naming the field for bad input', async () => {
    const patchUnknown = await call('PATCH', `/api/admin/quick-replies/${UNKNOWN}`, admin, {
      title: 'x',
    });
    expect(patchUnknown.statusCode).toBe(404);
    expect((await call('DELETE', `/api/admin/quick-replies/${UNKNOWN}`, admin)).statusCode).toBe(
      404,
    );

    const unknownQueue = await call('POST', '/api/admin/quick-replies', admin, {
      title: 'Lost',
      body: 'x',
      queueId: UNKNOWN,
    });
    expect(unknownQueue.statusCode).toBe(400);
    expect(unknownQueue.json()).toMatchObject({ error: 'bad_request', field: 'queueId' });

    const row = (
      await call('POST', '/api/admin/quick-replies', admin, { title: 'Ok', body: 'Fine' })
    ).json() as QuickReply;
    const patchQueue = await call('PATCH', `/api/admin/quick-replies/${row.id}`, admin, {
      queueId: UNKNOWN,
    });
    expect(patchQueue.statusCode).toBe(400);
    expect(patchQueue.json()).toMatchObject({ field: 'queueId' });

    for (const [payload, field] of [
      [{ title: '', body: 'x' }, 'title'],
      [{ title: 'x'.repeat(101), body: 'x' }, 'title'],
      [{ title: 'x', body: '' }, 'body'],
      [{ title: 'x', body: 'x'.repeat(1601) }, 'body'],
      [{ title: 'x', body: 'x', queueId: 'support' }, 'queueId'],
    ] as const) {
      const refused = await call('POST', '/api/admin/quick-replies', admin, { ...payload });
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ field });
    }
  });
});

describe('who sees which quick replies', () => {
  it('shows everyone’s and the user’s queues’ to agents, all to supervisors and admins', async () => {
    const member = await signIn(t.store, 'agent');
    const loner = await signIn(t.store, 'agent');
    const supervisor = await signIn(t.store, 'supervisor');
    const sales = await buildQueue(t.store.db, [member.user]);
    const billing = await buildQueue(t.store.db, []);
    const add = async (title: string, queueId: string | null) =>
      (
        await call('POST', '/api/admin/quick-replies', admin, {
          title,
          body: `${title} text`,
          queueId,
        })
      ).json() as QuickReply;
    const everyone = await add('B everyone', null);
    const ofSales = await add('A sales', sales.id);
    const ofBilling = await add('C billing', billing.id);
    const ids = [everyone.id, ofSales.id, ofBilling.id];
    const visible = async (who: SignedIn) => {
      const response = await call('GET', '/api/quick-replies', who);
      expect(response.statusCode).toBe(200);
      return (response.json() as QuickReply[]).filter((r) => ids.includes(r.id));
    };

    // By title, and without the admin's bookkeeping.
    expect(await visible(member)).toEqual([
      { id: ofSales.id, title: 'A sales', body: 'A sales text', queueId: sales.id },
      { id: everyone.id, title: 'B everyone', body: 'B everyone text', queueId: null },
    ]);
    expect((await visible(loner)).map((r) => r.id)).toEqual([everyone.id]);
    expect((await visible(supervisor)).map((r) => r.id)).toEqual([
      ofSales.id,
      everyone.id,
      ofBilling.id,
    ]);
    expect((await visible(admin)).map((r) => r.id)).toEqual([
      ofSales.id,
      everyone.id,
      ofBilling.id,
    ]);
    expect((await t.app.inject({ url: '/api/quick-replies' })).statusCode).toBe(401);
  });

  it('deletes a queue’s quick replies with the queue', async () => {
    const queue = await buildQueue(t.store.db, []);
    const row = (
      await call('POST', '/api/admin/quick-replies', admin, {
        title: 'Gone soon',
        body: 'x',
        queueId: queue.id,
      })
    ).json() as QuickReply;
    await t.store.db.delete(queues).where(eq(queues.id, queue.id));
    const listed = (await call('GET', '/api/admin/quick-replies', admin)).json() as QuickReply[];
    expect(listed.map((r) => r.id)).not.toContain(row.id);
  });
});
