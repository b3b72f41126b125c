import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_CHANGED } from '../src/audit/audit-log.js';
import type { Role } from '../src/auth/users.js';
import { auditEntries } from '../src/db/schema.js';
import { openStore, queryRows } from '../src/db/store.js';
import { signIn } from './helpers/app.js';
import { hex, phoneNumber } from './helpers/factories.js';
import { runCli } from './helpers/processes.js';
import { eventually, Stack } from './helpers/stack.js';
import {
  createTestDatabase,
  dropTestDatabase,
  someoneWaitsForALock,
  TEST_DATABASE_URL,
} from './helpers/store.js';

interface Entry {
  id: number;
  at: string;
  actorId: string | null;
  actor: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  detail: Record<string, unknown> | null;
}

let stack: Stack;
let admin: Awaited<ReturnType<typeof person>>;
beforeAll(async () => {
  stack = await Stack.start();
  admin = await person('admin');
});
afterAll(() => stack?.close());

const USER_AGENT = 'audit-test/1.0';

async function person(role: Role) {
  const signed = await signIn(stack.parley.store, role, `${role}-${hex(3)}`);
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.parley.url}${path}`, {
      method,
      headers: {
        ...signed.headers,
        'user-agent': USER_AGENT,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: parse(text) };
  };
  return { ...signed, call };
}

function parse(text: string): never {
  try {
    return JSON.parse(text) as never;
  } catch {
    return undefined as never;
  }
}

function login(email: string, password: string) {
  return fetch(`${stack.parley.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: JSON.stringify({ email, password }),
  });
}

/** The entries of the action on the target, newest first, read through the API. */
async function entriesOf(action: string, targetId?: string): Promise<Entry[]> {
  const query = new URLSearchParams({ action, ...(targetId && { targetId }) });
  const response = await admin.call('GET', `/api/audit?${query}`);
  expect(response.status).toBe(200);
  return (response.json as { entries: Entry[] }).entries;
}

/** The one entry of the action on the target, checked to be the admin's, from this test. */
async function onlyEntry(action: string, targetId: string): Promise<Entry> {
  const entries = await entriesOf(action, targetId);
  expect(entries).toHaveLength(1);
  const entry = entries[0]!;
  expect(entry).toMatchObject({
    actorId: admin.user.id,
    actor: admin.user.email,
    ip: '127.0.0.1',
    userAgent: USER_AGENT,
    targetId,
  });
  return entry;
}

async function twilioNumber(): Promise<string> {
  const address = phoneNumber();
  await stack.control('POST', '/_emulator/numbers', {
    accountSid: stack.twilio.sid,
    phoneNumber: address,
  });
  return address;
}

