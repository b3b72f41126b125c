import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { conversations, users } from '../src/db/schema.js';
import { queueConversation } from '../src/routing/index.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  type Agent,
  agentsWithWrongLoad,
  buildAgent,
  buildFlow,
  buildNumber,
  buildQueue,
  conversationInFlow,
  conversationRow,
  pendingOffer,
} from './helpers/factories.js';

let t: TestApp;
let agent: SignedIn;
let colleague: SignedIn;
let supervisor: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  agent = await signIn(t.store, 'agent');
  colleague = await signIn(t.store, 'agent');
  supervisor = await signIn(t.store, 'supervisor');
  // Room for every conversation the tests below give them.
  await t.store.db.update(users).set({ capacitySms: 20 });
});
afterAll(() => t?.close());
afterEach(async () => expect(await agentsWithWrongLoad(t.store.db)).toEqual([]));

const call = (method: 'GET' | 'POST' | 'PUT', url: string, who?: SignedIn, payload?: unknown) =>
  t.app.inject({
    method,
    url,
    ...(who && { headers: who.headers }),
    ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
  });

/** A queue of the given signed-in agents (available), and a conversation offered in it. */
async function offeredTo(members: SignedIn[], queueOverrides = {}) {
  const db = t.store.db;
  await db.update(users).set({ presence: 'available' });
  const rows: Agent[] = [];
  for (const member of members) {
    const [row] = await db.select().from(users).where(eq(users.id, member.user.id));
    rows.push(row!);
  }
  const queue = await buildQueue(db, rows, queueOverrides);
  const number = await buildNumber(db);
  const conversation = await conversationInFlow(db, number.id);
  await queueConversation(db, conversation.id, queue.id);
  return {
    queue,
    number,
    conversationId: conversation.id,
    offer: await pendingOffer(db, conversation.id),
  };
}

describe('who may call', () => {
  it('answers 401 without a session', async () => {
    for (const [method, url] of [
      ['GET', '/api/offers'],
      ['GET', '/api/conversations/mine'],
      ['PUT', '/api/agents/me/presence'],
      ['GET', '/api/queues/stats'],
    ] as const) {
      expect(
        (await call(method, url, undefined, method === 'PUT' ? { presence: 'away' } : undefined))
          .statusCode,
      ).toBe(401);
    }
  });

  it('refuses agents the supervisor routes with 403', async () => {
    const { conversationId } = await offeredTo([agent]);
    expect((await call('GET', '/api/queues/stats', agent)).statusCode).toBe(403);
    expect(
      (await call('PUT', `/api/agents/${colleague.user.id}/presence`, agent, { presence: 'away' }))
        .statusCode,
    ).toBe(403);
    expect(
      (
        await call('POST', `/api/conversations/${conversationId}/reassign`, agent, {
          agentId: colleague.user.id,
        })
      ).statusCode,
    ).toBe(403);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = (await call('GET', '/openapi.json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/agents/me/presence',
        '/api/agents/{id}/presence',
        '/api/offers',
        '/api/offers/{id}/accept',
        '/api/offers/{id}/reject',
        '/api/conversations/mine',
        '/api/conversations/{id}/transfer',
        '/api/conversations/{id}/reassign',
        '/api/conversations/{id}/end',
        '/api/queues/stats',
        '/api/conversations/{id}/queue-position',
        '/api/directory',
      ]),
    );
  });
});

describe('presence', () => {
  it('sets my presence, and a supervisor sets an agent’s', async () => {
    const mine = await call('PUT', '/api/agents/me/presence', agent, { presence: 'away' });
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toMatchObject({ agentId: agent.user.id, presence: 'away' });
    const theirs = await call('PUT', `/api/agents/${agent.user.id}/presence`, supervisor, {
      presence: 'available',
    });
    expect(theirs.json()).toMatchObject({ agentId: agent.user.id, presence: 'available' });
  });

  it('answers 400 naming the field for a bad presence, 404 for an unknown agent', async () => {
    const bad = await call('PUT', '/api/agents/me/presence', agent, { presence: 'busy' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'bad_request', field: 'presence' });
    const unknown = await call(
      'PUT',
      '/api/agents/00000000-0000-4000-8000-000000000000/presence',
      supervisor,
      { presence: 'away' },
    );
    expect(unknown.statusCode).toBe(404);
  });
});

describe('offers', () => {
  it('lists my pending offers, accepts one, and refuses to accept it twice', async () => {
    const { offer, conversationId } = await offeredTo([agent]);
    const listed = await call('GET', '/api/offers', agent);
    expect(listed.json()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: offer!.id,
          conversationId,
          reason: 'queue',
          originalText: null,
          conversation: expect.objectContaining({ channel: 'sms' }),
        }),
      ]),
    );
    // Someone else's offer is not found, rather than forbidden.
    expect((await call('POST', `/api/offers/${offer!.id}/accept`, colleague)).statusCode).toBe(404);
    const accepted = await call('POST', `/api/offers/${offer!.id}/accept`, agent);
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toEqual({ conversationId });
    expect((await call('POST', `/api/offers/${offer!.id}/accept`, agent)).statusCode).toBe(409);
    const mine = (await call('GET', '/api/conversations/mine', agent)).json() as {
      id: string;
      state: string;
    }[];
    expect(mine).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: conversationId, state: 'active' })]),
    );
  });

  it('rejecting moves the offer to a colleague', async () => {
    const { offer, conversationId } = await offeredTo([agent, colleague], {
      strategy: 'round-robin',
    });
    const holder = offer!.agentId === agent.user.id ? agent : colleague;
    const other = holder === agent ? colleague : agent;
    expect((await call('POST', `/api/offers/${offer!.id}/reject`, holder)).statusCode).toBe(204);
    expect((await pendingOffer(t.store.db, conversationId))!.agentId).toBe(other.user.id);
    expect((await call('POST', '/api/offers/not-a-uuid/reject', holder)).json()).toMatchObject({
      error: 'bad_request',
      field: 'id',
    });
  });
});

