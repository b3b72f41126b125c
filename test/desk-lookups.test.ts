/** What the desk looks up to act: transfer targets (the directory) and numbers to send from. */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numbers, users } from '../src/db/schema.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import { buildFlow, buildNumber, buildQueue, phoneNumber } from './helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t?.close());

const get = (url: string, who?: SignedIn) =>
  t.app.inject({ url, ...(who && { headers: who.headers }) });

describe('the directory', () => {
  it('lists users not disabled and every queue, by name, to any signed-in user', async () => {
    const db = t.store.db;
    const zoe = await signIn(t.store, 'agent', 'Zoe');
    const bea = await signIn(t.store, 'supervisor', 'Bea');
    const gone = await signIn(t.store, 'agent', 'Gone');
    await db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, gone.user.id));
    await db.update(users).set({ presence: 'available' }).where(eq(users.id, zoe.user.id));
    const support = await buildQueue(db, [zoe.user], { name: 'Support' });
    const billing = await buildQueue(db, [], { name: 'Billing' });

    const response = await get('/api/directory', zoe);
    expect(response.statusCode).toBe(200);
    const body = response.json() as { agents: { id: string }[]; queues: { id: string }[] };
    // Only what this test made, in the order the API gave.
    const made = [zoe, bea, gone].map((u) => u.user.id).concat(support.id, billing.id);
    expect({
      agents: body.agents.filter((a) => made.includes(a.id)),
      queues: body.queues.filter((q) => made.includes(q.id)),
    }).toEqual({
      agents: [
        { id: bea.user.id, name: 'Bea', role: 'supervisor', presence: 'offline' },
        { id: zoe.user.id, name: 'Zoe', role: 'agent', presence: 'available' },
      ],
      queues: [
        { id: billing.id, name: 'Billing' },
        { id: support.id, name: 'Support' },
      ],
    });
    expect((await get('/api/directory')).statusCode).toBe(401);
  });
});

interface Sender {
  id: string;
  address: string;
  name: string;
  kind: string;
  default: boolean;
}

describe('numbers to send from', () => {
  it("lists my queues' numbers first, the first as default, then every other number", async () => {
    const db = t.store.db;
    const me = await signIn(t.store, 'agent');
    const stranger = await signIn(t.store, 'agent');
    const supervisor = await signIn(t.store, 'supervisor');
    const mine = await buildQueue(db, [me.user]);
    const theirs = await buildQueue(db, []);
    const myFlow = await buildFlow(db, { queueId: mine.id });
    const theirFlow = await buildFlow(db, { queueId: theirs.id });
    // Created in this order, a second apart, so that "oldest first" is unambiguous.
    const unrouted = await buildNumber(db, { name: 'Main' });
    const ofMine = await buildNumber(db, { flowId: myFlow.id, name: 'Support' });
    const ofTheirs = await buildNumber(db, { flowId: theirFlow.id });
    const alsoMine = await buildNumber(db, {
      address: `whatsapp:${phoneNumber()}`,
      kind: 'whatsapp',
      flowId: myFlow.id,
    });
    for (const [index, number] of [unrouted, ofMine, ofTheirs, alsoMine].entries()) {
      await db
        .update(numbers)
        .set({ createdAt: sql`now() + ${`${index} seconds`}::interval` })
        .where(eq(numbers.id, number.id));
    }

    const response = await get('/api/numbers/senders', me);
    expect(response.statusCode).toBe(200);
    const senders = response.json() as Sender[];
    expect(senders.map((s) => s.id)).toEqual([ofMine.id, alsoMine.id, unrouted.id, ofTheirs.id]);
    expect(senders.map((s) => s.default)).toEqual([true, false, false, false]);
    expect(senders[0]).toEqual({
      id: ofMine.id,
      address: ofMine.address,
      name: 'Support',
      kind: 'long-code',
      defaultStrategy: 'on-reply',
      defaultCountry: 'US',
      default: true,
    });
    expect(senders[1]).toMatchObject({ kind: 'whatsapp' });

    // Outside any queue, or a supervisor: every number, the oldest as the default.
    for (const who of [stranger, supervisor]) {
      const all = (await get('/api/numbers/senders', who)).json() as Sender[];
      expect(all.map((s) => s.id)).toEqual([unrouted.id, ofMine.id, ofTheirs.id, alsoMine.id]);
      expect(all.filter((s) => s.default).map((s) => s.id)).toEqual([unrouted.id]);
    }
    expect((await get('/api/numbers/senders')).statusCode).toBe(401);
  });

  it('marks as default the number an origination naming none is sent from', async () => {
    const db = t.store.db;
    const me = await signIn(t.store, 'agent');
    const flow = await buildFlow(db, { queueId: (await buildQueue(db, [me.user])).id });
    await buildNumber(db);
    const routed = await buildNumber(db, { flowId: flow.id });
    const senders = (await get('/api/numbers/senders', me)).json() as Sender[];
    const sent = await t.app.inject({
      method: 'POST',
      url: '/api/originations',
      headers: me.headers,
      payload: { to: phoneNumber(), body: 'Hello', strategy: 'on-reply' },
    });
    expect(sent.statusCode).toBe(202);
    const { message } = sent.json() as { message: { numberId: string } };
    expect(senders.find((s) => s.default)?.id).toBe(routed.id);
    expect(message.numberId).toBe(routed.id);
  });
});