describe('admin changes', () => {
  it('records an account created and its Auth Token rotated as changed, never the token', async () => {
    const twilio = (await stack.control('POST', '/_emulator/accounts', {})) as {
      sid: string;
      authToken: string;
    };
    const created = await admin.call('POST', '/api/admin/accounts', {
      name: 'Audited',
      accountSid: twilio.sid,
      authToken: twilio.authToken,
    });
    expect(created.status).toBe(201);
    const { id } = created.json as { id: string };
    const creation = await onlyEntry('account.created', id);
    expect(creation).toMatchObject({
      targetType: 'account',
      before: null,
      after: { name: 'Audited', accountSid: twilio.sid, authToken: SECRET_CHANGED },
    });

    const rotated = 'b'.repeat(32);
    await stack.control('POST', '/_emulator/accounts', { sid: twilio.sid, authToken: rotated });
    expect(
      (await admin.call('PATCH', `/api/admin/accounts/${id}`, { authToken: rotated })).status,
    ).toBe(200);
    const rotation = await onlyEntry('account.updated', id);
    expect(rotation.before).toEqual({ authToken: SECRET_CHANGED });
    expect(rotation.after).toEqual({ authToken: SECRET_CHANGED });

    // Nowhere in the trail, read or exported, is either token.
    const everything = JSON.stringify(await entriesOf('account.'));
    const exported = (await admin.call('GET', '/api/audit/export?format=jsonl')).text;
    for (const token of [twilio.authToken, rotated]) {
      expect(everything).not.toContain(token);
      expect(exported).not.toContain(token);
    }
    const stored = await stack.db.execute(sql`SELECT * FROM audit_entries`);
    expect(JSON.stringify(stored)).not.toContain(rotated);

    await admin.call('PATCH', `/api/admin/accounts/${id}`, { name: 'Audited too' });
    const [renamed] = await entriesOf('account.updated', id);
    expect(renamed).toMatchObject({ before: { name: 'Audited' }, after: { name: 'Audited too' } });
    // Changing nothing records nothing.
    await admin.call('PATCH', `/api/admin/accounts/${id}`, { name: 'Audited too' });
    expect(await entriesOf('account.updated', id)).toHaveLength(2);

    expect((await admin.call('DELETE', `/api/admin/accounts/${id}`)).status).toBe(204);
    const archived = await onlyEntry('account.archived', id);
    expect(archived.before).toEqual({ archivedAt: null });
    expect(archived.after?.archivedAt).toEqual(expect.any(String));
    // Archiving again changes nothing, and records nothing.
    await admin.call('DELETE', `/api/admin/accounts/${id}`);
    expect(await entriesOf('account.archived', id)).toHaveLength(1);
    await admin.call('POST', `/api/admin/accounts/${id}/restore`);
    expect((await onlyEntry('account.restored', id)).after).toEqual({ archivedAt: null });
  });

  it('records numbers added, changed and archived with the changed fields only', async () => {
    const created = await admin.call('POST', '/api/admin/numbers', {
      accountId: stack.account.id,
      address: await twilioNumber(),
      name: 'Front desk',
    });
    expect(created.status).toBe(201);
    const number = created.json as { id: string; address: string };
    const creation = await onlyEntry('number.created', number.id);
    expect(creation.after).toMatchObject({ address: number.address, name: 'Front desk' });

    await admin.call('PATCH', `/api/admin/numbers/${number.id}`, {
      name: 'Back desk',
      sendRate: 2,
      defaultStrategy: 'on-reply',
    });
    const update = await onlyEntry('number.updated', number.id);
    expect(update.before).toEqual({ name: 'Front desk', sendRate: null });
    expect(update.after).toEqual({ name: 'Back desk', sendRate: 2 });

    await admin.call('POST', `/api/admin/numbers/${number.id}/configure-twilio`, {});
    expect((await onlyEntry('number.twilio-configured', number.id)).detail).toMatchObject({
      configured: 'number',
    });
    await admin.call('DELETE', `/api/admin/numbers/${number.id}`);
    await onlyEntry('number.archived', number.id);
    await admin.call('POST', `/api/admin/numbers/${number.id}/restore`);
    await onlyEntry('number.restored', number.id);
  });

  it('records flows and queues with their hours and members', async () => {
    const flow = (
      await admin.call('POST', '/api/admin/flows', {
        name: 'Audited flow',
        hours: [{ weekday: 1, opensAt: '09:00', closesAt: '17:00' }],
      })
    ).json as { id: string };
    await onlyEntry('flow.created', flow.id);
    await admin.call('PATCH', `/api/admin/flows/${flow.id}`, {
      initialMessage: 'Hello',
      hours: [{ weekday: 1, opensAt: '08:00', closesAt: '17:00' }],
    });
    const flowUpdate = await onlyEntry('flow.updated', flow.id);
    expect(flowUpdate.before).toEqual({
      initialMessage: null,
      hours: [{ weekday: 1, opensAt: '09:00', closesAt: '17:00' }],
    });
    expect(flowUpdate.after).toEqual({
      initialMessage: 'Hello',
      hours: [{ weekday: 1, opensAt: '08:00', closesAt: '17:00' }],
    });
    await admin.call('DELETE', `/api/admin/flows/${flow.id}`);
    await onlyEntry('flow.archived', flow.id);

    const member = await signIn(stack.parley.store, 'agent');
    const queue = (await admin.call('POST', '/api/admin/queues', { name: 'Audited queue' }))
      .json as { id: string };
    expect((await onlyEntry('queue.created', queue.id)).after).toMatchObject({
      name: 'Audited queue',
      memberIds: [],
    });
    await admin.call('PATCH', `/api/admin/queues/${queue.id}`, {
      name: 'Audited queue',
      offerTimeoutSeconds: 45,
      memberIds: [member.user.id],
    });
    const queueUpdate = await onlyEntry('queue.updated', queue.id);
    expect(queueUpdate.before).toEqual({ offerTimeoutSeconds: 30, memberIds: [] });
    expect(queueUpdate.after).toEqual({ offerTimeoutSeconds: 45, memberIds: [member.user.id] });
    await admin.call('DELETE', `/api/admin/queues/${queue.id}`);
    await onlyEntry('queue.archived', queue.id);
    await admin.call('POST', `/api/admin/queues/${queue.id}/restore`);
    await onlyEntry('queue.restored', queue.id);
  });

  it('records users added, changed, disabled and enabled, never a password', async () => {
    const created = await admin.call('POST', '/api/admin/agents', {
      email: `new-${hex(3)}@example.com`,
      name: 'New agent',
      role: 'agent',
      password: 'a secret password',
      capacitySms: 2,
    });
    const agent = created.json as { id: string; email: string };
    const creation = await onlyEntry('user.created', agent.id);
    expect(creation.after).toMatchObject({ email: agent.email, role: 'agent', capacitySms: 2 });
    expect(JSON.stringify(creation)).not.toContain('a secret password');

    await admin.call('PATCH', `/api/admin/agents/${agent.id}`, {
      role: 'supervisor',
      skills: { billing: 3 },
    });
    const update = await onlyEntry('user.updated', agent.id);
    expect(update.before).toEqual({ role: 'agent', skills: {} });
    expect(update.after).toEqual({ role: 'supervisor', skills: { billing: 3 } });

    await admin.call('PATCH', `/api/admin/agents/${agent.id}`, { disabled: true });
    const disabled = await onlyEntry('user.disabled', agent.id);
    expect([disabled.before, disabled.after]).toEqual([{ disabled: false }, { disabled: true }]);
    await admin.call('PATCH', `/api/admin/agents/${agent.id}`, { disabled: false });
    await onlyEntry('user.enabled', agent.id);
  });

  it('records quick replies and origination templates, deleted ones as they were', async () => {
    const reply = (
      await admin.call('POST', '/api/admin/quick-replies', { title: 'Hi', body: 'Hello!' })
    ).json as { id: string };
    await onlyEntry('quick-reply.created', reply.id);
    await admin.call('PATCH', `/api/admin/quick-replies/${reply.id}`, { body: 'Hello there!' });
    expect((await onlyEntry('quick-reply.updated', reply.id)).after).toEqual({
      body: 'Hello there!',
    });
    await admin.call('DELETE', `/api/admin/quick-replies/${reply.id}`);
    const deleted = await onlyEntry('quick-reply.deleted', reply.id);
    expect(deleted).toMatchObject({
      before: { title: 'Hi', body: 'Hello there!', queueId: null },
      after: null,
    });

    const { number } = await stack.addNumber();
    const template = (
      await admin.call('POST', '/api/admin/origination-templates', {
        name: `Ready ${hex(2)}`,
        numberId: number.id,
        strategy: 'on-reply',
        body: 'Order {{orderId}} is ready',
      })
    ).json as { id: string };
    await onlyEntry('origination-template.created', template.id);
    await admin.call('PATCH', `/api/admin/origination-templates/${template.id}`, {
      strategy: 'assign-now',
    });
    expect((await onlyEntry('origination-template.updated', template.id)).after).toEqual({
      strategy: 'assign-now',
    });
    await admin.call('DELETE', `/api/admin/origination-templates/${template.id}`);
    await onlyEntry('origination-template.deleted', template.id);
  });

  it('records a content template sync on the account', async () => {
    const synced = await admin.call(
      'POST',
      `/api/admin/accounts/${stack.account.id}/content-templates/sync`,
    );
    expect(synced.status).toBe(200);
    const [entry] = await entriesOf('content-template.synced', stack.account.id);
    expect(entry).toMatchObject({ actor: admin.user.email, detail: synced.json });
  });

  it('records nothing for a change that was refused', async () => {
    const queue = (await admin.call('POST', '/api/admin/queues', { name: 'Refusing' })).json as {
      id: string;
    };
    const refused = await admin.call('PATCH', `/api/admin/queues/${queue.id}`, {
      name: 'Refused',
      maxWaitSeconds: 60,
    });
    expect(refused.status).toBe(400);
    expect(await entriesOf('queue.updated', queue.id)).toEqual([]);
  });
});

