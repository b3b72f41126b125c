/**
 * Who may start conversations from which number, with which strategy by default, from which
 * number by default (the queue's default sender), and origination task templates.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { affinities, queues } from '../src/db/schema.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import { buildNumber, buildQueue, hex, phoneNumber, shortCodeNumber } from './helpers/factories.js';

let t: TestApp;
let admin: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  admin = await signIn(t.store, 'admin');
});
afterAll(() => t?.close());

async function call(who: SignedIn, method: string, url: string, payload?: unknown) {
  const response = await t.app.inject({
    method: method as 'GET',
    url,
    headers: who.headers,
    ...(payload !== undefined && { payload: payload as object }),
  });
  const body = (response.body ? response.json() : {}) as Record<string, unknown>;
  return { status: response.statusCode, body };
}

const originate = (who: SignedIn, payload: Record<string, unknown>) =>
  call(who, 'POST', '/api/originations', { to: phoneNumber(), ...payload });

interface Sender {
  id: string;
  defaultStrategy: string;
  default: boolean;
}

describe('who may originate from a number', () => {
  it('lets only admins start conversations from a short code unless an admin says otherwise', async () => {
    const agent = await signIn(t.store, 'agent');
    const shortCode = await buildNumber(t.store.db, {
      address: shortCodeNumber(),
      kind: 'short-code',
    });
    const refused = await originate(agent, { numberId: shortCode.id, body: 'Hello' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ field: 'numberId' });
    expect(refused.body.message).toBe(
      `a user with the role agent may not start conversations from number ${shortCode.address}; its originationRoles are admin`,
    );
    expect((await originate(admin, { numberId: shortCode.id, body: 'Hello' })).status).toBe(202);

    const opened = await call(admin, 'PATCH', `/api/admin/numbers/${shortCode.id}`, {
      originationRoles: ['agent', 'admin'],
    });
    expect(opened.body).toMatchObject({
      originationRoles: ['agent', 'admin'],
      effectiveOriginationRoles: ['agent', 'admin'],
    });
    expect((await originate(agent, { numberId: shortCode.id, body: 'Hello' })).status).toBe(202);
  });

  it('refuses a role the number does not list, and everyone when origination is off', async () => {
    const agent = await signIn(t.store, 'agent');
    const supervisor = await signIn(t.store, 'supervisor');
    const number = await buildNumber(t.store.db, { originationRoles: ['supervisor', 'admin'] });
    const refused = await originate(agent, { numberId: number.id, body: 'Hi' });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/role agent .* originationRoles are supervisor, admin/);
    expect((await originate(supervisor, { numberId: number.id, body: 'Hi' })).status).toBe(202);

    await call(admin, 'PATCH', `/api/admin/numbers/${number.id}`, { originationAllowed: false });
    const off = await originate(admin, { numberId: number.id, body: 'Hi' });
    expect(off.status).toBe(403);
    expect(off.body).toMatchObject({
      field: 'numberId',
      message: `starting conversations from number ${number.address} is turned off (originationAllowed)`,
    });
  });

  it('lists to each user only the numbers their role may originate from', async () => {
    const agent = await signIn(t.store, 'agent');
    const open = await buildNumber(t.store.db);
    const shortCode = await buildNumber(t.store.db, {
      address: shortCodeNumber(),
      kind: 'short-code',
    });
    const off = await buildNumber(t.store.db, { originationAllowed: false });
    const ids = async (who: SignedIn) =>
      (
        (
          await t.app.inject({ url: '/api/numbers/senders', headers: who.headers })
        ).json() as Sender[]
      ).map((s) => s.id);
    const agentSees = await ids(agent);
    expect(agentSees).toContain(open.id);
    expect(agentSees).not.toContain(shortCode.id);
    expect(agentSees).not.toContain(off.id);
    const adminSees = await ids(admin);
    expect(adminSees).toContain(shortCode.id);
    expect(adminSees).not.toContain(off.id);
  });
});

describe('defaults', () => {
  it("takes the number's default strategy when the origination names none", async () => {
    const agent = await signIn(t.store, 'agent');
    const now = await buildNumber(t.store.db, { defaultStrategy: 'assign-now' });
    const later = await buildNumber(t.store.db);
    const opened = await originate(agent, { numberId: now.id, body: 'Opened' });
    expect(opened.status).toBe(202);
    expect(opened.body.conversationId).toEqual(expect.any(String));
    const to = phoneNumber();
    const sent = await originate(agent, { numberId: later.id, body: 'Later', to });
    expect(sent.body.conversationId).toBeNull();
    const [affinity] = await t.store.db
      .select()
      .from(affinities)
      .where(eq(affinities.customerAddress, to));
    expect(affinity).toMatchObject({ agentId: agent.user.id, numberId: later.id });
    // A strategy named wins over the default.
    const named = await originate(agent, { numberId: now.id, body: 'Named', strategy: 'on-reply' });
    expect(named.body.conversationId).toBeNull();
  });

  it("sends from the queue's default sender when the origination names no number", async () => {
    const agent = await signIn(t.store, 'agent');
    const queue = await buildQueue(t.store.db, [agent.user]);
    const sender = await buildNumber(t.store.db, { defaultStrategy: 'assign-now' });
    const saved = await call(admin, 'PATCH', `/api/admin/queues/${queue.id}`, {
      defaultSenderNumberId: sender.id,
    });
    expect(saved.body.defaultSenderNumberId).toBe(sender.id);

    const senders = (
      await t.app.inject({ url: '/api/numbers/senders', headers: agent.headers })
    ).json() as Sender[];
    expect(senders[0]).toMatchObject({
      id: sender.id,
      default: true,
      defaultStrategy: 'assign-now',
    });
    const sent = await originate(agent, { body: 'From the default' });
    expect(sent.status).toBe(202);
    expect(sent.body.message).toMatchObject({ numberId: sender.id });
    expect(sent.body.conversationId).toEqual(expect.any(String));
  });

  it('skips a default sender the agent may not originate from', async () => {
    const agent = await signIn(t.store, 'agent');
    const shortCode = await buildNumber(t.store.db, {
      address: shortCodeNumber(),
      kind: 'short-code',
    });
    await buildQueue(t.store.db, [agent.user], { defaultSenderNumberId: shortCode.id });
    const sent = await originate(agent, { body: 'Hello' });
    expect(sent.status).toBe(202);
    expect(sent.body.message).not.toMatchObject({ numberId: shortCode.id });
  });
});

describe('admin validation', () => {
  it('answers 400 naming the field for bad origination settings', async () => {
    const number = await buildNumber(t.store.db);
    const badRole = await call(admin, 'PATCH', `/api/admin/numbers/${number.id}`, {
      originationRoles: ['boss'],
    });
    expect(badRole.status).toBe(400);
    expect(String(badRole.body.field)).toMatch(/^originationRoles/);
    const badStrategy = await call(admin, 'PATCH', `/api/admin/numbers/${number.id}`, {
      defaultStrategy: 'later',
    });
    expect(badStrategy).toMatchObject({
      status: 400,
      body: {
        field: 'defaultStrategy',
        message: expect.stringContaining('assign-now or on-reply'),
      },
    });

    const queue = await buildQueue(t.store.db, []);
    const missing = await call(admin, 'PATCH', `/api/admin/queues/${queue.id}`, {
      defaultSenderNumberId: '00000000-0000-4000-8000-000000000000',
    });
    expect(missing).toMatchObject({ status: 400, body: { field: 'defaultSenderNumberId' } });
    const page = await buildNumber(t.store.db, {
      address: `messenger:${Date.now()}`,
      kind: 'messenger',
    });
    const onPage = await call(admin, 'PATCH', `/api/admin/queues/${queue.id}`, {
      defaultSenderNumberId: page.id,
    });
    expect(onPage).toMatchObject({ status: 400, body: { field: 'defaultSenderNumberId' } });
    expect(onPage.body.message).toMatch(/Messenger page/);
    const [row] = await t.store.db.select().from(queues).where(eq(queues.id, queue.id));
    expect(row?.defaultSenderNumberId).toBeNull();
  });

  it("shows each number's effective roles: the kind's default until set", async () => {
    // Made directly: adding through the API looks the number up on Twilio (number-setup.test.ts).
    const shortCode = await buildNumber(t.store.db, {
      address: shortCodeNumber(),
      kind: 'short-code',
    });
    const longCode = await buildNumber(t.store.db, { defaultStrategy: 'assign-now' });
    const listed = await call(admin, 'GET', '/api/admin/numbers');
    const shown = (id: string) =>
      (listed.body as unknown as { id: string }[]).find((number) => number.id === id);
    expect(shown(shortCode.id)).toMatchObject({
      kind: 'short-code',
      originationAllowed: true,
      originationRoles: null,
      effectiveOriginationRoles: ['admin'],
      defaultStrategy: 'on-reply',
    });
    expect(shown(longCode.id)).toMatchObject({
      effectiveOriginationRoles: ['admin', 'supervisor', 'agent'],
      defaultStrategy: 'assign-now',
    });
  });
});

describe('origination task templates', () => {
  const PATH = '/api/admin/origination-templates';

  it('are kept by admins only, with their placeholders', async () => {
    const agent = await signIn(t.store, 'agent');
    const number = await buildNumber(t.store.db);
    const name = `Order ready ${hex(3)}`;
    const created = await call(admin, 'POST', PATH, {
      name,
      numberId: number.id,
      strategy: 'on-reply',
      body: 'Hi {{firstName}}, order {{orderId}} is ready. {{agentName}}',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, variables: ['firstName', 'orderId'] });
    const id = String(created.body.id);
    expect((await call(agent, 'POST', PATH, { name: 'x' })).status).toBe(403);
    expect((await call(agent, 'GET', PATH)).status).toBe(403);

    const duplicate = await call(admin, 'POST', PATH, {
      name: name.toUpperCase(),
      numberId: number.id,
      strategy: 'on-reply',
      body: 'Hi',
    });
    expect(duplicate).toMatchObject({ status: 409, body: { field: 'name' } });
    const blank = await call(admin, 'POST', PATH, {
      name: 'Blank',
      numberId: number.id,
      strategy: 'on-reply',
      body: '  ',
    });
    expect(blank).toMatchObject({ status: 400, body: { field: 'body' } });

    const changed = await call(admin, 'PATCH', `${PATH}/${id}`, { strategy: 'assign-now' });
    expect(changed.body).toMatchObject({ strategy: 'assign-now', name });
    const listed = await call(admin, 'GET', PATH);
    expect((listed.body as unknown as { id: string }[]).map((r) => r.id)).toContain(id);
    expect((await call(admin, 'DELETE', `${PATH}/${id}`)).status).toBe(204);
    expect((await call(admin, 'DELETE', `${PATH}/${id}`)).status).toBe(404);
  });

  it('send their text with the values filled in, from their number with their strategy', async () => {
    const agent = await signIn(t.store, 'agent', `Ada-${hex(2)}`);
    const number = await buildNumber(t.store.db);
    const other = await buildNumber(t.store.db);
    const shortCode = await buildNumber(t.store.db, {
      address: shortCodeNumber(),
      kind: 'short-code',
    });
    const template = await call(admin, 'POST', PATH, {
      name: `Pickup ${hex(3)}`,
      numberId: number.id,
      strategy: 'assign-now',
      body: 'Hi {{firstName}}, order {{orderId}} is ready. – {{agentName}}',
    });
    const adminsOnly = await call(admin, 'POST', PATH, {
      name: `Campaign ${hex(3)}`,
      numberId: shortCode.id,
      strategy: 'on-reply',
      body: 'Sale today',
    });
    const mine = (await call(agent, 'GET', '/api/origination-templates')).body as unknown as {
      id: string;
    }[];
    expect(mine.map((r) => r.id)).toContain(template.body.id);
    expect(mine.map((r) => r.id)).not.toContain(adminsOnly.body.id);

    const sent = await originate(agent, {
      templateId: template.body.id,
      numberId: other.id,
      strategy: 'on-reply',
      variables: { firstName: 'Bo', orderId: 'A-17' },
    });
    expect(sent.status).toBe(202);
    expect(sent.body.message).toMatchObject({
      numberId: number.id,
      body: `Hi Bo, order A-17 is ready. – ${agent.user.name}`,
    });
    expect(sent.body.conversationId).toEqual(expect.any(String));
  });

  it('answer 400 naming the variable that has no value, or that the template lacks', async () => {
    const agent = await signIn(t.store, 'agent');
    const number = await buildNumber(t.store.db);
    const template = await call(admin, 'POST', PATH, {
      name: `Reminder ${hex(3)}`,
      numberId: number.id,
      strategy: 'on-reply',
      body: 'Order {{orderId}} ships {{day}}',
    });
    const missing = await originate(agent, {
      templateId: template.body.id,
      variables: { orderId: 'A-1', day: ' ' },
    });
    expect(missing).toMatchObject({
      status: 400,
      body: { field: 'variables.day', message: expect.stringContaining('{{day}}') },
    });
    const unknown = await originate(agent, {
      templateId: template.body.id,
      variables: { orderId: 'A-1', day: 'today', colour: 'red' },
    });
    expect(unknown).toMatchObject({ status: 400, body: { field: 'variables.colour' } });
    const withText = await originate(agent, {
      templateId: template.body.id,
      body: 'my own text',
      variables: { orderId: 'A-1', day: 'today' },
    });
    expect(withText).toMatchObject({ status: 400, body: { field: 'templateId' } });
    const noSuch = await originate(agent, {
      templateId: '00000000-0000-4000-8000-000000000000',
      variables: {},
    });
    expect(noSuch).toMatchObject({ status: 400, body: { field: 'templateId' } });
  });
});
