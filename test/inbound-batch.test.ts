import { eq, inArray, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NumberRow } from '../src/admin/numbers.js';
import { closeConversation } from '../src/conversations/conversations.js';
import { conversations, events, messages } from '../src/db/schema.js';
import { queryRows, type Store } from '../src/db/store.js';
import { InboundBatcher } from '../src/inbound/batch.js';
import type { InboundMessage, InboundOutcome } from '../src/inbound/receive.js';
import { buildNumber, hex, phoneNumber } from './helpers/factories.js';
import { eventually } from './helpers/stack.js';
import { openTestStore, TEST_DATABASE_URL } from './helpers/store.js';

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
    expect(reopened).toEqual({ state: 'flow', address: leaving });
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
        await eventually(async () => {
          const [row] = await queryRows<{ waiting: number }>(
            store.db,
            sql`SELECT count(*)::int AS waiting FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          return row!.waiting > 0;
        }, 10_000);
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
});