describe('sign-ins and API tokens', () => {
  it('records failed sign-ins under the email given, and a sign-in and sign-out under the user', async () => {
    const someone = await signIn(stack.parley.store, 'agent');
    const email = someone.user.email;
    expect((await login(email, 'wrong password')).status).toBe(401);
    const stranger = `nobody-${hex(3)}@example.com`;
    expect((await login(stranger, 'whatever')).status).toBe(401);

    const failures = await entriesOf('auth.sign-in-failed');
    expect(failures.find((e) => e.actor === email)).toMatchObject({
      actorId: null,
      ip: '127.0.0.1',
      detail: { reason: 'wrong-password' },
    });
    expect(failures.find((e) => e.actor === stranger)).toMatchObject({
      actorId: null,
      detail: { reason: 'unknown-email' },
    });
    expect(JSON.stringify(failures)).not.toContain('wrong password');

    const signedIn = await login(email, 'correct horse battery');
    expect(signedIn.status).toBe(200);
    const [entry] = (await entriesOf('auth.signed-in')).filter(
      (e) => e.actorId === someone.user.id,
    );
    expect(entry).toMatchObject({ actor: email, detail: { method: 'password' } });

    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const out = await fetch(`${stack.parley.url}/api/auth/logout`, {
      method: 'POST',
      headers: { cookie },
    });
    expect(out.status).toBe(204);
    const outs = await entriesOf('auth.signed-out');
    expect(outs.filter((e) => e.actorId === someone.user.id)).toHaveLength(1);
  });

  it('records the first sign-in refused by the rate limit in a window, not every one after', async () => {
    const email = `${'x'.repeat(300)}-${hex(3)}@example.com`;
    for (let attempt = 0; attempt < 10; attempt++) {
      expect((await login(email, 'guess')).status).toBe(401);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await login(email, 'guess')).status).toBe(429);
    }
    const failures = (await entriesOf('auth.sign-in-failed')).filter((e) =>
      email.startsWith(e.actor),
    );
    expect(failures[0]!.actor).toHaveLength(200);
    const reasons = failures.map((e) => e.detail?.reason);
    expect(reasons.filter((reason) => reason === 'rate-limited')).toHaveLength(1);
    expect(reasons.filter((reason) => reason === 'unknown-email')).toHaveLength(10);
  });

  it('names a failed sign-in whose email is not an email address without what was typed', async () => {
    const typed = `Tr0ub4dor&3-${hex(3)}`;
    expect((await login(typed, 'whatever')).status).toBe(401);
    expect((await login(`${typed}@nowhere`, 'whatever')).status).toBe(401);
    const failures = await entriesOf('auth.sign-in-failed');
    expect(JSON.stringify(failures)).not.toContain(typed);
    expect(failures.slice(0, 2).map((e) => e.actor)).toEqual([
      '(not an email address)',
      '(not an email address)',
    ]);
  });

  it('records API tokens created and revoked, never the token', async () => {
    const owner = await signIn(stack.parley.store, 'agent');
    const signedIn = await login(owner.user.email, 'correct horse battery');
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const created = await fetch(`${stack.parley.url}/api/auth/tokens`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'script', expiresInDays: 30 }),
    });
    const token = (await created.json()) as { id: string; token: string };
    const creation = (await entriesOf('auth.token-created', token.id))[0]!;
    expect(creation).toMatchObject({
      actorId: owner.user.id,
      targetType: 'api-token',
      detail: { name: 'script', expiresAt: expect.any(String) },
    });

    // An admin revokes it.
    expect((await admin.call('DELETE', `/api/auth/tokens/${token.id}`)).status).toBe(204);
    const revocation = await onlyEntry('auth.token-revoked', token.id);
    expect(revocation.detail).toEqual({ name: 'script', ownerId: owner.user.id });
    const exported = (await admin.call('GET', '/api/audit/export?format=csv&action=auth.')).text;
    expect(exported).not.toContain(token.token);
    expect(JSON.stringify(await entriesOf('auth.'))).not.toContain(token.token);
  });
});

