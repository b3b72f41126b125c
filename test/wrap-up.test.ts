import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { events, users } from '../src/db/schema.js';
import { closeConversation } from '../src/flows/closing.js';
import { queueConversation } from '../src/routing/index.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  agentsWithWrongLoad,
  buildNumber,
  buildQueue,
  conversationInFlow,
  conversationRow,
  pendingOffer,
} from './helpers/factories.js';

let t: TestApp;
let agent: SignedIn;
let admin: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  agent = await signIn(t.store, 'agent', 'Wendy');
  admin = await signIn(t.store, 'admin');
  await t.store.db.update(users).set({ capacitySms: 50, presence: 'available' });
});
afterAll(() => t?.close());
afterEach(async () => expect(await agentsWithWrongLoad(t.store.db)).toEqual([]));

const call = (method: 'GET' | 'POST' | 'PATCH', url: string, who: SignedIn, payload?: object) =>
  t.app.inject({
    method,
    url,
    headers: who.headers,
    ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
  });

const BILLING_CODES = [
  { code: 'refund', label: 'Refund issued' },
  { code: 'callback', label: 'Call back later' },
];

/** A conversation of a new queue (with these wrap-up settings), active with the agent. */
async function activeIn(queue: { dispositions?: typeof BILLING_CODES; required?: boolean }) {
  const db = t.store.db;
  const [row] = await db.select().from(users).where(eq(users.id, agent.user.id));
  const created = await buildQueue(db, [row!], {
    name: `Billing ${Math.random().toString(36).slice(2, 6)}`,
    dispositions: queue.dispositions ?? [],
    dispositionRequired: queue.required ?? false,
  });
  const number = await buildNumber(db);
  const conversation = await conversationInFlow(db, number.id);
  await queueConversation(db, conversation.id, created.id);
  const offer = await pendingOffer(db, conversation.id);
  expect((await call('POST', `/api/offers/${offer!.id}/accept`, agent)).statusCode).toBe(200);
  return { queue: created, conversationId: conversation.id };
}

async function closedEvents(conversationId: string) {
  return t.store.db
    .select({ payload: events.payload })
    .from(events)
    .where(and(eq(events.conversationId, conversationId), eq(events.type, 'conversation.closed')));
}