describe('transfer, reassign, end', () => {
  async function activeWithAgent() {
    const offered = await offeredTo([agent]);
    await call('POST', `/api/offers/${offered.offer!.id}/accept`, agent);
    return offered;
  }

  it('transfers to a colleague with a note that the colleague sees on the offer', async () => {
    const { conversationId } = await activeWithAgent();
    const missing = await call('POST', `/api/conversations/${conversationId}/transfer`, agent, {
      note: 'nobody',
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ field: 'toAgentId' });
    const response = await call('POST', `/api/conversations/${conversationId}/transfer`, agent, {
      toAgentId: colleague.user.id,
      note: 'Wants a refund',
    });
    expect(response.statusCode).toBe(204);
    const offers = (await call('GET', '/api/offers', colleague)).json() as {
      conversationId: string;
      reason: string;
      transferNote: string | null;
    }[];
    expect(offers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          conversationId,
          reason: 'transfer',
          transferNote: 'Wants a refund',
        }),
      ]),
    );
  });

  it('lets a supervisor reassign, and only the assigned agent or a supervisor end', async () => {
    const { conversationId } = await activeWithAgent();
    const reassigned = await call(
      'POST',
      `/api/conversations/${conversationId}/reassign`,
      supervisor,
      {
        agentId: colleague.user.id,
      },
    );
    expect(reassigned.statusCode).toBe(204);
    expect((await conversationRow(t.store.db, conversationId)).agentId).toBe(colleague.user.id);
    expect((await call('POST', `/api/conversations/${conversationId}/end`, agent)).statusCode).toBe(
      404,
    );
    expect(
      (await call('POST', `/api/conversations/${conversationId}/end`, colleague)).statusCode,
    ).toBe(204);
    expect((await conversationRow(t.store.db, conversationId)).state).toBe('closed');
    expect(
      (await call('POST', `/api/conversations/${conversationId}/end`, supervisor)).statusCode,
    ).toBe(409);
  });
});

describe('queues', () => {
  it('shows supervisors each queue’s waiting line and agents, and a conversation’s position', async () => {
    const db = t.store.db;
    const away = await buildAgent(db, { presence: 'away' });
    const queue = await buildQueue(db, [away], { name: 'Billing' });
    const number = await buildNumber(db);
    const first = await conversationInFlow(db, number.id);
    const second = await conversationInFlow(db, number.id);
    await queueConversation(db, first.id, queue.id);
    await queueConversation(db, second.id, queue.id);

    const stats = await call('GET', '/api/queues/stats', supervisor);
    expect(stats.statusCode).toBe(200);
    const body = stats.json() as {
      queues: { id: string; waiting: number; longestWaitSeconds: number; agents: unknown }[];
      agents: { id: string; presence: string; load: unknown }[];
    };
    expect(body.queues.find((q) => q.id === queue.id)).toMatchObject({
      waiting: 2,
      agents: { available: 0, away: 1, offline: 0, busy: 0 },
    });
    expect(body.agents.find((a) => a.id === away.id)).toMatchObject({
      presence: 'away',
      load: { sms: 0, whatsapp: 0 },
    });

    const position = await call(
      'GET',
      `/api/conversations/${second.id}/queue-position`,
      supervisor,
    );
    expect(position.json()).toEqual({
      conversationId: second.id,
      position: 2,
      estimatedWaitSeconds: null,
    });
  });

  it('counts an agent busy when full on every channel their queues serve', async () => {
    const db = t.store.db;
    const full = await buildAgent(db, { capacitySms: 1, capacityWhatsapp: 3 });
    const queue = await buildQueue(db, [full], { name: 'SMS only' });
    const flow = await buildFlow(db, { queueId: queue.id });
    const sms = await buildNumber(db, { flowId: flow.id });
    const conversation = await conversationInFlow(db, sms.id);
    await db
      .update(conversations)
      .set({ state: 'active', agentId: full.id, queueId: queue.id })
      .where(eq(conversations.id, conversation.id));
    const statsOf = async () => {
      const body = (await call('GET', '/api/queues/stats', supervisor)).json() as {
        queues: { id: string; agents: { busy: number } }[];
        agents: { id: string; busy: boolean }[];
      };
      return {
        agentBusy: body.agents.find((a) => a.id === full.id)?.busy,
        queueBusy: body.queues.find((q) => q.id === queue.id)?.agents.busy,
      };
    };
    // Room for WhatsApp does not count: no WhatsApp number reaches this queue.
    expect(await statsOf()).toEqual({ agentBusy: true, queueBusy: 1 });
    await buildNumber(db, { flowId: flow.id, kind: 'whatsapp', address: 'whatsapp:+15550009999' });
    expect(await statsOf()).toEqual({ agentBusy: false, queueBusy: 0 });
  });
});
