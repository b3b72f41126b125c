/**
 * Search over conversations and contacts through the API: words in messages (through the
 * full-text index, with few matches and with many), phone numbers typed any way, names,
 * dates, the other filters, cursor paging, and what an agent may find.
 */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations, messages, surveyResponses } from '../src/db/schema.js';
import { FEW_MATCHES } from '../src/search/search.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  buildNumber,
  buildQueue,
  conversationInFlow,
  hex,
  phoneNumber,
} from './helpers/factories.js';

let t: TestApp;
let agent: SignedIn;
let colleague: SignedIn;
let supervisor: SignedIn;
let numberId: string;
beforeAll(async () => {
  t = await buildTestApp();
  agent = await signIn(t.store, 'agent');
  colleague = await signIn(t.store, 'agent');
  supervisor = await signIn(t.store, 'supervisor');
  // A +1 number: national formats are read with its calling code.
  numberId = (await buildNumber(t.store.db)).id;
});
afterAll(() => t?.close());

interface Hit {
  id: string;
  state: string;
  customerAddress: string;
  contactName: string | null;
  agentId: string | null;
  queueId: string | null;
  disposition: string | null;
  score: number | null;
  match: { snippet: string; createdAt: string } | null;
}
interface Page<T> {
  results: T[];
  nextCursor: string | null;
}