describe('ending with a disposition', () => {
  it('refuses to end without one where the queue requires it, and leaves it open', async () => {
    const { queue, conversationId } = await activeIn({
      dispositions: BILLING_CODES,
      required: true,
    });
    const refused = await call('POST', `/api/conversations/${conversationId}/end`, agent, {
      summary: 'Sorted out',
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toEqual({
      error: 'bad_request',
      field: 'disposition',
      message: `Pick a disposition to end this conversation (queue ${queue.name} requires one): refund (Refund issued), callback (Call back later)`,
    });
    // Without a body at all, the same.
    const bare = await call('POST', `/api/conversations/${conversationId}/end`, agent);
    expect(bare.statusCode).toBe(400);
    expect(bare.json()).toMatchObject({ field: 'disposition' });
    const row = await conversationRow(t.store.db, conversationId);
    expect(row).toMatchObject({ state: 'active', agentId: agent.user.id, disposition: null });
    expect(await closedEvents(conversationId)).toEqual([]);
  });

  it('refuses a code the queue does not have, naming disposition and the codes', async () => {
    const { conversationId } = await activeIn({ dispositions: BILLING_CODES });
    const refused = await call('POST', `/api/conversations/${conversationId}/end`, agent, {
      disposition: 'escalated',
    });
    expect(refused.statusCode).toBe(400);
    const body = refused.json() as { field: string; message: string };
    expect(body.field).toBe('disposition');
    expect(body.message).toContain('escalated');
    expect(body.message).toContain('refund (Refund issued), callback (Call back later)');
    expect((await conversationRow(t.store.db, conversationId)).state).toBe('active');

    const tooLong = await call('POST', `/api/conversations/${conversationId}/end`, agent, {
      disposition: 'refund',
      summary: 'x'.repeat(2001),
    });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json()).toMatchObject({ field: 'summary' });
  });

  it('refuses any code where the queue has none, and ends without one', async () => {
    const { conversationId } = await activeIn({});
    const refused = await call('POST', `/api/conversations/${conversationId}/end`, agent, {
      disposition: 'refund',
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ field: 'disposition' });
    expect((await call('POST', `/api/conversations/${conversationId}/end`, agent)).statusCode).toBe(
      204,
    );
    const [closed] = await closedEvents(conversationId);
    expect(closed!.payload).toEqual({
      reason: 'ended',
      byUserId: agent.user.id,
      disposition: null,
    });
  });

  it('stores the disposition and summary, in the transcript, the closed event and the report', async () => {
    const { conversationId, queue } = await activeIn({
      dispositions: BILLING_CODES,
      required: true,
    });
    const before = (await call('GET', `/api/conversations/${conversationId}`, agent)).json();
    // What the End dialog offers, without asking anything else.
    expect(before.conversation).toMatchObject({
      dispositions: BILLING_CODES,
      dispositionRequired: true,
      disposition: null,
      wrapUpSummary: null,
    });

    const ended = await call('POST', `/api/conversations/${conversationId}/end`, agent, {
      disposition: ' callback ',
      summary: '  Customer will call after payday.  ',
    });
    expect(ended.statusCode).toBe(204);
    expect(await conversationRow(t.store.db, conversationId)).toMatchObject({
      state: 'closed',
      disposition: 'callback',
      wrapUpSummary: 'Customer will call after payday.',
    });
    const [closed] = await closedEvents(conversationId);
    expect(closed!.payload).toEqual({
      reason: 'ended',
      byUserId: agent.user.id,
      disposition: 'callback',
    });
    const after = (await call('GET', `/api/conversations/${conversationId}`, agent)).json();
    expect(after.conversation).toMatchObject({
      disposition: { code: 'callback', label: 'Call back later' },
      wrapUpSummary: 'Customer will call after payday.',
    });
    expect(after.activity).toEqual([
      expect.objectContaining({
        kind: 'closed',
        reason: 'ended',
        actorId: agent.user.id,
        actorName: 'Wendy',
        disposition: { code: 'callback', label: 'Call back later' },
      }),
    ]);
    const period = `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;
    const report = (await call('GET', `/api/reports?${period}&queueId=${queue.id}`, admin)).json();
    expect(report.dispositions).toEqual([{ code: 'callback', label: 'Call back later', count: 1 }]);
    // Ended once: the second attempt finds it closed.
    const again = await call('POST', `/api/conversations/${conversationId}/end`, agent, {
      disposition: 'refund',
    });
    expect(again.statusCode).toBe(409);
  });

  it('ends a conversation once when two ends race, keeping the first wrap-up', async () => {
    const { conversationId } = await activeIn({ dispositions: BILLING_CODES, required: true });
    const supervisor = await signIn(t.store, 'supervisor');
    const [mine, theirs] = await Promise.all([
      call('POST', `/api/conversations/${conversationId}/end`, agent, { disposition: 'refund' }),
      call('POST', `/api/conversations/${conversationId}/end`, supervisor, {
        disposition: 'callback',
      }),
    ]);
    expect([mine.statusCode, theirs.statusCode].sort()).toEqual([204, 409]);
    const winner = mine.statusCode === 204 ? 'refund' : 'callback';
    expect((await conversationRow(t.store.db, conversationId)).disposition).toBe(winner);
    expect(await closedEvents(conversationId)).toHaveLength(1);
  });

  it('closes automatically without a disposition, even where the queue requires one', async () => {
    const { conversationId } = await activeIn({ dispositions: BILLING_CODES, required: true });
    await t.store.db.transaction((tx) =>
      closeConversation(tx, conversationId, { reason: 'inactivity' }),
    );
    expect(await conversationRow(t.store.db, conversationId)).toMatchObject({
      state: 'closed',
      closeReason: 'inactivity',
      disposition: null,
    });
    const [closed] = await closedEvents(conversationId);
    expect(closed!.payload).toEqual({ reason: 'inactivity', byUserId: null, disposition: null });
  });
});

describe("a queue's dispositions in the admin API", () => {
  it('keeps the codes and the switch, trimmed, and returns them', async () => {
    const created = await call('POST', '/api/admin/queues', admin, {
      name: 'Wrap-up queue',
      dispositions: [
        { code: ' refund ', label: ' Refund issued ' },
        { code: 'call_back-2', label: 'Call back' },
      ],
      dispositionRequired: true,
    });
    expect(created.statusCode).toBe(201);
    const queue = created.json();
    expect(queue).toMatchObject({
      dispositions: [
        { code: 'refund', label: 'Refund issued' },
        { code: 'call_back-2', label: 'Call back' },
      ],
      dispositionRequired: true,
    });
    const listed = (await call('GET', '/api/admin/queues', admin)).json() as { id: string }[];
    expect(listed.find((q) => q.id === queue.id)).toMatchObject({ dispositionRequired: true });

    const relaxed = await call('PATCH', `/api/admin/queues/${queue.id}`, admin, {
      dispositionRequired: false,
      dispositions: [],
    });
    expect(relaxed.statusCode).toBe(200);
    expect(relaxed.json()).toMatchObject({ dispositions: [], dispositionRequired: false });
  });

  it('answers 400 naming the field for bad codes, repeated codes and a requirement without codes', async () => {
    const cases: [object, string][] = [
      [
        {
          dispositions: [
            { code: 'ok', label: 'Fine' },
            { code: 'Bad Code', label: 'x' },
          ],
        },
        'dispositions.1.code',
      ],
      [{ dispositions: [{ code: '   ', label: 'Empty' }] }, 'dispositions.0.code'],
      [{ dispositions: [{ code: 'x'.repeat(41), label: 'Long' }] }, 'dispositions.0.code'],
      [{ dispositions: [{ code: 'ok', label: 'l'.repeat(81) }] }, 'dispositions.0.label'],
      [{ dispositions: [{ code: 'ok', label: '  ' }] }, 'dispositions.0.label'],
      [
        {
          dispositions: [
            { code: 'ok', label: 'One' },
            { code: 'other', label: 'Two' },
            { code: 'ok', label: 'Three' },
          ],
        },
        'dispositions.2.code',
      ],
      [{ dispositionRequired: true }, 'dispositionRequired'],
      [{ dispositions: [], dispositionRequired: true }, 'dispositionRequired'],
    ];
    for (const [fields, field] of cases) {
      const response = await call('POST', '/api/admin/queues', admin, { name: 'Bad', ...fields });
      expect(response.statusCode, JSON.stringify(fields)).toBe(400);
      expect(response.json(), JSON.stringify(fields)).toMatchObject({
        error: 'bad_request',
        field,
      });
    }

    // A change of one field is checked against the other as stored.
    const created = (
      await call('POST', '/api/admin/queues', admin, {
        name: 'Required later',
        dispositions: [{ code: 'done', label: 'Done' }],
        dispositionRequired: true,
      })
    ).json();
    const emptied = await call('PATCH', `/api/admin/queues/${created.id}`, admin, {
      dispositions: [],
    });
    expect(emptied.statusCode).toBe(400);
    expect(emptied.json()).toMatchObject({ field: 'dispositionRequired' });
    const kept = (await call('GET', `/api/admin/queues/${created.id}`, admin)).json();
    expect(kept.dispositions).toEqual([{ code: 'done', label: 'Done' }]);
    expect((await call('PATCH', `/api/admin/queues/${created.id}`, agent, {})).statusCode).toBe(
      403,
    );
  });
});
