import { and, eq, inArray, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NumberRow } from '../src/admin/numbers.js';
import { createQueue } from '../src/admin/queues.js';
import type { InboundMessage } from '../src/channels/twilio/webhooks.js';
import {
  affinities,
  contacts,
  conversations,
  events,
  messages,
  outbox,
  users,
} from '../src/db/schema.js';
import { queryRows, type Store } from '../src/db/store.js';
import { closeConversation } from '../src/flows/closing.js';
import { createFlow, type Flow } from '../src/flows/flows.js';
import { InboundBatcher } from '../src/inbound/batch.js';
import { type InboundOutcome, receiveInbound } from '../src/inbound/receive.js';
import { buildAgent, buildNumber, buildQueue, hex, phoneNumber } from './helpers/factories.js';
import { eventually } from './helpers/stack.js';
import { openTestStore, someoneWaitsForALock, TEST_DATABASE_URL } from './helpers/store.js';

let store: Store & { databaseUrl?: string };
let number: NumberRow;
let otherAccountsNumber: NumberRow;
beforeAll(async () => {
  store = await openTestStore();
  number = await buildNumber(store.db);
  otherAccountsNumber = await buildNumber(store.db);
  // A message that fails in the store, as a broken row would, whatever batch it is in.
  await store.db.execute(sql`
    CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.body = 'poison' THEN RAISE EXCEPTION 'poisoned message'; END IF;
      RETURN NEW;
    END $$`);
  await store.db.execute(sql`
    CREATE TRIGGER refuse_poison BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION refuse_poison()`);
});
afterAll(async () => {
  await store?.close();
});

function text(from: string, body: string, sid = `SM${hex(16)}`): InboundMessage {
  return { messageSid: sid, from, to: number.address, body, media: [], location: {} };
}

/** Conversations open for each handset, as a text of each opens them. */
async function openConversations(batcher: InboundBatcher, handsets: string[]) {
  const outcomes = await Promise.all(
    handsets.map((from) => batcher.receive(number, undefined, text(from, 'hello'))),
  );
  return outcomes.map((outcome) => stored(outcome).conversationId!);
}

function stored(outcome: InboundOutcome) {
  if (outcome.duplicate) throw new Error('expected a stored message');
  return outcome;
}

/**
 * Two texts from another handset, received in the same turn of the event loop as what the
 * test sends next: they share its batch, so the batch holds more than the messages under test.
 */
function occupy(batcher: InboundBatcher, from: string): Promise<InboundOutcome>[] {
  return [
    batcher.receive(number, undefined, text(from, 'first')),
    batcher.receive(number, undefined, text(from, 'second')),
  ];
}

async function transactionsOf(messageIds: string[]): Promise<Set<string>> {
  const rows = await queryRows<{ xmin: string }>(
    store.db,
    sql`SELECT xmin::text AS xmin FROM messages WHERE id IN ${messageIds}`,
  );
  return new Set(rows.map((row) => row.xmin));
}