// Row locks make the second admin wait; PGlite runs one transaction at a time, so there is
// no race to lose there.
describe.skipIf(!TEST_DATABASE_URL)('two admins changing one thing at once', () => {
  /**
   * Sets the row's column to `First` in a transaction that commits only once the admin's
   * PATCH (setting it to `Second`) waits for its lock.
   */
  async function patchBehindAnotherChange(
    table: string,
    id: string,
    path: string,
    column = 'name',
  ) {
    const { patched } = await stack.db.transaction(async (tx) => {
      await tx.execute(
        sql`UPDATE ${sql.identifier(table)} SET ${sql.identifier(column)} = 'First' WHERE id = ${id}`,
      );
      const patched = admin.call('PATCH', path, { [column]: 'Second' });
      await eventually(() => someoneWaitsForALock(stack.db));
      // Not awaited here: the PATCH can finish only once this transaction commits.
      return { patched };
    });
    expect((await patched).status).toBe(200);
  }

  it('records as before what the other change left, for an account', async () => {
    const twilio = (await stack.control('POST', '/_emulator/accounts', {})) as {
      sid: string;
      authToken: string;
    };
    const { id } = (
      await admin.call('POST', '/api/admin/accounts', {
        name: 'Raced account',
        accountSid: twilio.sid,
        authToken: twilio.authToken,
      })
    ).json as { id: string };
    await patchBehindAnotherChange('accounts', id, `/api/admin/accounts/${id}`);
    const entry = await onlyEntry('account.updated', id);
    expect([entry.before, entry.after]).toEqual([{ name: 'First' }, { name: 'Second' }]);
  });

  it('records as before what the other change left, for a queue', async () => {
    const { id } = (await admin.call('POST', '/api/admin/queues', { name: 'Raced queue' }))
      .json as { id: string };
    await patchBehindAnotherChange('queues', id, `/api/admin/queues/${id}`);
    const entry = await onlyEntry('queue.updated', id);
    expect([entry.before, entry.after]).toEqual([{ name: 'First' }, { name: 'Second' }]);
  });

  it('records as before what the other change left, for a flow', async () => {
    const { id } = (await admin.call('POST', '/api/admin/flows', { name: 'Raced flow' })).json as {
      id: string;
    };
    await patchBehindAnotherChange('flows', id, `/api/admin/flows/${id}`);
    const entry = await onlyEntry('flow.updated', id);
    expect([entry.before, entry.after]).toEqual([{ name: 'First' }, { name: 'Second' }]);
  });

  it('records as before what the other change left, for a user', async () => {
    const { id } = (
      await admin.call('POST', '/api/admin/agents', {
        email: `raced-${hex(3)}@example.com`,
        name: 'Raced agent',
        role: 'agent',
        password: 'a secret password',
      })
    ).json as { id: string };
    await patchBehindAnotherChange('users', id, `/api/admin/agents/${id}`);
    const entry = await onlyEntry('user.updated', id);
    expect([entry.before, entry.after]).toEqual([{ name: 'First' }, { name: 'Second' }]);
  });

  it('records as before what the other change left, for a number', async () => {
    const { id } = (
      await admin.call('POST', '/api/admin/numbers', {
        accountId: stack.account.id,
        address: await twilioNumber(),
        name: 'Raced number',
      })
    ).json as { id: string };
    await patchBehindAnotherChange('numbers', id, `/api/admin/numbers/${id}`);
    const entry = await onlyEntry('number.updated', id);
    expect([entry.before, entry.after]).toEqual([{ name: 'First' }, { name: 'Second' }]);
  });

  it('records as before what the other change left, for a quick reply and a template', async () => {
    const reply = (
      await admin.call('POST', '/api/admin/quick-replies', { title: 'Raced', body: 'Hello!' })
    ).json as { id: string };
    await patchBehindAnotherChange(
      'quick_replies',
      reply.id,
      `/api/admin/quick-replies/${reply.id}`,
      'title',
    );
    const replyEntry = await onlyEntry('quick-reply.updated', reply.id);
    expect([replyEntry.before, replyEntry.after]).toEqual([
      { title: 'First' },
      { title: 'Second' },
    ]);

    const { number } = await stack.addNumber();
    const template = (
      await admin.call('POST', '/api/admin/origination-templates', {
        name: `Raced ${hex(2)}`,
        numberId: number.id,
        strategy: 'on-reply',
        body: 'Your order is ready',
      })
    ).json as { id: string };
    await patchBehindAnotherChange(
      'origination_templates',
      template.id,
      `/api/admin/origination-templates/${template.id}`,
    );
    const templateEntry = await onlyEntry('origination-template.updated', template.id);
    expect([templateEntry.before, templateEntry.after]).toEqual([
      { name: 'First' },
      { name: 'Second' },
    ]);
  });
});