async function search(who: SignedIn, query: Record<string, string>): Promise<Page<Hit>> {
  const response = await t.app.inject({
    method: 'GET',
    url: `/api/search/conversations?${new URLSearchParams(query)}`,
    headers: who.headers,
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as Page<Hit>;
}

const idsOf = (page: Page<Hit>) => page.results.map((hit) => hit.id);

/** Every result of a search, page after page (limit each); fails on a repeated result. */
async function allPages(who: SignedIn, query: Record<string, string>, limit: number) {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await search(who, {
      ...query,
      limit: String(limit),
      ...(cursor && { cursor }),
    });
    expect(page.results.length).toBeLessThanOrEqual(limit);
    ids.push(...idsOf(page));
    cursor = page.nextCursor;
  } while (cursor);
  expect(new Set(ids).size).toBe(ids.length);
  return ids;
}

interface Made {
  customer?: string;
  state?: 'flow' | 'queued' | 'active' | 'closed';
  agent?: SignedIn;
  queueId?: string;
  createdAt?: string;
  disposition?: string;
  texts?: string[];
  /** The business number it is on (the file's number unless told). */
  numberId?: string;
}

/** A conversation as it would be after its life so far (closed unless told), with its texts. */
async function conversation(made: Made = {}) {
  const db = t.store.db;
  const onNumber = made.numberId ?? numberId;
  const created = await conversationInFlow(db, onNumber, made.customer ?? phoneNumber());
  const state = made.state ?? 'closed';
  await db
    .update(conversations)
    .set({
      state,
      closedAt: state === 'closed' ? new Date() : null,
      agentId: made.agent?.user.id ?? null,
      queueId: made.queueId ?? null,
      disposition: made.disposition ?? null,
      ...(made.createdAt && { createdAt: new Date(made.createdAt) }),
    })
    .where(eq(conversations.id, created.id));
  for (const body of made.texts ?? []) {
    await db.insert(messages).values({
      conversationId: created.id,
      numberId: onNumber,
      direction: 'inbound',
      author: 'customer',
      fromAddress: created.customerAddress,
      toAddress: 'us',
      body,
      status: 'received',
    });
  }
  return created;
}

/** A word no other test uses. */
const word = () => `w${hex(5)}`;

describe('words in messages', () => {
  it('finds the conversation whose message holds the words, and not the others', async () => {
    const parcel = word();
    const found = await conversation({ texts: ['Hi', `My ${parcel} arrived broken, again`] });
    await conversation({ texts: [`My ${parcel} arrived fine`] });
    await conversation({ texts: ['Something else broken'] });

    const page = await search(supervisor, { q: `${parcel} broken` });
    expect(idsOf(page)).toEqual([found.id]);
    expect(page.results[0]!.match!.snippet).toContain(`${parcel} arrived broken`);
    expect(new Date(page.results[0]!.match!.createdAt).getTime()).toBeGreaterThan(0);
    expect(page.nextCursor).toBeNull();
  });

  it("finds a conversation by its contact's name among the words", async () => {
    const surname = word();
    const named = await conversation({ texts: ['no words of interest'] });
    await t.store.db.execute(
      sql`UPDATE contacts SET name = ${`Maria ${surname}`} WHERE id = ${named.contactId}`,
    );
    const page = await search(supervisor, { q: surname });
    expect(idsOf(page)).toEqual([named.id]);
    expect(page.results[0]).toMatchObject({ contactName: `Maria ${surname}`, match: null });
  });

  it('pages through many matches newest first, each once, with few and with many matching messages', async () => {
    const rare = word();
    const made: string[] = [];
    for (let day = 1; day <= 12; day++) {
      const created = await conversation({
        createdAt: `2025-03-${String(day).padStart(2, '0')}T10:00:00Z`,
        texts: [`about ${rare}`],
      });
      made.unshift(created.id);
    }
    expect(await allPages(supervisor, { q: rare }, 5)).toEqual(made);

    // More messages than FEW_MATCHES hold a common word: the search walks conversations.
    const common = word();
    await t.store.db.execute(
      sql`INSERT INTO messages (conversation_id, number_id, direction, author, from_address,
                                to_address, body, status)
          SELECT ${made[0]}::uuid, ${numberId}::uuid, 'inbound', 'customer', 'x', 'us',
                 ${`a ${common} text`} || i, 'received'
          FROM generate_series(1, ${FEW_MATCHES + 1}) AS i`,
    );
    const alsoCommon = await conversation({ texts: [`the ${common} word`] });
    expect(await allPages(supervisor, { q: common }, 1)).toEqual([alsoCommon.id, made[0]]);
    expect(await allPages(supervisor, { q: `${common} OR ${rare}` }, 5)).toEqual([
      alsoCommon.id,
      ...made,
    ]);
  });
});

describe('phone numbers', () => {
  it("finds a customer's conversations by a national-format number, and by its last digits", async () => {
    const customer = `+1425230${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    const first = await conversation({ customer, createdAt: '2025-04-01T09:00:00Z' });
    const second = await conversation({ customer, createdAt: '2025-04-02T09:00:00Z' });
    await conversation();
    const national = `(425) 230-${customer.slice(-4)}`;

    expect(idsOf(await search(supervisor, { phone: national }))).toEqual([second.id, first.id]);
    expect(idsOf(await search(supervisor, { phone: national, defaultCountry: 'US' }))).toEqual([
      second.id,
      first.id,
    ]);
    expect(idsOf(await search(supervisor, { phone: customer }))).toEqual([second.id, first.id]);
    const byDigits = idsOf(await search(supervisor, { phone: `230${customer.slice(-4)}` }));
    expect(byDigits).toContain(first.id);
    expect(byDigits).toContain(second.id);
  });

  it('finds contacts by phone number and by name', async () => {
    const surname = word();
    const made = await conversation();
    await t.store.db.execute(
      sql`UPDATE contacts SET name = ${`Ann ${surname}`}, email = ${`ann.${surname}@example.com`}
          WHERE id = ${made.contactId}`,
    );
    for (const q of [
      made.customerAddress,
      `Ann ${surname.slice(0, 4)}`,
      `ann.${surname}@example.com`,
    ]) {
      const response = await t.app.inject({
        method: 'GET',
        url: `/api/search/contacts?${new URLSearchParams({ q })}`,
        headers: supervisor.headers,
      });
      expect(response.statusCode).toBe(200);
      const page = response.json() as Page<{ id: string; name: string; conversations: number }>;
      expect(page.results.map((c) => c.id)).toContain(made.contactId);
      expect(page.results.find((c) => c.id === made.contactId)).toMatchObject({
        name: `Ann ${surname}`,
        conversations: 1,
      });
    }
  });
});

describe('filters', () => {
  it('finds exactly the conversations started in a date range', async () => {
    const queue = await buildQueue(t.store.db, []);
    const [before, first, last, after] = await Promise.all(
      [
        '2025-05-09T23:59:59Z',
        '2025-05-10T00:00:00Z',
        '2025-05-11T23:59:59Z',
        '2025-05-12T00:00:00Z',
      ].map((createdAt) => conversation({ queueId: queue.id, createdAt })),
    );
    const inRange = await search(supervisor, {
      queueId: queue.id,
      from: '2025-05-10',
      to: '2025-05-11',
    });
    expect(idsOf(inRange)).toEqual([last!.id, first!.id]);
    const byInstants = await search(supervisor, {
      queueId: queue.id,
      from: '2025-05-09T23:59:59Z',
      to: '2025-05-12T00:00:00+00:00',
    });
    expect(idsOf(byInstants)).toEqual([last!.id, first!.id, before!.id]);
    expect(idsOf(await search(supervisor, { queueId: queue.id }))).toContain(after!.id);
  });

  it('filters by agent, queue, number, state, disposition, score and name', async () => {
    const queue = await buildQueue(t.store.db, []);
    const topic = word();
    const closedByAgent = await conversation({
      agent,
      queueId: queue.id,
      disposition: 'resolved',
      texts: [topic],
    });
    const activeWithColleague = await conversation({
      agent: colleague,
      queueId: queue.id,
      state: 'active',
      texts: [topic],
    });
    const elsewhere = await conversation({ agent, disposition: 'resolved', texts: [topic] });
    const otherNumber = await buildNumber(t.store.db);
    const onOtherNumber = await conversation({ numberId: otherNumber.id, texts: [topic] });
    await t.store.db.insert(surveyResponses).values([
      {
        conversationId: closedByAgent.id,
        numberId,
        customerAddress: 'x',
        scale: 'score',
        score: 4,
      },
      { conversationId: elsewhere.id, numberId, customerAddress: 'y', scale: 'score', score: 2 },
    ]);
    await t.store.db.execute(
      sql`UPDATE contacts SET name = ${`Zed ${topic}`} WHERE id = ${elsewhere.contactId}`,
    );

    const ids = (query: Record<string, string>) =>
      search(supervisor, { q: topic, ...query }).then(idsOf);
    expect(await ids({ agentId: agent.user.id })).toEqual([elsewhere.id, closedByAgent.id]);
    expect(await ids({ queueId: queue.id })).toEqual([activeWithColleague.id, closedByAgent.id]);
    expect(await ids({ numberId: otherNumber.id })).toEqual([onOtherNumber.id]);
    expect(await ids({ numberId })).toEqual([
      elsewhere.id,
      activeWithColleague.id,
      closedByAgent.id,
    ]);
    expect(await ids({ state: 'active' })).toEqual([activeWithColleague.id]);
    expect(await ids({ state: 'open' })).toEqual([activeWithColleague.id]);
    expect(await ids({ disposition: 'resolved', queueId: queue.id })).toEqual([closedByAgent.id]);
    expect(await ids({ scoreMin: '4' })).toEqual([closedByAgent.id]);
    expect(await ids({ scoreMax: '3' })).toEqual([elsewhere.id]);
    expect(await ids({ name: `ze ${topic.slice(0, 5)}` })).toEqual([elsewhere.id]);
    const [scored] = (await search(supervisor, { q: topic, scoreMin: '4' })).results;
    expect(scored).toMatchObject({ score: 4, disposition: 'resolved', agentId: agent.user.id });
  });
});

describe('what an agent finds', () => {
  it("finds their own conversations, never another agent's, and a held contact's past ones", async () => {
    const topic = word();
    const mine = await conversation({ agent, texts: [`${topic} one`] });
    const customer = phoneNumber();
    const theirs = await conversation({ agent: colleague, customer, texts: [`${topic} two`] });
    const queued = await conversation({ state: 'queued', texts: [`${topic} three`] });

    const agentIds = async (query: Record<string, string>) => idsOf(await search(agent, query));
    expect(await agentIds({ q: topic })).toEqual([mine.id]);
    expect(await agentIds({ phone: customer })).toEqual([]);
    expect(await agentIds({ agentId: colleague.user.id })).not.toContain(theirs.id);
    expect(idsOf(await search(supervisor, { q: topic }))).toEqual([queued.id, theirs.id, mine.id]);

    // Talking to that customer now, the agent reads their past conversations.
    const now = await conversation({ agent, customer, state: 'active', texts: [`${topic} four`] });
    expect(await agentIds({ q: topic })).toEqual([now.id, theirs.id, mine.id]);

    const contacts = async (who: SignedIn) => {
      const response = await t.app.inject({
        method: 'GET',
        url: `/api/search/contacts?${new URLSearchParams({ q: customer })}`,
        headers: who.headers,
      });
      return (response.json() as Page<{ id: string; conversations: number }>).results;
    };
    expect(await contacts(agent)).toEqual([expect.objectContaining({ conversations: 2 })]);
    const stranger = await signIn(t.store, 'agent');
    expect(await contacts(stranger)).toEqual([]);
  });
});

describe('what an agent finds by a common word', () => {
  it("finds their own and a held contact's, not a colleague's, when many messages hold it", async () => {
    const common = word();
    const customer = phoneNumber();
    const theirs = await conversation({ agent: colleague, customer, texts: [`${common} a`] });
    const other = await conversation({ agent: colleague, texts: [`${common} b`] });
    // More messages than FEW_MATCHES: the search walks the agent's conversations.
    await t.store.db.execute(
      sql`INSERT INTO messages (conversation_id, number_id, direction, author, from_address,
                                to_address, body, status)
          SELECT ${other.id}::uuid, ${numberId}::uuid, 'inbound', 'customer', 'x', 'us',
                 ${`${common} again`} || i, 'received'
          FROM generate_series(1, ${FEW_MATCHES + 1}) AS i`,
    );
    const mine = await conversation({ agent, texts: [`${common} c`] });
    expect(idsOf(await search(agent, { q: common }))).toEqual([mine.id]);

    const now = await conversation({ agent, customer, state: 'active', texts: [`${common} d`] });
    expect(await allPages(agent, { q: common }, 1)).toEqual([now.id, mine.id, theirs.id]);
    expect(idsOf(await search(supervisor, { q: common }))).toEqual([
      now.id,
      mine.id,
      other.id,
      theirs.id,
    ]);
  });
});

describe('bad requests', () => {
  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['state=gone', 'state'],
    ['from=yesterday', 'from'],
    ['to=2025-13-01', 'to'],
    ['from=2025-02-02&to=2025-02-01', 'to'],
    ['agentId=abc', 'agentId'],
    ['scoreMin=6', 'scoreMin'],
    ['scoreMin=4&scoreMax=2', 'scoreMax'],
    ['cursor=bm9wZQ', 'cursor'],
    [
      `cursor=${Buffer.from('2026-02-31T00:00:00.000000Z 5b0f4c1e-9a57-4a49-9d59-0c4f3c0f8a11').toString('base64url')}`,
      'cursor',
    ],
    [
      `cursor=${Buffer.from('2026-13-45T00:00:00.000000Z 5b0f4c1e-9a57-4a49-9d59-0c4f3c0f8a11').toString('base64url')}`,
      'cursor',
    ],
    ['to=9999-12-31', 'to'],
    ['q=%21%21%21', 'q'],
    ['name=%2A', 'name'],
    ['phone=ab', 'phone'],
    ['phone=12', 'phone'],
    ['defaultCountry=XX', 'defaultCountry'],
  ])('%s → 400 naming %s', async (query, field) => {
    const response = await t.app.inject({
      method: 'GET',
      url: `/api/search/conversations?${query}`,
      headers: supervisor.headers,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'bad_request', field });
  });

  it('answers 401 to a caller not signed in', async () => {
    for (const url of ['/api/search/conversations?q=x', '/api/search/contacts?q=x']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode).toBe(401);
    }
  });
});
