import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import { createUser } from '../src/auth/users.js';
import { conversations, events, offers, surveyResponses } from '../src/db/schema.js';
import type { FlowInput } from '../src/flows/flows.js';
import { parseSurveyAnswer } from '../src/flows/surveys.js';
import { setPresence } from '../src/routing/presence.js';
import { signIn } from './helpers/app.js';
import { phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.close());

const QUESTION = 'How did we do? Reply 1 (poor) to 5 (great).';

/** An available agent in a queue of their own, and a number whose flow routes to it. */
async function setUp(flow: Partial<FlowInput> = {}) {
  const name = `agent-${randomBytes(3).toString('hex')}`;
  const user = await createUser(stack.db, {
    email: `${name}@example.com`,
    name,
    role: 'agent',
    password: 'correct horse battery',
  });
  const { token } = await createSession(stack.db, user.id, 'api-token');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await setPresence(stack.db, user.id, 'available', user.id);
  const queue = await createQueue(stack.db, { name: `Queue ${name}`, memberIds: [user.id] });
  const { number } = await stack.addNumber({
    flow: {
      name: `Flow ${name}`,
      queueId: queue.id,
      finalMessage: 'Thanks for contacting us.',
      surveyMessage: QUESTION,
      ...flow,
    },
  });
  const post = (path: string, body: unknown = {}) =>
    fetch(`${stack.parley.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const get = async (path: string) =>
    (await fetch(`${stack.parley.url}${path}`, { headers })).json() as Promise<unknown>;
  return { user, number, post, get };
}

type Setup = Awaited<ReturnType<typeof setUp>>;

/** The customer writes, the agent accepts and ends the conversation; the survey arrives. */
async function endedConversation({ user, number, post }: Setup) {
  const customer = phoneNumber();
  await stack.text(customer, number.address, 'My parcel is late');
  const offer = await pendingOfferTo(user.id);
  expect((await post(`/api/offers/${offer.id}/accept`)).status).toBe(200);
  expect((await post(`/api/conversations/${offer.conversationId}/end`)).status).toBe(204);
  await stack.received(customer, QUESTION);
  return { customer, conversationId: offer.conversationId };
}

function pendingOfferTo(agentId: string) {
  return eventually(async () => {
    const [row] = await stack.db
      .select({ id: offers.id, conversationId: offers.conversationId })
      .from(offers)
      .where(and(eq(offers.agentId, agentId), eq(offers.state, 'pending')));
    return row;
  });
}

async function conversationsOf(customer: string) {
  return stack.db
    .select({ id: conversations.id, state: conversations.state })
    .from(conversations)
    .where(eq(conversations.customerAddress, customer));
}

async function offersTo(agentId: string) {
  return stack.db.select().from(offers).where(eq(offers.agentId, agentId));
}

async function surveyOfConversation(conversationId: string) {
  const [row] = await stack.db
    .select()
    .from(surveyResponses)
    .where(eq(surveyResponses.conversationId, conversationId));
  return row;
}

/** As if the survey had been asked `interval` (a PostgreSQL interval) earlier than it was. */
async function askedEarlierBy(conversationId: string, interval: string) {
  await stack.db
    .update(surveyResponses)
    .set({
      askedAt: sql`asked_at - ${interval}::interval`,
      awaitingUntil: sql`awaiting_until - ${interval}::interval`,
    })
    .where(eq(surveyResponses.conversationId, conversationId));
}

describe('the survey after a conversation ends', () => {
  it('records "4" on the closed conversation: no new conversation, no offer, and the transcript says so', async () => {
    const setup = await setUp({ surveyThanksMessage: 'Thank you for your feedback!' });
    const { customer, conversationId } = await endedConversation(setup);

    await stack.text(customer, setup.number.address, '4');
    await stack.received(customer, 'Thank you for your feedback!');

    expect(await surveyOfConversation(conversationId)).toMatchObject({
      scale: 'score',
      score: 4,
      awaitingUntil: null,
    });
    expect(await conversationsOf(customer)).toEqual([{ id: conversationId, state: 'closed' }]);
    expect(await offersTo(setup.user.id)).toHaveLength(1);
    const answered = await stack.db
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.conversationId, conversationId), eq(events.type, 'survey.answered')));
    expect(answered).toEqual([{ payload: expect.objectContaining({ score: 4, scale: 'score' }) }]);
  });

  it('shows the score and the comment in the transcript, as the customer’s', async () => {
    const setup = await setUp({ surveyCommentPrompt: 'Anything to add?' });
    const { customer, conversationId } = await endedConversation(setup);
    await stack.text(customer, setup.number.address, '5');
    await stack.received(customer, 'Anything to add?');
    await stack.text(customer, setup.number.address, 'Quick and kind');
    await eventually(
      async () => (await surveyOfConversation(conversationId))?.comment ?? undefined,
    );
    const transcript = (await setup.get(`/api/conversations/${conversationId}`)) as {
      activity: { kind: string; actorId: string | null }[];
      messages: { body: string; direction: string }[];
    };
    expect(transcript.activity.filter((a) => a.kind.startsWith('survey'))).toEqual([
      expect.objectContaining({ kind: 'survey', scale: 'score', score: 5, actorId: null }),
      expect.objectContaining({ kind: 'survey-comment', comment: 'Quick and kind' }),
    ]);
    expect(transcript.messages.filter((m) => m.direction === 'inbound').map((m) => m.body)).toEqual(
      ['My parcel is late', '5', 'Quick and kind'],
    );
  });

  it('asks for a comment after the score and keeps the next text as it', async () => {
    const setup = await setUp({
      surveyCommentPrompt: 'Thanks! Anything we could do better?',
      surveyThanksMessage: 'Noted, thank you.',
    });
    const { customer, conversationId } = await endedConversation(setup);

    await stack.text(customer, setup.number.address, '2/5');
    await stack.received(customer, 'Thanks! Anything we could do better?');
    await stack.text(customer, setup.number.address, 'Answer faster please');
    await stack.received(customer, 'Noted, thank you.');

    expect(await surveyOfConversation(conversationId)).toMatchObject({
      score: 2,
      comment: 'Answer faster please',
      awaitingUntil: null,
    });
    expect(await conversationsOf(customer)).toHaveLength(1);

    // The survey is complete: the customer's next text is a new conversation.
    await stack.text(customer, setup.number.address, 'Another question');
    await pendingOfferTo(setup.user.id);
    expect(await conversationsOf(customer)).toHaveLength(2);
  });

  it('takes yes or no on a yes/no survey', async () => {
    const setup = await setUp({ surveyScale: 'yes-no', surveyMessage: QUESTION });
    const { customer, conversationId } = await endedConversation(setup);
    await stack.text(customer, setup.number.address, 'Yes!');
    const survey = await eventually(async () => {
      const row = await surveyOfConversation(conversationId);
      return row?.score === null ? undefined : row;
    });
    expect(survey).toMatchObject({ scale: 'yes-no', score: 1 });
    expect(await conversationsOf(customer)).toHaveLength(1);
  });

  it('opens a new conversation for a text that is not an answer, and ends the wait', async () => {
    const setup = await setUp();
    const { customer, conversationId } = await endedConversation(setup);

    await stack.text(customer, setup.number.address, '5 items are still missing from my order');
    const offer = await pendingOfferTo(setup.user.id);
    expect(offer.conversationId).not.toBe(conversationId);
    expect(await surveyOfConversation(conversationId)).toMatchObject({
      score: null,
      awaitingUntil: null,
    });
  });

  it('opens a new conversation for a reply after the window (two days later)', async () => {
    const setup = await setUp();
    const { customer, conversationId } = await endedConversation(setup);
    // As if the survey had been sent two days ago, with the default 24-hour window.
    await stack.db
      .update(surveyResponses)
      .set({
        askedAt: sql`now() - interval '2 days'`,
        awaitingUntil: sql`now() - interval '1 day'`,
      })
      .where(eq(surveyResponses.conversationId, conversationId));

    await stack.text(customer, setup.number.address, '4');
    const offer = await pendingOfferTo(setup.user.id);
    expect(offer.conversationId).not.toBe(conversationId);
    expect((await surveyOfConversation(conversationId))?.score).toBeNull();
  });

  it('waits 24 hours by default: a "4" 23 hours after the question is the answer', async () => {
    const setup = await setUp();
    const { customer, conversationId } = await endedConversation(setup);
    const asked = await surveyOfConversation(conversationId);
    expect(asked!.awaitingUntil!.getTime() - asked!.askedAt.getTime()).toBe(24 * 3_600_000);
    // As if the question had been sent 23 hours ago: still within the window.
    await askedEarlierBy(conversationId, '23 hours');

    await stack.text(customer, setup.number.address, '4');
    await eventually(async () => (await surveyOfConversation(conversationId))?.score ?? undefined);
    expect((await surveyOfConversation(conversationId))?.score).toBe(4);
    expect(await conversationsOf(customer)).toEqual([{ id: conversationId, state: 'closed' }]);
    expect(await offersTo(setup.user.id)).toHaveLength(1);
  });

  it('waits the flow\'s surveyWindowMinutes when set: a "4" 31 minutes after a 30-minute window\'s question opens a conversation', async () => {
    const setup = await setUp({ surveyWindowMinutes: 30 });
    const { customer, conversationId } = await endedConversation(setup);
    const asked = await surveyOfConversation(conversationId);
    expect(asked!.awaitingUntil!.getTime() - asked!.askedAt.getTime()).toBe(30 * 60_000);
    await askedEarlierBy(conversationId, '31 minutes');

    await stack.text(customer, setup.number.address, '4');
    const offer = await pendingOfferTo(setup.user.id);
    expect(offer.conversationId).not.toBe(conversationId);
    expect((await surveyOfConversation(conversationId))?.score).toBeNull();
    expect(await conversationsOf(customer)).toHaveLength(2);
  });

  it('of two texts at once, takes one as the answer and opens one conversation for the other', async () => {
    const setup = await setUp();
    const { customer, conversationId } = await endedConversation(setup);

    await Promise.all([
      stack.text(customer, setup.number.address, '5'),
      stack.text(customer, setup.number.address, '3'),
    ]);
    const survey = await surveyOfConversation(conversationId);
    expect([3, 5]).toContain(survey?.score);
    const all = await conversationsOf(customer);
    expect(all).toHaveLength(2);
    await pendingOfferTo(setup.user.id);
  });

  it('gives way to the agent: after an on-reply text, the answer "2" goes to the agent, not the survey', async () => {
    const setup = await setUp();
    const { customer, conversationId } = await endedConversation(setup);
    const origination = await setup.post('/api/originations', {
      numberId: setup.number.id,
      to: customer,
      body: 'How many replacement parcels do you need?',
      strategy: 'on-reply',
    });
    expect(origination.status).toBe(202);
    await stack.received(customer, 'How many replacement parcels do you need?');

    await stack.text(customer, setup.number.address, '2');
    const offer = await pendingOfferTo(setup.user.id);
    expect(offer.conversationId).not.toBe(conversationId);
    expect((await surveyOfConversation(conversationId))?.score).toBeNull();
  });

  it('takes a reply as the answer to the latest survey only', async () => {
    const setup = await setUp();
    const first = await endedConversation(setup);
    // The agent opens a second conversation while the first survey waits, and ends it: a
    // second survey, the only one a reply answers now.
    const opened = await setup.post('/api/originations', {
      numberId: setup.number.id,
      to: first.customer,
      body: 'Your parcel is on its way',
      strategy: 'assign-now',
    });
    expect(opened.status).toBe(202);
    const { conversationId: second } = (await opened.json()) as { conversationId: string };
    expect((await setup.post(`/api/conversations/${second}/end`)).status).toBe(204);
    await stack.inbox(first.customer, 5);
    expect((await surveyOfConversation(first.conversationId))?.awaitingUntil).toBeNull();

    await stack.text(first.customer, setup.number.address, '5');
    await eventually(async () => (await surveyOfConversation(second))?.score ?? undefined);
    await stack.text(first.customer, setup.number.address, '3');
    await pendingOfferTo(setup.user.id);
    expect((await surveyOfConversation(first.conversationId))?.score).toBeNull();
    expect((await surveyOfConversation(second))?.score).toBe(5);
  });

  it('waits on nothing when the flow has no survey', async () => {
    const setup = await setUp({ surveyMessage: null });
    const customer = phoneNumber();
    await stack.text(customer, setup.number.address, 'Hello');
    const offer = await pendingOfferTo(setup.user.id);
    expect((await setup.post(`/api/offers/${offer.id}/accept`)).status).toBe(200);
    expect((await setup.post(`/api/conversations/${offer.conversationId}/end`)).status).toBe(204);
    await stack.received(customer, 'Thanks for contacting us.');
    expect(await surveyOfConversation(offer.conversationId)).toBeUndefined();

    await stack.text(customer, setup.number.address, '5');
    await pendingOfferTo(setup.user.id);
    expect(await conversationsOf(customer)).toHaveLength(2);
  });
});

describe("a flow's survey settings in the admin API", () => {
  it('keeps the scale and the window (24 hours unless set), and refuses a window outside 5 minutes to 7 days', async () => {
    const headers = {
      ...(await signIn(stack.parley.store, 'admin')).headers,
      'content-type': 'application/json',
    };
    const save = (body: object) =>
      fetch(`${stack.parley.url}/api/admin/flows`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: `Survey ${randomBytes(3).toString('hex')}`, ...body }),
      });
    const plain = await save({ surveyMessage: QUESTION });
    expect(plain.status).toBe(201);
    expect(await plain.json()).toMatchObject({ surveyScale: 'score', surveyWindowMinutes: 1440 });
    const set = await save({
      surveyMessage: QUESTION,
      surveyScale: 'yes-no',
      surveyWindowMinutes: 90,
    });
    expect(set.status).toBe(201);
    expect(await set.json()).toMatchObject({ surveyScale: 'yes-no', surveyWindowMinutes: 90 });
    for (const minutes of [4, 10_081]) {
      const refused = await save({ surveyMessage: QUESTION, surveyWindowMinutes: minutes });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({
        error: 'bad_request',
        field: 'surveyWindowMinutes',
      });
    }
    const badScale = await save({ surveyMessage: QUESTION, surveyScale: 'stars' });
    expect(badScale.status).toBe(400);
    expect(await badScale.json()).toMatchObject({ field: 'surveyScale' });
  });
});

describe('what counts as an answer', () => {
  it.each([
    ['4', 4],
    [' 5. ', 5],
    ['3/5', 3],
    ['1 star', 1],
    ['2 out of 5', 2],
    ['Four', 4],
    ['⭐️⭐️⭐️', 3],
    ['★★★★★', 5],
  ])('reads %j as the score %d', (text, score) => {
    expect(parseSurveyAnswer('score', text)).toBe(score);
  });

  it.each(['0', '6', '45', '5 items are missing', 'thanks', '', '4?', 'call me'])(
    'does not read %j as a score',
    (text) => {
      expect(parseSurveyAnswer('score', text)).toBeUndefined();
    },
  );

  it('reads yes and no on a yes/no survey, and nothing else', () => {
    expect(parseSurveyAnswer('yes-no', 'YES')).toBe(1);
    expect(parseSurveyAnswer('yes-no', 'nope')).toBe(0);
    expect(parseSurveyAnswer('yes-no', '👍')).toBe(1);
    expect(parseSurveyAnswer('yes-no', '5')).toBeUndefined();
    expect(parseSurveyAnswer('yes-no', 'yes but slow')).toBeUndefined();
  });
});