describe('the trail itself', () => {
  it('is refused UPDATE, DELETE and TRUNCATE by the database', async () => {
    const refusal = (work: Promise<unknown>) =>
      work.then(
        () => 'allowed',
        (error: Error & { cause?: Error }) => (error.cause ?? error).message,
      );
    // Row triggers need a row: one entry at least.
    await stack.db.insert(auditEntries).values({ actor: 'test', action: 'test.kept' });
    const before = await queryRows<{ count: number }>(
      stack.db,
      sql`SELECT count(*)::int AS count FROM audit_entries`,
    );
    expect(await refusal(stack.db.update(auditEntries).set({ actor: 'someone else' }))).toMatch(
      /append-only: UPDATE is not allowed/,
    );
    expect(await refusal(stack.db.delete(auditEntries))).toMatch(/DELETE is not allowed/);
    expect(await refusal(stack.db.execute(sql`TRUNCATE audit_entries`))).toMatch(
      /TRUNCATE is not allowed/,
    );
    const [{ count }] = (await queryRows<{ count: number }>(
      stack.db,
      sql`SELECT count(*)::int AS count FROM audit_entries`,
    )) as [{ count: number }];
    expect(count).toBe(before[0]!.count);
    expect(count).toBeGreaterThan(0);
  });

  it('is read and exported by admins only: 401 signed out, 403 for others', async () => {
    for (const path of ['/api/audit', '/api/audit/export?format=csv']) {
      expect((await fetch(`${stack.parley.url}${path}`)).status).toBe(401);
      for (const role of ['agent', 'supervisor'] as const) {
        expect((await (await person(role)).call('GET', path)).status).toBe(403);
      }
    }
  });

  it('filters by actor, action, target and time, and pages with a cursor', async () => {
    const other = await person('admin');
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await other.call('POST', '/api/admin/quick-replies', {
        title: `Paged ${i}`,
        body: 'text',
      });
      made.push((created.json as { id: string }).id);
    }
    const query = (params: Record<string, string>) =>
      admin.call('GET', `/api/audit?${new URLSearchParams(params)}`);

    const byEmail = (await query({ actor: other.user.email.toUpperCase() })).json as {
      entries: Entry[];
    };
    expect(byEmail.entries.map((e) => e.targetId)).toEqual([...made].reverse());
    const byId = (await query({ actor: other.user.id, action: 'quick-reply.created' })).json as {
      entries: Entry[];
    };
    expect(byId.entries).toHaveLength(5);
    expect((await query({ actor: other.user.id, action: 'quick-reply.' })).json).toMatchObject({
      entries: byId.entries,
    });
    expect(
      ((await query({ actor: other.user.id, action: 'quick-reply' })).json as { entries: [] })
        .entries,
    ).toEqual([]);
    const target = (await query({ targetType: 'quick-reply', targetId: made[2]! })).json as {
      entries: Entry[];
    };
    expect(target.entries.map((e) => e.targetId)).toEqual([made[2]]);

    // Two pages of two and one of one, each newest first, nothing twice.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await query({ actor: other.user.id, limit: '2', ...(cursor && { cursor }) }))
        .json as { entries: Entry[]; nextCursor: string | null };
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.targetId!));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());

    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(
      ((await query({ actor: other.user.id, from: tomorrow })).json as { entries: [] }).entries,
    ).toEqual([]);
    const first = byId.entries.at(-1)!;
    const since = (await query({ actor: other.user.id, from: first.at })).json as {
      entries: Entry[];
    };
    expect(since.entries).toHaveLength(5);
    const until = (await query({ actor: other.user.id, to: first.at })).json as {
      entries: Entry[];
    };
    expect(until.entries).toEqual([]);
  });

  it('refuses bad filters with 400 naming the field', async () => {
    for (const [query, field] of [
      ['from=yesterday', 'from'],
      ['cursor=bm90IGEgY3Vyc29y', 'cursor'],
      ['limit=0', 'limit'],
      ['from=2026-02-02&to=2026-02-01', 'to'],
    ] as const) {
      const response = await admin.call('GET', `/api/audit?${query}`);
      expect(response.status).toBe(400);
      expect(response.json).toMatchObject({ field });
    }
    const noFormat = await admin.call('GET', '/api/audit/export?format=xlsx');
    expect(noFormat.status).toBe(400);
    expect(noFormat.json).toMatchObject({ field: 'format' });
  });

  it('streams an export of more entries than it reads at a time, each once, newest first', async () => {
    const action = `test.bulk-${hex(3)}`;
    await stack.db
      .insert(auditEntries)
      .values(Array.from({ length: 1201 }, (_, i) => ({ actor: `bulk ${i}`, action })));
    const csv = await admin.call('GET', `/api/audit/export?format=csv&action=${action}`);
    const rows = csv.text.trimEnd().split('\r\n').slice(1);
    expect(rows).toHaveLength(1201);
    const ids = rows.map((row) => Number(row.split(',')[0]));
    expect(new Set(ids).size).toBe(1201);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it('exports CSV with a header and escaped, formula-safe cells, and JSON Lines', async () => {
    // Shaped like an email address, so that the trail keeps it as typed.
    const email = `=HYPERLINK("http://evil.example","x"),${hex(2)}@evil.example`;
    await login(email, 'nope');
    const csv = await admin.call(
      'GET',
      `/api/audit/export?format=csv&action=auth.sign-in-failed&actor=${encodeURIComponent(email)}`,
    );
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(
      /^attachment; filename="parley-audit-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'id,at,actor,actorId,action,targetType,targetId,ip,userAgent,requestId,before,after,detail',
    );
    expect(lines).toHaveLength(2);
    // The actor cell is quoted (a comma and quotes) and cannot run as a formula.
    expect(lines[1]).toContain(`,"'${email.replaceAll('"', '""')}",`);
    expect(lines[1]!.endsWith(',"{""reason"":""unknown-email""}"')).toBe(true);

    for (const title of ['Exported 1', 'Exported 2']) {
      await admin.call('POST', '/api/admin/quick-replies', { title, body: 'text' });
    }
    const jsonl = await admin.call('GET', '/api/audit/export?format=jsonl&action=quick-reply.');
    expect(jsonl.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const rows = jsonl.text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Entry);
    const listed = await entriesOf('quick-reply.');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows[0]).toMatchObject({
      action: 'quick-reply.created',
      after: { title: 'Exported 2' },
    });
    expect(rows.slice(0, listed.length)).toEqual(listed);
  });

  it('records a user added with the command line under cli', async () => {
    const databaseUrl = TEST_DATABASE_URL ? await createTestDatabase() : undefined;
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-audit-cli-'));
    const added = await runCli(
      ['user', 'add', '--email', 'cli@example.com', '--name', 'Cli', '--password', 'longenough'],
      databaseUrl
        ? { DATABASE_URL: databaseUrl, APP_SECRET: 's'.repeat(64) }
        : { DATA_DIR: dataDir },
    );
    expect(added.code).toBe(0);
    const store = await openStore({ databaseUrl, dataDir: databaseUrl ? undefined : dataDir });
    try {
      const entries = await store.db.select().from(auditEntries);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        actorId: null,
        actor: 'cli',
        action: 'user.created',
        targetType: 'user',
        before: null,
        after: { email: 'cli@example.com', name: 'Cli', role: 'agent' },
      });
      expect(JSON.stringify(entries[0])).not.toContain('longenough');
    } finally {
      await store.close();
      if (databaseUrl) await dropTestDatabase(databaseUrl);
    }
  });
});
