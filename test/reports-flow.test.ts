/**
 * A conversation as it really happens — texted in through the Twilio emulator, offered,
 * accepted, answered and ended by an agent over the API — in the report and the wallboard.
 */
import { randomBytes } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../src/admin/agents.js';
import { createQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import { conversations, events, messages } from '../src/db/schema.js';
import { phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.close());

async function user(role: 'agent' | 'supervisor') {
  const created = await createAgent(stack.db, {
    email: `${role}-${randomBytes(3).toString('hex')}@example.com`,
    name: `${role} ${randomBytes(2).toString('hex')}`,
    role,
    password: 'correct horse battery',
  });
  const { token } = await createSession(stack.db, created.id, 'api-token');
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${stack.parley.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  return { user: created, call };
}

const seconds = (from: Date, to: Date) => (to.getTime() - from.getTime()) / 1000;

describe('a conversation texted in, answered and ended', () => {
  it('is in, answered, with its first response, queue and handle times', async () => {
    const ada = await user('agent');
    const boss = await user('supervisor');
    const queue = await createQueue(stack.db, { name: 'Reported', memberIds: [ada.user.id] });
    const { number } = await stack.addNumber({ flow: { name: 'Reported', queueId: queue.id } });
    expect(
      (await ada.call('PUT', '/api/agents/me/presence', { presence: 'available' })).status,
    ).toBe(200);
    const since = new Date(Date.now() - 1000);

    const handset = phoneNumber();
    await stack.text(handset, number.address, 'My order has not arrived');
    const offer = await eventually(async () => {
      const offers = (await (await ada.call('GET', '/api/offers')).json()) as {
        id: string;
        conversationId: string;
      }[];
      return offers[0];
    });
    expect((await ada.call('POST', `/api/offers/${offer.id}/accept`, {})).status).toBeLessThan(300);
    expect(
      (
        await ada.call('POST', `/api/conversations/${offer.conversationId}/messages`, {
          body: 'Sorry to hear that, let me look',
        })
      ).status,
    ).toBe(202);
    await stack.received(handset, 'Sorry to hear that, let me look');
    expect((await ada.call('POST', `/api/conversations/${offer.conversationId}/end`)).status).toBe(
      204,
    );

    const query = new URLSearchParams({
      from: since.toISOString(),
      to: new Date(Date.now() + 1000).toISOString(),
    });
    const response = await boss.call('GET', `/api/reports?${query}`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as {
      totals: Record<string, number | null>;
      byQueue: { id: string; name: string; answered: number }[];
      byAgent: { id: string; name: string; answered: number }[];
    };

    // The times the report should have used, as the database recorded them (to the
    // millisecond here, to the microsecond there: close to 2 decimals).
    const said = await stack.db
      .select()
      .from(messages)
      .where(eq(messages.conversationId, offer.conversationId))
      .orderBy(asc(messages.createdAt));
    const log = await stack.db
      .select()
      .from(events)
      .where(eq(events.conversationId, offer.conversationId));
    const at = (type: string) => log.find((e) => e.type === type)!.createdAt;
    const customerFirst = said.find((m) => m.author === 'customer')!.createdAt;
    const agentFirst = said.find((m) => m.author === 'agent')!.createdAt;
    expect(report.totals).toMatchObject({
      in: 1,
      answered: 1,
      abandoned: 0,
      serviceLevel: 100,
      transfers: 0,
      messagesIn: 1,
      messagesOut: said.filter((m) => m.direction === 'outbound').length,
    });
    expect(report.totals.firstResponseMedian).toBeCloseTo(seconds(customerFirst, agentFirst), 2);
    expect(report.totals.firstResponseMedian).toBeGreaterThan(0);
    expect(report.totals.queueTimeMedian).toBeCloseTo(
      seconds(at('conversation.queued'), at('offer.accepted')),
      2,
    );
    expect(report.totals.handleTimeMedian).toBeCloseTo(
      seconds(at('offer.accepted'), at('conversation.closed')),
      2,
    );
    expect(report.byQueue).toEqual([
      expect.objectContaining({ id: queue.id, name: 'Reported', answered: 1 }),
    ]);
    expect(report.byAgent).toEqual([
      expect.objectContaining({ id: ada.user.id, name: ada.user.name, answered: 1 }),
    ]);

    const [closed] = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, offer.conversationId));
    expect(closed?.state).toBe('closed');
    const board = (await (await boss.call('GET', '/api/wallboard')).json()) as {
      report: { totals: { in: number; answered: number } };
      live: { waiting: number; agents: { available: number } };
    };
    expect(board.report.totals).toMatchObject({ in: 1, answered: 1 });
    expect(board.live).toMatchObject({ waiting: 0, agents: { available: 1 } });
  });
});
