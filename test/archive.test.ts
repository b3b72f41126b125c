import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/admin/accounts.js';
import { createAgent } from '../src/admin/agents.js';
import { createNumber } from '../src/admin/numbers.js';
import { createQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import type { Role } from '../src/auth/users.js';
import { conversations, messages } from '../src/db/schema.js';
import { createFlow } from '../src/flows/flows.js';
import { hex, phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
let admin: Awaited<ReturnType<typeof user>>;
let agent: Awaited<ReturnType<typeof user>>;
beforeAll(async () => {
  stack = await Stack.start();
  admin = await user('admin');
  agent = await user('agent');
});
afterAll(() => stack?.close());

async function user(role: Role) {
  const created = await createAgent(stack.db, {
    email: `${role}-${hex(3)}@example.com`,
    name: `${role} ${hex(2)}`,
    role,
    password: 'correct horse battery',
  });
  const { token } = await createSession(stack.db, created.id, 'api-token');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.parley.url}${path}`, {
      method,
      headers: body === undefined ? { authorization: headers.authorization } : headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  return { user: created, call };
}

const name = (prefix: string) => `${prefix} ${randomBytes(2).toString('hex')}`;
const ids = (rows: { id: string }[]) => rows.map((row) => row.id);

/** A queue nobody serves (conversations wait in it) behind a flow, and a number on that flow. */
async function waitingLine(flow: { businessName?: string } = {}) {
  const queue = await createQueue(stack.db, { name: name('Waiting') });
  const { number, flow: created } = await stack.addNumber({
    flow: { name: name('Flow'), queueId: queue.id, ...flow },
  });
  return { queue, number, flow: created! };
}

async function conversationsOf(numberId: string) {
  return stack.db
    .select()
    .from(conversations)
    .where(eq(conversations.numberId, numberId))
    .orderBy(conversations.createdAt);
}

describe('archiving', () => {
  it('archives an account once its numbers are archived, and restores it before them', async () => {
    const account = await createAccount(stack.db, stack.parley.secretBox, {
      name: name('Spare account'),
      accountSid: `AC${hex(16)}`,
      authToken: hex(16),
    });
    const number = await createNumber(stack.db, { accountId: account.id, address: phoneNumber() });

    const refused = await admin.call('DELETE', `/api/admin/accounts/${account.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(number.address);

    expect((await admin.call('DELETE', `/api/admin/numbers/${number.id}`)).status).toBe(204);
    expect((await admin.call('DELETE', `/api/admin/accounts/${account.id}`)).status).toBe(204);
    expect((await admin.call('DELETE', `/api/admin/accounts/${account.id}`)).status).toBe(204);
    expect(ids((await admin.call('GET', '/api/admin/accounts')).body)).not.toContain(account.id);
    const all = (await admin.call('GET', '/api/admin/accounts?archived=include')).body;
    expect(all.find((a: { id: string }) => a.id === account.id).archivedAt).not.toBeNull();

    // Nothing new on an archived account; its number comes back only after it.
    const onArchived = await admin.call('POST', '/api/admin/numbers', {
      accountId: account.id,
      address: phoneNumber(),
    });
    expect(onArchived.status).toBe(400);
    expect(onArchived.body.field).toBe('accountId');
    const early = await admin.call('POST', `/api/admin/numbers/${number.id}/restore`);
    expect(early.status).toBe(409);
    expect(early.body.message).toContain('restore the account first');

    expect((await admin.call('POST', `/api/admin/accounts/${account.id}/restore`)).status).toBe(
      204,
    );
    expect((await admin.call('POST', `/api/admin/numbers/${number.id}/restore`)).status).toBe(204);
    expect(ids((await admin.call('GET', '/api/admin/accounts')).body)).toContain(account.id);
    expect(ids((await admin.call('GET', '/api/admin/numbers')).body)).toContain(number.id);
  });

  it('archives a number out of the admin list and the New message senders, and restores it', async () => {
    const { number } = await stack.addNumber();
    const senders = async () => ids((await agent.call('GET', '/api/numbers/senders')).body);
    expect(await senders()).toContain(number.id);

    expect((await admin.call('DELETE', `/api/admin/numbers/${number.id}`)).status).toBe(204);
    expect(await senders()).not.toContain(number.id);
    expect(ids((await admin.call('GET', '/api/admin/numbers')).body)).not.toContain(number.id);
    expect(ids((await admin.call('GET', '/api/admin/numbers?archived=include')).body)).toContain(
      number.id,
    );
    const origination = await agent.call('POST', '/api/originations', {
      to: phoneNumber(),
      numberId: number.id,
      body: 'Hello',
    });
    expect(origination.status).toBe(403);
    expect(origination.body.message).toContain('archived');
    // Nor can a task template be given it as its sender.
    const template = await admin.call('POST', '/api/admin/origination-templates', {
      name: name('Archived sender'),
      numberId: number.id,
      strategy: 'on-reply',
      body: 'Hello {{firstName}}',
    });
    expect(template.status).toBe(400);
    expect(template.body).toMatchObject({ field: 'numberId' });
    // Its address stays taken: texts to it still find it.
    const again = await admin.call('POST', '/api/admin/numbers', {
      accountId: stack.account.id,
      address: number.address,
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('restore it');

    expect((await admin.call('POST', `/api/admin/numbers/${number.id}/restore`)).status).toBe(204);
    expect(await senders()).toContain(number.id);
  });

  it('refuses to archive a flow numbers use, naming them; archives and restores an unused one', async () => {
    const { number, flow } = await waitingLine();
    const refused = await admin.call('DELETE', `/api/admin/flows/${flow.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(number.address);

    const spare = await createFlow(stack.db, { name: name('Spare flow') });
    expect((await admin.call('DELETE', `/api/admin/flows/${spare.id}`)).status).toBe(204);
    expect(ids((await admin.call('GET', '/api/admin/flows')).body)).not.toContain(spare.id);
    expect(ids((await admin.call('GET', '/api/admin/flows?archived=include')).body)).toContain(
      spare.id,
    );
    const pointed = await admin.call('PATCH', `/api/admin/numbers/${number.id}`, {
      flowId: spare.id,
    });
    expect(pointed.status).toBe(400);
    expect(pointed.body.field).toBe('flowId');

    expect((await admin.call('POST', `/api/admin/flows/${spare.id}/restore`)).status).toBe(204);
    expect(ids((await admin.call('GET', '/api/admin/flows')).body)).toContain(spare.id);
  });

  it("refuses to archive a queue that is a flow's target, an overflow or has waiting conversations", async () => {
    const { queue, number, flow } = await waitingLine();
    const target = await admin.call('DELETE', `/api/admin/queues/${queue.id}`);
    expect(target.status).toBe(409);
    expect(target.body.message).toContain(`flow ${flow.name}`);

    const spill = await createQueue(stack.db, { name: name('Spill') });
    const main = await createQueue(stack.db, {
      name: name('Main'),
      maxWaitSeconds: 60,
      overflowQueueId: spill.id,
    });
    const overflow = await admin.call('DELETE', `/api/admin/queues/${spill.id}`);
    expect(overflow.status).toBe(409);
    expect(overflow.body.message).toContain(main.name);

    // A conversation waits in the flow's queue; the flow then sends elsewhere.
    await stack.text(phoneNumber(), number.address, 'Anyone there?');
    await eventually(async () => (await conversationsOf(number.id))[0]?.state === 'queued');
    await admin.call('PATCH', `/api/admin/flows/${flow.id}`, { queueId: spill.id });
    const waiting = await admin.call('DELETE', `/api/admin/queues/${queue.id}`);
    expect(waiting.status).toBe(409);
    expect(waiting.body.message).toContain('1 waiting conversation');
  });

  it('archives an unused queue out of lists and the directory, refuses it as an overflow, and restores it', async () => {
    const queue = await createQueue(stack.db, { name: name('Retired') });
    expect((await admin.call('DELETE', `/api/admin/queues/${queue.id}`)).status).toBe(204);
    expect(ids((await admin.call('GET', '/api/admin/queues')).body)).not.toContain(queue.id);
    expect(ids((await admin.call('GET', '/api/admin/queues?archived=include')).body)).toContain(
      queue.id,
    );
    expect(ids((await agent.call('GET', '/api/directory')).body.queues)).not.toContain(queue.id);
    const into = await admin.call('POST', '/api/admin/queues', {
      name: name('Busy'),
      maxWaitSeconds: 60,
      overflowQueueId: queue.id,
    });
    expect(into.status).toBe(400);
    expect(into.body.field).toBe('overflowQueueId');

    expect((await admin.call('POST', `/api/admin/queues/${queue.id}/restore`)).status).toBe(204);
    expect(ids((await agent.call('GET', '/api/directory')).body.queues)).toContain(queue.id);
  });

  it('archives a number with open conversations only when told to close them; texts still arrive and transcripts keep names', async () => {
    const { queue, number, flow } = await waitingLine();
    const customer = phoneNumber();
    await stack.text(customer, number.address, 'Where is my order?');
    const [open] = await eventually(async () => {
      const rows = await conversationsOf(number.id);
      return rows[0]?.state === 'queued' && rows;
    });

    const refused = await admin.call('DELETE', `/api/admin/numbers/${number.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.field).toBe('openConversations');
    expect(refused.body.message).toContain('1 open conversation');
    expect((await conversationsOf(number.id))[0]!.state).toBe('queued');

    const closing = await admin.call(
      'DELETE',
      `/api/admin/numbers/${number.id}?openConversations=close`,
    );
    expect(closing.status).toBe(204);
    const closed = (await conversationsOf(number.id))[0]!;
    expect([closed.state, closed.closeReason]).toEqual(['closed', 'number-archived']);

    // The customer writes again: stored, in a new conversation on the archived number.
    const answered = await stack.text(customer, number.address, 'Hello?');
    expect(answered.webhook.status).toBe(200);
    const [stored] = await stack.db
      .select()
      .from(messages)
      .where(and(eq(messages.numberId, number.id), eq(messages.body, 'Hello?')));
    expect(stored).toBeDefined();
    expect(stored!.conversationId).not.toBe(open!.id);

    // Queue and number archived: the transcript still names both.
    await admin.call('DELETE', `/api/admin/numbers/${number.id}?openConversations=close`);
    const elsewhere = await createQueue(stack.db, { name: name('Elsewhere') });
    await admin.call('PATCH', `/api/admin/flows/${flow.id}`, { queueId: elsewhere.id });
    expect((await admin.call('DELETE', `/api/admin/queues/${queue.id}`)).status).toBe(204);
    const transcript = (await admin.call('GET', `/api/conversations/${open!.id}`)).body;
    expect(transcript.conversation).toMatchObject({
      numberAddress: number.address,
      queueName: queue.name,
    });
  });

  it('loses no text that arrives while its number is archived', async () => {
    const { number } = await waitingLine();
    const customers = [phoneNumber(), phoneNumber(), phoneNumber()];
    await stack.text(customers[0]!, number.address, 'first');
    await eventually(async () => (await conversationsOf(number.id)).length === 1);

    const [archived, ...texts] = await Promise.all([
      admin.call('DELETE', `/api/admin/numbers/${number.id}?openConversations=close`),
      ...customers.map((customer, i) => stack.text(customer, number.address, `racing ${i}`)),
    ]);
    expect(archived.status).toBe(204);
    expect(texts.map((t) => t.webhook.status)).toEqual([200, 200, 200]);
    const stored = await stack.db
      .select({ body: messages.body, conversationId: messages.conversationId })
      .from(messages)
      .where(and(eq(messages.numberId, number.id), sql`${messages.body} LIKE 'racing %'`));
    expect(stored.map((m) => m.body).sort()).toEqual(['racing 0', 'racing 1', 'racing 2']);
    expect(stored.every((m) => m.conversationId !== null)).toBe(true);
  });
});

describe('queue validation', () => {
  it('refuses a maximum wait without an overflow queue or message, naming the field', async () => {
    const bare = await admin.call('POST', '/api/admin/queues', {
      name: name('Impatient'),
      maxWaitSeconds: 120,
    });
    expect(bare.status).toBe(400);
    expect(bare.body.field).toBe('maxWaitSeconds');
    expect(bare.body.message).toContain('overflow queue or an overflow message');

    const created = await admin.call('POST', '/api/admin/queues', {
      name: name('Patient'),
      maxWaitSeconds: 120,
      overflowMessage: 'Still busy, sorry.',
    });
    expect(created.status).toBe(201);
    const cleared = await admin.call('PATCH', `/api/admin/queues/${created.body.id}`, {
      overflowMessage: null,
    });
    expect(cleared.status).toBe(400);
    expect(cleared.body.field).toBe('maxWaitSeconds');
    const itself = await admin.call('PATCH', `/api/admin/queues/${created.body.id}`, {
      overflowQueueId: created.body.id,
    });
    expect(itself.status).toBe(400);
    expect(itself.body.field).toBe('overflowQueueId');
  });

  it("fills the overflow message's placeholders in the text the customer receives", async () => {
    const { queue, number } = await waitingLine({ businessName: 'Acme Bikes' });
    await admin.call('PATCH', `/api/admin/queues/${queue.id}`, {
      maxWaitSeconds: 120,
      overflowMessage: '{businessName}: {queueName} is busy after {waitMinutes} min. Hang on!',
    });
    const customer = phoneNumber();
    await stack.text(customer, number.address, 'Is my bike ready?');
    const [conversation] = await eventually(async () => {
      const rows = await conversationsOf(number.id);
      return rows[0]?.state === 'queued' && rows;
    });
    await stack.db
      .update(conversations)
      .set({ queuedAt: sql`now() - interval '121 seconds'` })
      .where(eq(conversations.id, conversation!.id));
    await stack.received(customer, `Acme Bikes: ${queue.name} is busy after 2 min. Hang on!`);
  });
});