describe('group commit of inbound texts', () => {
  it("keeps a sender's texts in order when only the first tells something new", async () => {
    const batcher = new InboundBatcher(store.db);
    const from = phoneNumber();
    const [conversationId] = await openConversations(batcher, [from]);
    const earlier = new Date(Date.now() - 1000);
    const later = new Date();
    const outcomes = await Promise.all([
      batcher.receive(
        number,
        undefined,
        { ...text(from, 'moved'), location: { FromCity: 'BERGEN' } },
        earlier,
      ),
      batcher.receive(number, undefined, text(from, 'still here'), later),
    ]);
    const ids = outcomes.map((outcome) => stored(outcome).messageId);
    const received = await store.db
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.type, 'message.received'), eq(events.conversationId, conversationId!)))
      .orderBy(events.id);
    expect(received.map((row) => row.payload.messageId).slice(-2)).toEqual(ids);
    const [row] = await store.db
      .select({ lastMessageAt: conversations.lastMessageAt })
      .from(conversations)
      .where(eq(conversations.id, conversationId!));
    expect(row!.lastMessageAt?.getTime()).toBe(later.getTime());
  });

  it('stores texts whose contact learns something in their batch: the others in one statement, they in one transaction', async () => {
    const batcher = new InboundBatcher(store.db);
    const [known, moved] = [phoneNumber(), phoneNumber()];
    const [knownConversation, movedConversation] = await openConversations(batcher, [known, moved]);
    const outcomes = await Promise.all([
      batcher.receive(number, undefined, text(known, 'same place')),
      batcher.receive(number, undefined, {
        ...text(moved, 'new place'),
        location: { FromCity: 'OSLO', FromCountry: 'NO' },
      }),
    ]);
    expect(outcomes.map((outcome) => stored(outcome).conversationId)).toEqual([
      knownConversation,
      movedConversation,
    ]);
    expect((await transactionsOf(outcomes.map((outcome) => stored(outcome).messageId))).size).toBe(
      2,
    );
    const [contact] = await queryRows<{ attributes: Record<string, string> }>(
      store.db,
      sql`SELECT attributes FROM contacts WHERE address = ${moved}`,
    );
    expect(contact!.attributes).toMatchObject({ FromCity: 'OSLO', FromCountry: 'NO' });
    const bodies = await store.db
      .select({ body: messages.body })
      .from(messages)
      .where(eq(messages.conversationId, movedConversation!))
      .orderBy(messages.createdAt);
    expect(bodies.map((row) => row.body)).toEqual(['hello', 'new place']);
  });

  it('stores a batch in one transaction, a duplicate in it once, another account’s SID not at all', async () => {
    const batcher = new InboundBatcher(store.db);
    const handsets = Array.from({ length: 6 }, () => phoneNumber());
    const conversationIds = await openConversations(batcher, handsets);
    const replayed = text(handsets[0]!, 'sent before');
    await batcher.receive(number, undefined, replayed);
    const foreign = { ...text(handsets[1]!, 'forged'), messageSid: `SM${hex(16)}` };
    await batcher.receive(otherAccountsNumber, undefined, {
      ...foreign,
      to: otherAccountsNumber.address,
    });

    const first = occupy(batcher, handsets[5]!);
    const twice = text(handsets[2]!, 'twice in one batch');
    const fresh = handsets.slice(0, 5).map((from, i) => text(from, `fresh ${i}`));
    const outcomes = await Promise.all([
      ...fresh.map((inbound) => batcher.receive(number, undefined, inbound)),
      batcher.receive(number, undefined, twice),
      batcher.receive(number, undefined, twice),
      batcher.receive(number, undefined, replayed),
      batcher.receive(number, undefined, foreign),
      ...first,
    ]);

    const freshIds = outcomes.slice(0, 5).map((outcome) => stored(outcome).messageId);
    expect(outcomes.slice(0, 5).map((outcome) => stored(outcome).conversationId)).toEqual(
      conversationIds.slice(0, 5),
    );
    expect((await transactionsOf(freshIds)).size).toBe(1);
    const [once, again] = [outcomes[5]!, outcomes[6]!];
    expect([once.duplicate, again.duplicate].sort()).toEqual([false, true]);
    expect(outcomes[7]).toEqual({ duplicate: true, sameAccount: true });
    expect(outcomes[8]).toEqual({ duplicate: true, sameAccount: false });

    const sids = [twice, replayed, foreign].map((inbound) => inbound.messageSid);
    const rows = await store.db
      .select({ sid: messages.twilioSid, body: messages.body, numberId: messages.numberId })
      .from(messages)
      .where(inArray(messages.twilioSid, sids));
    expect(rows).toHaveLength(3);
    expect(rows.find((row) => row.sid === foreign.messageSid)?.numberId).toBe(
      otherAccountsNumber.id,
    );
    // One message.received per stored message, in the batch's order.
    const received = await store.db
      .select({ payload: events.payload })
      .from(events)
      .where(eq(events.type, 'message.received'))
      .orderBy(events.id);
    const ids = received.map((row) => row.payload.messageId);
    const positions = freshIds.map((id) => ids.indexOf(id));
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps a poison message from failing its neighbours: they are stored, it alone fails', async () => {
    const batcher = new InboundBatcher(store.db);
    const handsets = Array.from({ length: 7 }, () => phoneNumber());
    await openConversations(batcher, handsets);
    const first = occupy(batcher, handsets[6]!);
    const inbound = handsets
      .slice(0, 6)
      .map((from, i) => text(from, i === 3 ? 'poison' : `ok ${i}`));
    const settled = await Promise.allSettled([
      ...inbound.map((message) => batcher.receive(number, undefined, message)),
      ...first,
    ]);
    expect(settled.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    const rows = await store.db
      .select({ body: messages.body })
      .from(messages)
      .where(
        inArray(
          messages.twilioSid,
          inbound.map((message) => message.messageSid),
        ),
      );
    expect(rows.map((row) => row.body).sort()).toEqual(['ok 0', 'ok 1', 'ok 2', 'ok 4', 'ok 5']);
  });

  it('answers texts into open conversations as stored, and keeps a new sender’s texts in order, when a text poisons the rest of their batch', async () => {
    const batcher = new InboundBatcher(store.db);
    const [talking, chatting, poisoning, arriving] = [
      phoneNumber(),
      phoneNumber(),
      phoneNumber(),
      phoneNumber(),
    ];
    await openConversations(batcher, [talking, chatting]);
    const arrivals = ['first', 'second', 'third', 'fourth'].map((body) => text(arriving, body));
    const inbound = [
      text(talking, 'into an open one'),
      text(chatting, 'into another'),
      arrivals[0]!,
      text(poisoning, 'poison'),
      ...arrivals.slice(1),
    ];
    const settled = await Promise.allSettled(
      inbound.map((message) => batcher.receive(number, undefined, message)),
    );
    expect(settled.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    const messageIds = settled.flatMap((result) =>
      result.status === 'fulfilled' ? [stored(result.value).messageId!] : [],
    );
    expect(messageIds.every(Boolean)).toBe(true);
    const rows = await queryRows<{ body: string; xid: string }>(
      store.db,
      sql`SELECT body, xmin::text AS xid FROM messages WHERE id IN ${messageIds}`,
    );
    expect(rows.map((row) => row.body).sort()).toEqual(
      ['first', 'fourth', 'into an open one', 'into another', 'second', 'third'].sort(),
    );
    // Stored one after the other, in the order they came (on PostgreSQL, texts left to the
    // per-message path at once would race each other).
    const xidOf = new Map(rows.map((row) => [row.body, BigInt(row.xid)]));
    const arrivalXids = ['first', 'second', 'third', 'fourth'].map((body) => xidOf.get(body)!);
    expect(arrivalXids).toEqual([...arrivalXids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it('puts a text whose conversation was closed into a new conversation, its neighbour into theirs', async () => {
    const batcher = new InboundBatcher(store.db);
    const [leaving, staying, busy] = [phoneNumber(), phoneNumber(), phoneNumber()];
    const [closing, open] = await openConversations(batcher, [leaving, staying, busy]);
    const first = occupy(batcher, busy);
    await store.db.transaction((tx) => closeConversation(tx, closing!, { reason: 'ended' }));
    const after = [
      batcher.receive(number, undefined, text(leaving, 'after the close')),
      batcher.receive(number, undefined, text(staying, 'still here')),
    ];
    const [late, kept] = (await Promise.all([...after, ...first])).map(stored);
    expect(kept!.conversationId).toBe(open);
    expect(late!.conversationId).not.toBe(closing);
    const [reopened] = await store.db
      .select({ state: conversations.state, address: conversations.customerAddress })
      .from(conversations)
      .where(eq(conversations.id, late!.conversationId!));
    expect(reopened).toEqual({ state: 'queued', address: leaving });
  });

  it.skipIf(!TEST_DATABASE_URL)(
    'waits for a close being committed, then opens a new conversation for the text',
    async () => {
      const batcher = new InboundBatcher(store.db);
      const [leaving, staying] = [phoneNumber(), phoneNumber()];
      const [closing, open] = await openConversations(batcher, [leaving, staying]);
      const closer = new pg.Client({ connectionString: store.databaseUrl });
      await closer.connect();
      try {
        await closer.query('BEGIN');
        await closer.query(
          `UPDATE conversations SET state = 'closed', closed_at = now() WHERE id = $1`,
          [closing],
        );
        const arriving = Promise.all([
          batcher.receive(number, undefined, text(leaving, 'during the close')),
          batcher.receive(number, undefined, text(staying, 'meanwhile')),
        ]);
        // The batch holding the closing conversation's text waits on the close's row lock.
        await eventually(() => someoneWaitsForALock(store.db), 10_000);
        await closer.query('COMMIT');
        const [late, kept] = (await arriving).map(stored);
        expect(kept!.conversationId).toBe(open);
        expect(late!.conversationId).not.toBe(closing);
        const inClosed = await store.db
          .select({ id: messages.id })
          .from(messages)
          .where(eq(messages.conversationId, closing!));
        expect(inClosed).toHaveLength(1);
      } finally {
        await closer.end();
      }
    },
  );

  it.skipIf(!TEST_DATABASE_URL)(
    'opens no conversation for a text whose SID another instance stores while its batch runs: it is a duplicate',
    async () => {
      const batcher = new InboundBatcher(store.db);
      const customer = phoneNumber();
      const delivered = text(customer, 'delivered twice');
      const other = new pg.Client({ connectionString: store.databaseUrl });
      await other.connect();
      try {
        // The other instance's delivery of the same SID, stored (as a keyword text would be,
        // with no conversation) but not yet committed when the batch looks for it.
        await other.query('BEGIN');
        await other.query(
          `INSERT INTO messages (number_id, direction, author, from_address, to_address, body,
                                 twilio_sid, status)
           VALUES ($1, 'inbound', 'customer', $2, $3, $4, $5, 'received')`,
          [number.id, customer, number.address, delivered.body, delivered.messageSid],
        );
        const arriving = batcher.receive(number, undefined, delivered);
        // The batch has opened the customer's conversation and waits on the SID's index entry.
        await eventually(() => someoneWaitsForALock(store.db), 10_000);
        await other.query('COMMIT');
        expect((await arriving).duplicate).toBe(true);
        const opened = await store.db
          .select({ id: conversations.id })
          .from(conversations)
          .where(eq(conversations.customerAddress, customer));
        expect(opened).toEqual([]);
      } finally {
        await other.end();
      }
    },
  );

  /**
   * Closes the conversation, then erases its contact as eraseContact does in its transaction
   * (keepOptOuts renames the row) while `arrive` delivers a text from them; returns the
   * contact of the conversation the text opened and the erased contact.
   */
  async function eraseWhile(
    conversationId: string,
    arrive: () => Promise<InboundOutcome>,
  ): Promise<{ erased: string; opened: { contactId: string; address: string } }> {
    const [{ erased }] = (await store.db
      .update(conversations)
      .set({ state: 'closed', closedAt: new Date() })
      .where(eq(conversations.id, conversationId))
      .returning({ erased: conversations.contactId })) as [{ erased: string }];
    const eraser = new pg.Client({ connectionString: store.databaseUrl });
    await eraser.connect();
    try {
      await eraser.query('BEGIN');
      await eraser.query('SELECT address FROM contacts WHERE id = $1 FOR UPDATE', [erased]);
      const arriving = arrive();
      await eventually(() => someoneWaitsForALock(store.db), 10_000);
      await eraser.query(
        `UPDATE contacts SET address = 'erased:' || id, erased_at = now() WHERE id = $1`,
        [erased],
      );
      await eraser.query('COMMIT');
      const late = stored(await arriving);
      const [opened] = await store.db
        .select({ contactId: conversations.contactId, address: contacts.address })
        .from(conversations)
        .innerJoin(contacts, eq(contacts.id, conversations.contactId))
        .where(eq(conversations.id, late.conversationId!));
      return { erased, opened: opened! };
    } finally {
      await eraser.end();
    }
  }

  it.skipIf(!TEST_DATABASE_URL)(
    'waits for an erasure being committed, then opens the text a conversation of a contact with its address, never the erased one',
    async () => {
      const batcher = new InboundBatcher(store.db);
      const customer = phoneNumber();
      const [first] = await openConversations(batcher, [customer]);
      const { erased, opened } = await eraseWhile(first!, () =>
        batcher.receive(number, undefined, text(customer, 'during the erasure')),
      );
      expect(opened.contactId).not.toBe(erased);
      expect(opened.address).toBe(customer);
    },
  );

  it.skipIf(!TEST_DATABASE_URL)(
    'on the per-message path too, a text arriving during an erasure never lands on the erased contact',
    async () => {
      const batcher = new InboundBatcher(store.db);
      const customer = phoneNumber();
      const [first] = await openConversations(batcher, [customer]);
      const { erased, opened } = await eraseWhile(first!, () =>
        receiveInbound(store.db, number, undefined, text(customer, 'during the erasure')),
      );
      expect(opened.contactId).not.toBe(erased);
      expect(opened.address).toBe(customer);
    },
  );
});

describe('a text whose open conversation closes as it arrives', () => {
  it.skipIf(!TEST_DATABASE_URL)(
    'goes into a new conversation when the one it met closes before it joins it, never stored without one',
    async () => {
      const batcher = new InboundBatcher(store.db);
      const customer = phoneNumber();
      const [open] = await openConversations(batcher, [customer]);
      // Holds the receiving transaction just after its conversation insert met the open one.
      await store.db.execute(sql`
        CREATE FUNCTION hold_after_conversation_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$`);
      await store.db.execute(sql`
        CREATE TRIGGER hold_after_conversation_insert AFTER INSERT ON conversations
        FOR EACH STATEMENT EXECUTE FUNCTION hold_after_conversation_insert()`);
      const holder = new pg.Client({ connectionString: store.databaseUrl });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock(4242)');
        const late = text(customer, 'just as it ends');
        const receiving = receiveInbound(store.db, number, undefined, late);
        await eventually(() => someoneWaitsForALock(store.db), 10_000);
        await store.db.transaction((tx) => closeConversation(tx, open!, { reason: 'ended' }));
        await holder.query('COMMIT');
        const outcome = stored(await receiving);
        expect(outcome.conversationId).not.toBeNull();
        expect(outcome.conversationId).not.toBe(open);
        const [row] = await store.db
          .select({ conversationId: messages.conversationId })
          .from(messages)
          .where(eq(messages.twilioSid, late.messageSid));
        expect(row!.conversationId).toBe(outcome.conversationId);
      } finally {
        await holder.end();
        await store.db.execute(sql`DROP TRIGGER hold_after_conversation_insert ON conversations`);
        await store.db.execute(sql`DROP FUNCTION hold_after_conversation_insert()`);
      }
    },
  );
});

describe('new conversations in a batch', () => {
  /** Texts from new customers received in one turn of the event loop: one batch. */
  function burst(batcher: InboundBatcher, flow: Flow, texts: InboundMessage[], at?: Date) {
    return Promise.all(texts.map((inbound) => batcher.receive(number, flow, inbound, at)));
  }

  async function eventsOf(conversationId: string) {
    return queryRows<{ type: string; xid: string }>(
      store.db,
      sql`SELECT type, xid::text AS xid FROM events WHERE conversation_id = ${conversationId}
           ORDER BY xid, id`,
    );
  }

  it('opens, greets and queues a burst of new customers in one transaction, two texts of one customer in one conversation', async () => {
    const queue = await createQueue(store.db, { name: `burst ${hex(4)}` });
    const flow = await createFlow(store.db, {
      name: 'Burst',
      businessName: 'Acme',
      queueId: queue.id,
      initialMessage: 'Thanks for writing to {businessName}.',
    });
    const batcher = new InboundBatcher(store.db);
    const handsets = Array.from({ length: 5 }, () => phoneNumber());
    const texts = [
      ...handsets.map((from, i) => text(from, `new ${i}`)),
      text(handsets[0]!, 'and another thing'),
    ];
    const outcomes = (await burst(batcher, flow, texts)).map(stored);

    const conversationIds = outcomes.map((outcome) => outcome.conversationId!);
    expect(new Set(conversationIds).size).toBe(5);
    expect(conversationIds[5]).toBe(conversationIds[0]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ queuedIn: queue.id, flowDue: false });
    }
    const rows = await store.db
      .select({ id: conversations.id, state: conversations.state, queueId: conversations.queueId })
      .from(conversations)
      .where(inArray(conversations.customerAddress, handsets));
    expect(rows).toHaveLength(5);
    for (const row of rows) expect(row).toMatchObject({ state: 'queued', queueId: queue.id });
    const greetings = await store.db
      .select({ to: messages.toAddress, body: messages.body, sender: outbox.sender })
      .from(messages)
      .innerJoin(outbox, eq(outbox.messageId, messages.id))
      .where(inArray(messages.toAddress, handsets));
    expect(greetings.map((g) => g.to).sort()).toEqual([...handsets].sort());
    for (const greeting of greetings) {
      expect(greeting).toMatchObject({
        body: 'Thanks for writing to Acme.',
        sender: number.address,
      });
    }

    const first = await eventsOf(conversationIds[0]!);
    expect(first.map((event) => event.type)).toEqual([
      'conversation.opened',
      'message.received',
      'message.received',
      'flow.hours-checked',
      'message.queued',
      'conversation.queued',
    ]);
    const xids = new Set<string>();
    for (const id of conversationIds) for (const event of await eventsOf(id)) xids.add(event.xid);
    expect(xids.size).toBe(1);
  });

  it('offers a conversation opened with few others to an available agent in the same transaction', async () => {
    const agent = await buildAgent(store.db);
    const queue = await buildQueue(store.db, [agent]);
    const flow = await createFlow(store.db, { name: 'Staffed', queueId: queue.id });
    const batcher = new InboundBatcher(store.db);
    const outcome = stored(await batcher.receive(number, flow, text(phoneNumber(), 'hello?')));
    expect(outcome).toMatchObject({ flowDue: false, queuedIn: null });
    const [row] = await store.db
      .select({ state: conversations.state, agentId: conversations.agentId })
      .from(conversations)
      .where(eq(conversations.id, outcome.conversationId!));
    expect(row).toEqual({ state: 'offered', agentId: agent.id });
    const logged = await eventsOf(outcome.conversationId!);
    expect(logged.map((event) => event.type)).toEqual([
      'conversation.opened',
      'message.received',
      'flow.hours-checked',
      'conversation.queued',
      'offer.created',
    ]);
    expect(new Set(logged.map((event) => event.xid)).size).toBe(1);
  });

  it('offers a burst in its own transaction, the queue’s older waiting conversations first, until the agents are full', async () => {
    const agents = [
      await buildAgent(store.db, { presence: 'away' }),
      await buildAgent(store.db, { presence: 'away' }),
    ];
    const queue = await buildQueue(store.db, agents);
    const flow = await createFlow(store.db, { name: 'Busy', queueId: queue.id });
    const batcher = new InboundBatcher(store.db);
    const earlier = (
      await burst(batcher, flow, [text(phoneNumber(), 'first'), text(phoneNumber(), 'second')])
    ).map(stored);
    for (const outcome of earlier) expect(outcome.queuedIn).toBe(queue.id);
    // Room for six (capacity 3 each) appears with no pass to place the two waiting.
    await store.db
      .update(users)
      .set({ presence: 'available' })
      .where(
        inArray(
          users.id,
          agents.map((agent) => agent.id),
        ),
      );

    const outcomes = (
      await burst(
        batcher,
        flow,
        Array.from({ length: 8 }, (_, i) => text(phoneNumber(), `burst ${i}`)),
      )
    ).map(stored);
    const offeredNow = outcomes.filter((outcome) => outcome.queuedIn === null);
    expect(offeredNow).toHaveLength(4);
    for (const outcome of outcomes.filter((o) => o.queuedIn !== null)) {
      expect(outcome.queuedIn).toBe(queue.id);
    }
    const burstXid = (await eventsOf(outcomes[0]!.conversationId!))[0]!.xid;
    const offeredIds = [...earlier, ...offeredNow].map((outcome) => outcome.conversationId!);
    const offered = await queryRows<{ state: string; agent_id: string; xid: string }>(
      store.db,
      sql`SELECT c.state, c.agent_id, e.xid::text AS xid FROM conversations c
           JOIN events e ON e.conversation_id = c.id AND e.type = 'offer.created'
          WHERE c.id IN ${offeredIds}`,
    );
    expect(offered).toHaveLength(6);
    for (const row of offered) expect(row).toMatchObject({ state: 'offered', xid: burstXid });
    const perAgent = new Map<string, number>();
    for (const row of offered) perAgent.set(row.agent_id, (perAgent.get(row.agent_id) ?? 0) + 1);
    expect(Object.fromEntries(perAgent)).toEqual({ [agents[0]!.id]: 3, [agents[1]!.id]: 3 });
  });

  it('leaves the flow step due when the flow has a bot, or the customer an affinity with an agent', async () => {
    const botFlow = await createFlow(store.db, { name: 'Bot', botUrl: 'http://127.0.0.1:9/bot' });
    const plainFlow = await createFlow(store.db, { name: 'Plain' });
    const [agent] = await store.db
      .insert(users)
      .values({
        email: `agent-${hex(4)}@example.test`,
        name: 'Agent',
        role: 'agent',
        passwordHash: 'unused',
      })
      .returning();
    const [withBot, withAffinity, plain] = [phoneNumber(), phoneNumber(), phoneNumber()];
    await store.db.insert(affinities).values({
      numberId: number.id,
      customerAddress: withAffinity,
      agentId: agent!.id,
      originalText: 'Your order shipped; any questions?',
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const batcher = new InboundBatcher(store.db);
    const outcomes = (
      await Promise.all([
        batcher.receive(number, botFlow, text(withBot, 'hi bot')),
        batcher.receive(number, plainFlow, text(withAffinity, 'about my order')),
        batcher.receive(number, plainFlow, text(plain, 'hello')),
      ])
    ).map(stored);
    expect(outcomes.map(({ flowDue, queuedIn }) => ({ flowDue, queuedIn }))).toEqual([
      { flowDue: true, queuedIn: null },
      { flowDue: true, queuedIn: null },
      { flowDue: false, queuedIn: null },
    ]);
    const states = await store.db
      .select({ address: conversations.customerAddress, state: conversations.state })
      .from(conversations)
      .where(inArray(conversations.customerAddress, [withBot, withAffinity, plain]));
    expect(Object.fromEntries(states.map((row) => [row.address, row.state]))).toEqual({
      [withBot]: 'flow',
      [withAffinity]: 'flow',
      [plain]: 'queued',
    });
  });

  it('answers the replay of a text whose conversation has closed as a duplicate, and opens nothing', async () => {
    const batcher = new InboundBatcher(store.db);
    const handset = phoneNumber();
    const original = text(handset, 'only once');
    const first = stored(await batcher.receive(number, undefined, original));
    await store.db.transaction((tx) =>
      closeConversation(tx, first.conversationId!, { reason: 'ended' }),
    );
    const [replay] = await Promise.all([
      batcher.receive(number, undefined, original),
      ...occupy(batcher, phoneNumber()),
    ]);
    expect(replay).toEqual({ duplicate: true, sameAccount: true });
    const opened = await store.db
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.customerAddress, handset));
    expect(opened).toHaveLength(1);
  });

  it('closes at once, with the out-of-hours response, a conversation opened out of hours when the flow says so', async () => {
    const flow = await createFlow(store.db, {
      name: 'Weekdays',
      timeZone: 'UTC',
      outOfHoursAction: 'close',
      outOfHoursMessage: 'We are closed; write again on Monday.',
      hours: [{ weekday: 1, opensAt: '09:00', closesAt: '17:00' }],
    });
    const sunday = new Date('2026-11-29T12:00:00Z');
    const batcher = new InboundBatcher(store.db);
    const [late, during] = [phoneNumber(), phoneNumber()];
    const outcomes = (
      await Promise.all([
        batcher.receive(number, flow, text(late, 'anyone there?'), sunday),
        batcher.receive(number, undefined, text(during, 'hello'), sunday),
      ])
    ).map(stored);
    const [closed] = await store.db
      .select({ state: conversations.state, reason: conversations.closeReason })
      .from(conversations)
      .where(eq(conversations.id, outcomes[0]!.conversationId!));
    expect(closed).toEqual({ state: 'closed', reason: 'out-of-hours' });
    const [answer] = await store.db
      .select({ body: messages.body })
      .from(messages)
      .where(and(eq(messages.toAddress, late), eq(messages.direction, 'outbound')));
    expect(answer?.body).toBe('We are closed; write again on Monday.');
    expect(outcomes[1]!.queuedIn).toBeNull();
  });

  it.skipIf(!TEST_DATABASE_URL)(
    'opens one conversation when two batches on two connections open it at once',
    async () => {
      const batchers = [new InboundBatcher(store.db), new InboundBatcher(store.db)];
      for (let round = 0; round < 5; round++) {
        const handsets = Array.from({ length: 10 }, () => phoneNumber());
        const outcomes = (
          await Promise.all(
            batchers.flatMap((batcher, b) =>
              handsets.map((from) => batcher.receive(number, undefined, text(from, `via ${b}`))),
            ),
          )
        ).map(stored);
        for (let i = 0; i < handsets.length; i++) {
          expect(outcomes[i]!.conversationId).toBe(outcomes[handsets.length + i]!.conversationId);
        }
        const open = await store.db
          .select({ id: conversations.id })
          .from(conversations)
          .where(inArray(conversations.customerAddress, handsets));
        expect(open).toHaveLength(handsets.length);
      }
    },
  );
});
