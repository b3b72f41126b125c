import { and, eq, like, or } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import { createUser, type Role } from '../src/auth/users.js';
import { conversations, messages, offers } from '../src/db/schema.js';
import { setPresence } from '../src/routing/presence.js';
import { hex, phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.close());

interface Person {
  id: string;
  name: string;
  headers: Record<string, string>;
}

async function person(role: Role, name: string): Promise<Person> {
  const user = await createUser(stack.db, {
    email: `${name.toLowerCase()}-${hex(3)}@example.com`,
    name,
    role,
    password: 'correct horse battery',
  });
  const { token } = await createSession(stack.db, user.id, 'api-token');
  return {
    id: user.id,
    name,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  };
}

function api(path: string, who: Person, body?: unknown) {
  return fetch(`${stack.parley.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: who.headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

/** Accepts the agent's pending offer of the conversation, once routing has made it. */
async function accept(agent: Person, conversationId: string): Promise<void> {
  const offer = await eventually(async () => {
    const [row] = await stack.db
      .select({ id: offers.id })
      .from(offers)
      .where(
        and(
          eq(offers.conversationId, conversationId),
          eq(offers.agentId, agent.id),
          eq(offers.state, 'pending'),
        ),
      );
    return row;
  });
  expect((await api(`/api/offers/${offer.id}/accept`, agent, {})).status).toBe(200);
}

const SECRET = 'Internal: customer owes 40 EUR, do not mention the collector';

describe('internal notes and who did what, in the transcript', () => {
  it('shows a transfer note, a reassignment and an internal note with their authors; the handset never gets the note', async () => {
    const ann = await person('agent', 'Ann');
    const ben = await person('agent', 'Ben');
    const sue = await person('supervisor', 'Sue');
    const outsider = await person('agent', 'Olga');
    const queue = await createQueue(stack.db, {
      name: 'Notes queue',
      offerTimeoutSeconds: 300,
      memberIds: [ann.id, ben.id],
    });
    const { number } = await stack.addNumber({
      flow: { name: 'Notes flow', queueId: queue.id, finalMessage: 'Bye from the shop.' },
    });
    // Only Ann is there when the customer writes: the offer is hers.
    await setPresence(stack.db, ann.id, 'available', ann.id);
    const customer = phoneNumber();
    await stack.text(customer, number.address, 'My invoice is wrong');
    const [conversation] = await stack.db
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.customerAddress, customer));
    const conversationId = conversation!.id;
    await accept(ann, conversationId);

    const note = await api(`/api/conversations/${conversationId}/notes`, ann, {
      body: `  ${SECRET}  `,
    });
    expect(note.status).toBe(201);
    expect(await note.json()).toMatchObject({ conversationId, authorId: ann.id, body: SECRET });

    // Ann hands it to Ben with a note; Ben accepts; Sue gives it back to Ann.
    await setPresence(stack.db, ben.id, 'available', ben.id);
    const transfer = await api(`/api/conversations/${conversationId}/transfer`, ann, {
      toAgentId: ben.id,
      note: 'Needs a corrected invoice',
    });
    expect(transfer.status).toBe(204);
    await accept(ben, conversationId);
    const reassign = await api(`/api/conversations/${conversationId}/reassign`, sue, {
      agentId: ann.id,
    });
    expect(reassign.status).toBe(204);

    // Someone who may not read the conversation learns nothing of it.
    const refused = await api(`/api/conversations/${conversationId}/notes`, outsider, {
      body: 'Let me in',
    });
    expect(refused.status).toBe(404);
    const empty = await api(`/api/conversations/${conversationId}/notes`, ann, { body: '   ' });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ field: 'body' });
    const long = await api(`/api/conversations/${conversationId}/notes`, ann, {
      body: 'x'.repeat(4001),
    });
    expect(long.status).toBe(400);

    const reply = await api(`/api/conversations/${conversationId}/messages`, ann, {
      body: 'A corrected invoice is on its way.',
    });
    expect(reply.status).toBe(202);
    expect((await api(`/api/conversations/${conversationId}/end`, ann, {})).status).toBe(204);
    // A closed conversation still takes notes (a follow-up), by a supervisor too.
    const later = await api(`/api/conversations/${conversationId}/notes`, sue, {
      body: 'Checked the invoice after the call.',
    });
    expect(later.status).toBe(201);

    await stack.received(customer, 'Bye from the shop.');
    const inbox = await stack.inbox(customer, 2);
    expect(inbox.map((m) => m.body).sort()).toEqual(
      ['A corrected invoice is on its way.', 'Bye from the shop.'].sort(),
    );
    // No note became a message: not the internal notes, not the transfer note.
    expect(
      await stack.db
        .select({ body: messages.body })
        .from(messages)
        .where(
          or(
            like(messages.body, '%collector%'),
            like(messages.body, '%corrected invoice%'),
            like(messages.body, '%after the call%'),
          ),
        ),
    ).toEqual([{ body: 'A corrected invoice is on its way.' }]);

    const transcript = (await (await api(`/api/conversations/${conversationId}`, sue)).json()) as {
      activity: Record<string, unknown>[];
    };
    expect(transcript.activity).toEqual([
      expect.objectContaining({ kind: 'note', actorId: ann.id, actorName: 'Ann', body: SECRET }),
      expect.objectContaining({
        kind: 'transfer',
        actorId: ann.id,
        actorName: 'Ann',
        fromAgent: { id: ann.id, name: 'Ann' },
        toAgent: { id: ben.id, name: 'Ben' },
        toQueue: { id: null, name: null },
        note: 'Needs a corrected invoice',
      }),
      expect.objectContaining({
        kind: 'reassign',
        actorId: sue.id,
        actorName: 'Sue',
        fromAgent: { id: ben.id, name: 'Ben' },
        toAgent: { id: ann.id, name: 'Ann' },
      }),
      expect.objectContaining({
        kind: 'closed',
        reason: 'ended',
        actorId: ann.id,
        actorName: 'Ann',
        disposition: null,
      }),
      expect.objectContaining({
        kind: 'note',
        actorId: sue.id,
        actorName: 'Sue',
        body: 'Checked the invoice after the call.',
      }),
    ]);
    const times = transcript.activity.map((entry) => Date.parse(entry.at as string));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('answers 404 for a conversation that does not exist, even to a supervisor', async () => {
    const sue = await person('supervisor', 'Sam');
    const response = await api(
      '/api/conversations/00000000-0000-4000-8000-000000000000/notes',
      sue,
      { body: 'Anyone?' },
    );
    expect(response.status).toBe(404);
  });
});
