import { asc, eq, gt, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertContact } from '../src/consent/contacts.js';
import { openConversation } from '../src/conversations/conversations.js';
import { vacuumWhereDue } from '../src/db/maintenance.js';
import { conversations, events, messages, offers, users } from '../src/db/schema.js';
import { openStore, queryRows, type Store } from '../src/db/store.js';
import { isUniqueViolation } from '../src/errors.js';
import { appendEvent, appendEvents, lastEventSeq } from '../src/event-log.js';
import { numberEvents } from '../src/realtime/sequencer.js';
import { buildNumber, phoneNumber } from './helpers/factories.js';
import { openTestStore, TEST_DATABASE_URL } from './helpers/store.js';

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store?.close());

describe('migrations', () => {
  it('create every table of the domain', async () => {
    const rows = await queryRows<{ table_name: string }>(
      store.db,
      sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    const tables = rows.map((r) => r.table_name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'accounts',
        'affinities',
        'consents',
        'contacts',
        'conversations',
        'events',
        'flow_holidays',
        'flow_hours',
        'flows',
        'media',
        'messages',
        'numbers',
        'offers',
        'outbox',
        'queue_members',
        'queues',
        'users',
      ]),
    );
  });

  it('apply once: running them again changes nothing', async () => {
    const count = async () =>
      (
        await queryRows<{ n: number }>(
          store.db,
          sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`,
        )
      )[0]!.n;
    const before = await count();
    await store.migrate();
    expect(await count()).toBe(before);
    expect(before).toBeGreaterThanOrEqual(2);
  });

  it('leave ANALYZE the statistics no plan reads: message bodies’ words, event payloads', async () => {
    const number = await buildNumber(store.db);
    const contact = await upsertContact(store.db, phoneNumber());
    const { conversation } = await openConversation(store.db, {
      numberId: number.id,
      contactId: contact.id,
      customerAddress: contact.address,
    });
    await store.db.insert(messages).values({
      conversationId: conversation.id,
      numberId: number.id,
      direction: 'inbound',
      author: 'customer',
      fromAddress: contact.address,
      toAddress: number.address,
      body: 'Where is my refund?',
      status: 'received',
    });
    await store.db.execute(sql`ANALYZE messages, events`);
    const gathered = await queryRows<{ relation: string; attname: string }>(
      store.db,
      sql`SELECT tablename AS relation, attname FROM pg_stats
           WHERE (tablename, attname) IN (('events', 'payload'), ('events', 'type'),
                                          ('messages', 'body'))
              OR tablename = 'messages_body_search_idx'
           ORDER BY 1, 2`,
    );
    expect(gathered).toEqual([
      { relation: 'events', attname: 'type' },
      { relation: 'messages', attname: 'body' },
    ]);
  });
});

describe('one message per Twilio MessageSid', () => {
  it('refuses a second message with the same MessageSid', async () => {
    const number = await buildNumber(store.db);
    const message = {
      numberId: number.id,
      direction: 'inbound' as const,
      author: 'customer' as const,
      fromAddress: phoneNumber(),
      toAddress: number.address,
      body: 'hello',
      twilioSid: `SM${'a'.repeat(32)}`,
      status: 'received' as const,
    };
    await store.db.insert(messages).values(message);
    const error = await store.db
      .insert(messages)
      .values(message)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error, 'messages_twilio_sid_key')).toBe(true);
    const stored = await store.db
      .select()
      .from(messages)
      .where(eq(messages.twilioSid, message.twilioSid));
    expect(stored).toHaveLength(1);
  });
});

describe('at most one open conversation per (number, customer)', () => {
  it('20 concurrent attempts to open a conversation for one pair yield exactly one', async () => {
    const number = await buildNumber(store.db);
    const address = phoneNumber();
    const contact = await upsertContact(store.db, address);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        openConversation(store.db, {
          numberId: number.id,
          contactId: contact.id,
          customerAddress: address,
        }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.conversation.id)).size).toBe(1);
    const open = await store.db
      .select()
      .from(conversations)
      .where(eq(conversations.numberId, number.id));
    expect(open).toHaveLength(1);
    const opened = await store.db
      .select()
      .from(events)
      .where(eq(events.conversationId, open[0]!.id));
    expect(opened.map((e) => e.type)).toEqual(['conversation.opened']);
  });

  it('refuses a second open conversation inserted directly, and allows one after closing', async () => {
    const number = await buildNumber(store.db);
    const address = phoneNumber();
    const contact = await upsertContact(store.db, address);
    const pair = { numberId: number.id, contactId: contact.id, customerAddress: address };
    const [first] = await store.db.insert(conversations).values(pair).returning();
    const error = await store.db
      .insert(conversations)
      .values(pair)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error, 'conversations_one_open_per_pair')).toBe(true);

    await store.db
      .update(conversations)
      .set({ state: 'closed', closedAt: new Date() })
      .where(eq(conversations.id, first!.id));
    const { conversation, created } = await openConversation(store.db, pair);
    expect(created).toBe(true);
    expect(conversation.id).not.toBe(first!.id);
  });
});

describe('at most one pending offer per conversation', () => {
  it('refuses a second pending offer and allows a new one once the first is decided', async () => {
    const number = await buildNumber(store.db);
    const address = phoneNumber();
    const contact = await upsertContact(store.db, address);
    const { conversation } = await openConversation(store.db, {
      numberId: number.id,
      contactId: contact.id,
      customerAddress: address,
    });
    const agents = await store.db
      .insert(users)
      .values(
        ['a', 'b'].map((n) => ({
          email: `${n}-${conversation.id}@example.com`,
          name: n,
          role: 'agent' as const,
          passwordHash: 'x',
        })),
      )
      .returning();
    const offer = (agentId: string) => ({
      conversationId: conversation.id,
      agentId,
      expiresAt: new Date(Date.now() + 30_000),
    });
    const [first] = await store.db.insert(offers).values(offer(agents[0]!.id)).returning();
    const error = await store.db
      .insert(offers)
      .values(offer(agents[1]!.id))
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error, 'offers_one_pending_per_conversation')).toBe(true);

    await store.db.update(offers).set({ state: 'rejected' }).where(eq(offers.id, first!.id));
    await expect(store.db.insert(offers).values(offer(agents[1]!.id))).resolves.toBeDefined();
  });
});

/** Runs the sequencer until nothing committed is left unnumbered; how many it numbered. */
async function numberAll(store: Store): Promise<number> {
  let total = 0;
  for (;;) {
    const run = await numberEvents(store.db);
    if (run.busy) continue;
    total += run.numbered;
    if (run.numbered === 0 && run.waiting === 0) return total;
  }
}

describe('the event log', () => {
  it('refuses updates, deletes and truncation', async () => {
    const id = await store.db.transaction((tx) =>
      appendEvent(
        tx,
        'conversation.opened',
        {},
        { numberId: 'n', customerAddress: 'c', origin: 'customer' },
      ),
    );
    await expect(
      store.db.update(events).set({ type: 'changed' }).where(eq(events.id, id)),
    ).rejects.toThrow();
    await expect(store.db.delete(events).where(eq(events.id, id))).rejects.toThrow();
    await expect(store.db.execute(sql`TRUNCATE events`)).rejects.toThrow();
    const [row] = await store.db.select().from(events).where(eq(events.id, id));
    expect(row?.type).toBe('conversation.opened');
  });

  it('numbers committed events once, in (xid, id) order, continuing without a gap', async () => {
    const payload = { numberId: 'n', customerAddress: 'c', origin: 'customer' as const };
    await numberAll(store);
    const before = await lastEventSeq(store.db);
    const appendTwo = () =>
      store.db.transaction(async (tx) => [
        await appendEvent(tx, 'conversation.opened', {}, payload),
        await appendEvent(tx, 'conversation.opened', {}, payload),
      ]);
    const ids = [...(await appendTwo()), ...(await appendTwo())];
    const written = await store.db.select().from(events).where(inArray(events.id, ids));
    if (store.kind === 'pglite') {
      // One transaction at a time: numbered as written, and nothing left for the sequencer.
      expect(written.map((row) => row.seq)).toEqual([1, 2, 3, 4].map((n) => before + n));
      expect(await numberAll(store)).toBe(0);
    } else {
      expect(written.map((row) => row.seq)).toEqual([null, null, null, null]);
      expect(await numberAll(store)).toBe(4);
    }
    const rows = await store.db
      .select({ id: events.id, xid: events.xid, seq: events.seq })
      .from(events)
      .where(inArray(events.id, ids))
      .orderBy(asc(events.seq));
    expect(rows.map((row) => row.seq)).toEqual([before + 1, before + 2, before + 3, before + 4]);
    const logOrder = [...rows].sort((a, b) => Number(BigInt(a.xid) - BigInt(b.xid)) || a.id - b.id);
    expect(logOrder).toEqual(rows);
    // Numbered once: the sequencer's assignment is the one change an event allows.
    expect(await numberAll(store)).toBe(0);
    await expect(
      store.db
        .update(events)
        .set({ seq: before + 1000 })
        .where(eq(events.id, ids[0]!)),
    ).rejects.toThrow();
  });
});

describe.skipIf(TEST_DATABASE_URL)('the embedded store’s event log', () => {
  it('numbers events as they are written: a batch in order, and a rolled-back transaction leaves no gap', async () => {
    const payload = { numberId: 'n', customerAddress: 'c', origin: 'customer' as const };
    const before = await lastEventSeq(store.db);
    await expect(
      store.db.transaction(async (tx) => {
        await appendEvent(tx, 'conversation.opened', {}, payload);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await store.db.transaction(async (tx) => {
      await appendEvents(
        tx,
        'conversation.opened',
        ['first', 'second', 'third'].map((customerAddress) => ({
          refs: {},
          payload: { ...payload, customerAddress },
        })),
      );
    });
    const rows = await store.db
      .select({ seq: events.seq, payload: events.payload })
      .from(events)
      .where(gt(events.seq, before))
      .orderBy(asc(events.seq));
    expect(rows).toEqual(
      ['first', 'second', 'third'].map((customerAddress, i) => ({
        seq: before + i + 1,
        payload: { ...payload, customerAddress },
      })),
    );
  });
});

describe('the embedded store’s autovacuum', () => {
  it('vacuums and analyzes a table once enough of it changed, and leaves it alone after', async () => {
    const embedded = await openStore({});
    try {
      await embedded.migrate();
      // 500 distinct addresses: random ones collide about once in a hundred runs.
      const addresses = Array.from({ length: 500 }, (_, i) => `+1555${String(i).padStart(7, '0')}`);
      for (const address of addresses) await upsertContact(embedded.db, address);
      await embedded.db.execute(sql`UPDATE contacts SET name = 'renamed'`);

      expect(await vacuumWhereDue(embedded.db)).toContain('contacts');
      const [stats] = await queryRows<{ dead: number; analyzed: boolean; tuples: number }>(
        embedded.db,
        sql`SELECT s.n_dead_tup::int AS dead, s.last_analyze IS NOT NULL AS analyzed,
                   c.reltuples::int AS tuples
              FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
             WHERE s.relname = 'contacts'`,
      );
      // The planner now knows the table's size, where it had the empty table's statistics.
      expect(stats).toEqual({ dead: 0, analyzed: true, tuples: 500 });
      expect(await vacuumWhereDue(embedded.db)).not.toContain('contacts');
    } finally {
      await embedded.close();
    }
  });

  it('only analyzes a table that grew a little, and vacuums it once 1,000 rows more came, a statement at a time', async () => {
    const embedded = await openStore({});
    try {
      await embedded.migrate();
      const insert = (from: number, to: number) =>
        embedded.db.execute(sql`INSERT INTO contacts (address)
          SELECT '+1666' || lpad(i::text, 7, '0') FROM generate_series(${from}::int, ${to}::int) i`);
      const maintained = async () => {
        const [row] = await queryRows<{ vacuumed: boolean; analyzed: boolean }>(
          embedded.db,
          sql`SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed
                FROM pg_stat_user_tables WHERE relname = 'contacts'`,
        );
        return row;
      };
      await insert(1, 200);
      expect(await vacuumWhereDue(embedded.db)).toContain('contacts');
      expect(await maintained()).toEqual({ vacuumed: false, analyzed: true });
      await insert(201, 1400);
      // Both due now, one statement a call: the ANALYZE, further past its threshold, first.
      expect(await vacuumWhereDue(embedded.db, 1)).toEqual(['contacts']);
      expect(await maintained()).toEqual({ vacuumed: false, analyzed: true });
      expect(await vacuumWhereDue(embedded.db, 1)).toEqual(['contacts']);
      expect(await maintained()).toEqual({ vacuumed: true, analyzed: true });
      expect(await vacuumWhereDue(embedded.db)).not.toContain('contacts');
    } finally {
      await embedded.close();
    }
  });
});
