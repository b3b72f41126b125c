import { Readable } from 'node:stream';
import { eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/admin/accounts.js';
import { loadConfig } from '../src/config.js';
import {
  auditEntries,
  conversationNotes,
  conversations,
  events,
  media,
  messages,
} from '../src/db/schema.js';
import { openStore, queryRows, type Store } from '../src/db/store.js';
import type { MediaStore } from '../src/media/media-store.js';
import { numberEvents } from '../src/realtime/sequencer.js';
import { buildReport } from '../src/reports/reports.js';
import {
  deleteDueMedia,
  MEDIA_DELETION_GRACE_MS,
  MEDIA_DELETION_RETRY_MS,
} from '../src/retention/media-deletions.js';
import { claimRetentionRun, runRetention } from '../src/retention/retention.js';
import type { SecretBox } from '../src/secret-box.js';
import { buildServer } from '../src/server.js';
import { type SignedIn, serverDeps, signIn } from './helpers/app.js';
import {
  buildAccount,
  buildNumber,
  conversationInFlow,
  hex,
  phoneNumber,
} from './helpers/factories.js';
import { openTestStore } from './helpers/store.js';

let store: Store & { databaseUrl?: string };
let app: FastifyInstance;
let mediaStore: MediaStore;
let admin: SignedIn;
let secretBox: SecretBox;
beforeAll(async () => {
  store = await openTestStore();
  const deps = serverDeps(store, loadConfig({ LOG_LEVEL: 'silent', PUBLIC_URL: 'https://p.test' }));
  mediaStore = deps.mediaStore;
  secretBox = deps.secretBox;
  app = await buildServer(deps);
  await app.ready();
  admin = await signIn(store, 'admin');
});
afterAll(async () => {
  await app?.close();
  await store?.close();
});

const DAY = 86_400_000;
const NOW = new Date();
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
/** A moment when every deletion scheduled by now is due. */
const afterGrace = () => new Date(Date.now() + MEDIA_DELETION_GRACE_MS + 60_000);

/** A customer's message in the conversation at `at`, with its message.received event. */
async function received(
  conversationId: string,
  numberId: string,
  from: string,
  body: string,
  at: Date,
) {
  const [row] = await store.db
    .insert(messages)
    .values({
      conversationId,
      numberId,
      direction: 'inbound',
      author: 'customer',
      fromAddress: from,
      toAddress: 'business',
      body,
      status: 'received',
      createdAt: at,
    })
    .returning();
  await store.db.insert(events).values({
    type: 'message.received',
    conversationId,
    payload: { messageId: row!.id, from, body, numMedia: 0 },
    createdAt: at,
  });
  return row!;
}

/** Stores the bytes and a media row of the message naming them. */
async function attach(messageId: string, bytes: string, position = 0) {
  const stored = await mediaStore.put(Readable.from([Buffer.from(bytes)]));
  const [row] = await store.db
    .insert(media)
    .values({
      messageId,
      position,
      contentType: 'image/png',
      status: 'stored',
      sha256: stored.sha256,
      size: stored.size,
    })
    .returning();
  return { id: row!.id, sha256: stored.sha256 };
}

async function exists(sha256: string): Promise<boolean> {
  const found = await mediaStore.get(sha256);
  found?.stream.destroy();
  return found !== undefined;
}

async function bodyOf(id: string) {
  const [row] = await store.db
    .select({ body: messages.body, redactedAt: messages.redactedAt })
    .from(messages)
    .where(eq(messages.id, id));
  return row!;
}

async function receivedPayload(messageId: string) {
  const [row] = await queryRows<{ payload: { body: string; from: string } }>(
    store.db,
    sql`SELECT payload FROM events
         WHERE type = 'message.received' AND payload ->> 'messageId' = ${messageId}`,
  );
  return row!.payload;
}

describe('account retentionDays', () => {
  it('is validated: 400 naming the field; null keeps for ever', async () => {
    const account = await createAccount(store.db, secretBox, {
      name: 'Retention',
      accountSid: `AC${hex(16)}`,
      authToken: 'token',
    });
    expect(account.retentionDays).toBeNull();
    const patch = (retentionDays: unknown) =>
      app.inject({
        method: 'PATCH',
        url: `/api/admin/accounts/${account.id}`,
        headers: admin.headers,
        payload: { retentionDays },
      });
    for (const bad of [0, -3, 1.5, 'ten', 40_000]) {
      const response = await patch(bad);
      expect(response.statusCode).toBe(400);
      expect(response.body).toContain('retentionDays');
    }
    const set = await patch(30);
    expect(set.statusCode).toBe(200);
    expect(set.json().retentionDays).toBe(30);
    expect((await patch(null)).json().retentionDays).toBeNull();
  });
});

describe('runRetention', () => {
  it('redacts only the old messages and notes of the configured account, keeping shared media and report counts', async () => {
    const kept = await buildAccount(store.db, { retentionDays: 30 });
    const forever = await buildAccount(store.db);
    const number = await buildNumber(store.db, { accountId: kept.id });
    const other = await buildNumber(store.db, { accountId: forever.id });
    const customer = phoneNumber();
    const conversation = await conversationInFlow(store.db, number.id, customer);
    const otherConversation = await conversationInFlow(store.db, other.id, customer);

    const old = await received(
      conversation.id,
      number.id,
      customer,
      'my card is 4111',
      daysAgo(40),
    );
    const recent = await received(conversation.id, number.id, customer, 'still here', daysAgo(2));
    const otherOld = await received(
      otherConversation.id,
      other.id,
      customer,
      'other account, old',
      daysAgo(40),
    );
    // One picture only the old message has, one it shares with a message that stays.
    const own = await attach(old.id, 'picture only the old message has');
    const shared = await attach(old.id, 'picture shared by two messages', 1);
    await attach(otherOld.id, 'picture shared by two messages');
    const [note] = await store.db
      .insert(conversationNotes)
      .values({ conversationId: conversation.id, body: 'called back', createdAt: daysAgo(35) })
      .returning();
    await store.db.insert(events).values({
      type: 'note.added',
      conversationId: conversation.id,
      payload: { noteId: note!.id, authorId: admin.user.id, body: 'called back' },
      createdAt: daysAgo(35),
    });
    const reportQuery = {
      from: daysAgo(60),
      to: new Date(NOW.getTime() + DAY),
      timeZone: 'UTC',
      serviceLevelSeconds: 60,
    };
    const before = await buildReport(store.db, reportQuery);
    expect(before.totals).toMatchObject({ in: 2, messagesIn: 3 });

    const run = await runRetention({ db: store.db }, NOW, { batchSize: 1 });
    expect(run).toMatchObject({ messages: 1, media: 2, mediaFilesScheduled: 1, notes: 1 });
    expect(run.events).toBeGreaterThanOrEqual(2);
    expect(run.accounts.map((a) => a.accountId)).toEqual([kept.id]);

    expect(await bodyOf(old.id)).toMatchObject({ body: '', redactedAt: expect.any(Date) });
    expect(await bodyOf(recent.id)).toEqual({ body: 'still here', redactedAt: null });
    expect(await bodyOf(otherOld.id)).toEqual({ body: 'other account, old', redactedAt: null });
    expect(await receivedPayload(old.id)).toEqual({
      messageId: old.id,
      from: customer,
      body: '',
      numMedia: 0,
    });
    expect((await receivedPayload(recent.id)).body).toBe('still here');
    expect((await receivedPayload(otherOld.id)).body).toBe('other account, old');
    const [noteRow] = await store.db
      .select()
      .from(conversationNotes)
      .where(eq(conversationNotes.id, note!.id));
    expect(noteRow).toMatchObject({ body: '', redactedAt: expect.any(Date) });

    // Bytes only the redacted message named are gone; bytes another message names stay.
    // Bytes only the redacted message named go once their grace is over; bytes another
    // message names stay.
    expect(await exists(own.sha256)).toBe(true);
    expect(await deleteDueMedia(store.db, mediaStore, afterGrace())).toMatchObject({ deleted: 1 });
    expect(await exists(own.sha256)).toBe(false);
    expect(await exists(shared.sha256)).toBe(true);
    const served = await app.inject({
      method: 'GET',
      url: `/api/media/${own.id}`,
      headers: admin.headers,
    });
    expect(served.statusCode).toBe(404);

    // The transcript shows the message as redacted, the rest as it was.
    const transcript = await app.inject({
      method: 'GET',
      url: `/api/conversations/${conversation.id}`,
      headers: admin.headers,
    });
    const shown = transcript.json().messages as { id: string; body: string; redactedAt: string }[];
    expect(shown.find((m) => m.id === old.id)).toMatchObject({
      body: '',
      redactedAt: expect.any(String),
    });
    expect(transcript.body).not.toContain('4111');
    expect(transcript.body).not.toContain('called back');

    // Reports read rows, states and times: the same figures.
    expect(await buildReport(store.db, reportQuery)).toEqual(before);

    const [audit] = await store.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, 'retention.redacted'));
    expect(audit).toMatchObject({ actor: 'system', actorId: null });
    expect(audit!.detail).toMatchObject({ messages: 1, notes: 1, mediaFilesScheduled: 1 });

    // Nothing is left to do: a second run changes nothing and records nothing.
    const again = await runRetention({ db: store.db }, NOW);
    expect(again).toMatchObject({ messages: 0, media: 0, notes: 0, events: 0, accounts: [] });
    expect(await store.db.$count(auditEntries, eq(auditEntries.action, 'retention.redacted'))).toBe(
      1,
    );
  });

  it('empties the wrap-up, attributes and every written event of conversations closed before the cutoff, and only those', async () => {
    const account = await buildAccount(store.db, { retentionDays: 30 });
    const number = await buildNumber(store.db, { accountId: account.id });
    /** A conversation closed at `closedAt`, its last message a day before, then a transfer note. */
    const closedConversation = async (closedAt: Date) => {
      const conversation = await conversationInFlow(store.db, number.id);
      const lastMessageAt = new Date(closedAt.getTime() - DAY);
      await received(
        conversation.id,
        number.id,
        conversation.customerAddress,
        'my account is 998877',
        lastMessageAt,
      );
      // Written after its last message: a transfer note, an offer's original text.
      await store.db.insert(events).values([
        {
          type: 'conversation.transferred',
          conversationId: conversation.id,
          payload: {
            fromAgentId: null,
            toAgentId: null,
            toQueueId: null,
            note: 'VIP, owes 500',
            byUserId: admin.user.id,
          },
          createdAt: new Date(closedAt.getTime() - 60_000),
        },
        {
          type: 'offer.created',
          conversationId: conversation.id,
          payload: {
            offerId: conversation.id,
            agentId: admin.user.id,
            reason: 'affinity',
            originalText: 'your refund of 500',
            expiresAt: closedAt.toISOString(),
            queueId: null,
          },
          createdAt: new Date(closedAt.getTime() - 30_000),
        },
      ]);
      await store.db
        .update(conversations)
        .set({
          state: 'closed',
          closedAt,
          lastMessageAt,
          wrapUpSummary: 'refund promised, card 4111',
          attributes: { accountNumber: '998877' },
        })
        .where(eq(conversations.id, conversation.id));
      return conversation;
    };
    const old = await closedConversation(daysAgo(31));
    const recent = await closedConversation(daysAgo(20));

    const run = await runRetention({ db: store.db }, NOW);
    expect(run.conversations).toBe(1);

    const [oldRow] = await store.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, old.id));
    expect(oldRow).toMatchObject({
      wrapUpSummary: null,
      attributes: {},
      redactedAt: expect.any(Date),
    });
    const written = async (conversationId: string) =>
      queryRows<{ type: string; payload: Record<string, unknown> }>(
        store.db,
        sql`SELECT type, payload FROM events
             WHERE conversation_id = ${conversationId}::uuid
               AND type IN ('conversation.transferred', 'offer.created', 'message.received')
             ORDER BY type`,
      );
    expect(
      (await written(old.id)).map((e) => [
        e.type,
        e.payload.note ?? e.payload.originalText ?? e.payload.body,
      ]),
    ).toEqual([
      ['conversation.transferred', ''],
      ['message.received', ''],
      ['offer.created', ''],
    ]);

    const [recentRow] = await store.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, recent.id));
    expect(recentRow).toMatchObject({
      wrapUpSummary: 'refund promised, card 4111',
      attributes: { accountNumber: '998877' },
      redactedAt: null,
    });
    // Closed within the retention period: all of it stays.
    expect(
      (await written(recent.id)).map((e) => [
        e.type,
        e.payload.note ?? e.payload.originalText ?? e.payload.body,
      ]),
    ).toEqual([
      ['conversation.transferred', 'VIP, owes 500'],
      ['message.received', 'my account is 998877'],
      ['offer.created', 'your refund of 500'],
    ]);

    // A redacted conversation is not picked again.
    const again = await runRetention({ db: store.db }, NOW);
    expect(again).toMatchObject({ conversations: 0, events: 0 });
  });

  it('redacts the events of keyword texts that joined no conversation, matched by message id', async () => {
    const account = await buildAccount(store.db, { retentionDays: 10 });
    const number = await buildNumber(store.db, { accountId: account.id });
    const customer = phoneNumber();
    const at = daysAgo(12);
    const [help] = await store.db
      .insert(messages)
      .values({
        numberId: number.id,
        direction: 'inbound',
        author: 'customer',
        fromAddress: customer,
        toAddress: number.address,
        body: 'HELP me with 4111',
        status: 'received',
        createdAt: at,
      })
      .returning();
    // Logged by the database's clock, a moment after the message's own time (receive.ts).
    await store.db.insert(events).values({
      type: 'message.received',
      conversationId: null,
      payload: { messageId: help!.id, from: customer, body: 'HELP me with 4111', numMedia: 0 },
      createdAt: new Date(at.getTime() + 3),
    });
    const run = await runRetention({ db: store.db }, NOW);
    expect(run).toMatchObject({ messages: 1, events: 1 });
    expect(await bodyOf(help!.id)).toMatchObject({ body: '' });
    expect(await receivedPayload(help!.id)).toEqual({
      messageId: help!.id,
      from: customer,
      body: '',
      numMedia: 0,
    });
  });

  it('deletes unnamed bytes only after a grace, keeps bytes a new message names by then, and retries a failed delete', async () => {
    const account = await buildAccount(store.db, { retentionDays: 10 });
    const number = await buildNumber(store.db, { accountId: account.id });
    const conversation = await conversationInFlow(store.db, number.id);
    const customer = conversation.customerAddress;
    const first = await received(conversation.id, number.id, customer, 'picture', daysAgo(20));
    const second = await received(conversation.id, number.id, customer, 'another', daysAgo(20));
    const reused = await attach(first.id, `re-used ${hex(8)}`);
    const orphan = await attach(second.id, `orphan ${hex(8)}`);

    const run = await runRetention({ db: store.db }, NOW);
    expect(run.mediaFilesScheduled).toBe(2);
    expect(await exists(reused.sha256)).toBe(true);
    expect(await exists(orphan.sha256)).toBe(true);
    // Within the grace, a new message names the same bytes (an upload sent with its token).
    const recent = await received(conversation.id, number.id, customer, 'again', daysAgo(0));
    await store.db.insert(media).values({
      messageId: recent.id,
      position: 0,
      contentType: 'image/png',
      status: 'stored',
      sha256: reused.sha256,
    });
    // Nothing is due yet.
    const early = await deleteDueMedia(store.db, mediaStore, new Date());
    expect(early).toEqual({ deleted: 0, kept: 0, failed: 0 });

    // The store fails once: the hash stays scheduled and is tried again later.
    let failures = 0;
    const failing: MediaStore = {
      kind: mediaStore.kind,
      put: (source, options) => mediaStore.put(source, options),
      get: (sha256) => mediaStore.get(sha256),
      delete: async (sha256) => {
        if (sha256 === orphan.sha256) {
          failures++;
          throw new Error('store unavailable');
        }
        await mediaStore.delete(sha256);
      },
    };
    const due = afterGrace();
    const failed = await deleteDueMedia(store.db, failing, due);
    expect(failed).toMatchObject({ failed: 1 });
    expect(failures).toBe(1);
    expect(await exists(orphan.sha256)).toBe(true);
    // The re-used bytes are kept, their schedule dropped.
    expect(await exists(reused.sha256)).toBe(true);
    const scheduled = await queryRows<{ sha256: string; attempts: number; last_error: string }>(
      store.db,
      sql`SELECT sha256, attempts, last_error FROM media_deletions
           WHERE sha256 IN (${reused.sha256}, ${orphan.sha256})`,
    );
    expect(scheduled).toEqual([
      { sha256: orphan.sha256, attempts: 1, last_error: 'store unavailable' },
    ]);
    // Not again before the retry delay; then the delete goes through and the row goes.
    expect((await deleteDueMedia(store.db, failing, due)).failed).toBe(0);
    const retried = await deleteDueMedia(
      store.db,
      mediaStore,
      new Date(due.getTime() + MEDIA_DELETION_RETRY_MS),
    );
    expect(retried.deleted).toBeGreaterThanOrEqual(1);
    expect(await exists(orphan.sha256)).toBe(false);
    expect(await exists(reused.sha256)).toBe(true);
    expect(
      await queryRows(
        store.db,
        sql`SELECT 1 FROM media_deletions WHERE sha256 IN (${reused.sha256}, ${orphan.sha256})`,
      ),
    ).toEqual([]);
  });

  it('is claimed by one instance: a second one, at the same time, does not run it', async () => {
    const second = store.databaseUrl
      ? await openStore({ databaseUrl: store.databaseUrl })
      : undefined;
    try {
      const account = await buildAccount(store.db, { retentionDays: 1 });
      const number = await buildNumber(store.db, { accountId: account.id });
      const conversation = await conversationInFlow(store.db, number.id);
      for (let i = 0; i < 5; i++) {
        await received(
          conversation.id,
          number.id,
          conversation.customerAddress,
          `old ${i}`,
          daysAgo(3),
        );
      }
      const auditsBefore = await store.db.$count(
        auditEntries,
        eq(auditEntries.action, 'retention.redacted'),
      );
      // Far enough ahead to be due whatever the instance's own worker claimed at start.
      const due = new Date(NOW.getTime() + 2 * DAY);
      const instance = async (db: Store['db']) =>
        (await claimRetentionRun(db, due))
          ? runRetention({ db }, NOW, { batchSize: 2 })
          : undefined;
      const runs = await Promise.all([instance(store.db), instance((second ?? store).db)]);
      const ran = runs.filter((run) => run !== undefined);
      expect(ran).toHaveLength(1);
      expect(ran[0]!.messages).toBe(5);
      expect(await claimRetentionRun(store.db, due)).toBe(false);
      expect(
        await store.db.$count(auditEntries, eq(auditEntries.action, 'retention.redacted')),
      ).toBe(auditsBefore + 1);
    } finally {
      await second?.close();
    }
  });
});

describe('the event log', () => {
  it('refuses an update naming any of its columns, seq included once it is numbered', async () => {
    const [event] = await store.db
      .insert(events)
      .values({ type: 'note.added', payload: { body: 'kept' } })
      .returning();
    await numberEvents(store.db);
    const columns = await queryRows<{ name: string }>(
      store.db,
      sql`SELECT column_name AS name FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = 'events'`,
    );
    expect(columns.map((column) => column.name)).toContain('seq');
    for (const { name } of columns) {
      const column = sql.identifier(name);
      // The identity column can be set to nothing but DEFAULT, which would renumber it.
      const change =
        name === 'seq' ? sql`${column} + 1000000` : name === 'id' ? sql`DEFAULT` : sql`${column}`;
      await expect(
        store.db.execute(sql`UPDATE events SET ${column} = ${change} WHERE id = ${event!.id}`),
        name,
      ).rejects.toMatchObject({
        cause: expect.objectContaining({ message: expect.stringContaining('append-only') }),
      });
    }
  });

  it('refuses ordinary updates, deletes and truncation; lets a redacting transaction change only payloads', async () => {
    const [event] = await store.db
      .insert(events)
      .values({ type: 'note.added', payload: { body: 'secret' } })
      .returning();
    const refused = {
      cause: expect.objectContaining({ message: expect.stringContaining('append-only') }),
    };
    await expect(
      store.db.update(events).set({ payload: {} }).where(eq(events.id, event!.id)),
    ).rejects.toMatchObject(refused);
    await expect(store.db.delete(events).where(eq(events.id, event!.id))).rejects.toMatchObject(
      refused,
    );
    await expect(store.db.execute(sql`TRUNCATE events`)).rejects.toMatchObject(refused);
    await expect(
      store.db.transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL parley.redacting = 'on'`);
        await tx.update(events).set({ type: 'other' }).where(eq(events.id, event!.id));
      }),
    ).rejects.toMatchObject(refused);
    await expect(
      store.db.transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL parley.redacting = 'on'`);
        await tx.delete(events).where(eq(events.id, event!.id));
      }),
    ).rejects.toMatchObject(refused);
    await store.db.transaction(async (tx) => {
      await tx.execute(sql`SET LOCAL parley.redacting = 'on'`);
      await tx
        .update(events)
        .set({ payload: { body: '' } })
        .where(eq(events.id, event!.id));
    });
    // The setting was local: the next transaction is refused again.
    await expect(
      store.db
        .update(events)
        .set({ payload: { body: 'x' } })
        .where(eq(events.id, event!.id)),
    ).rejects.toMatchObject(refused);
    const [row] = await store.db.select().from(events).where(eq(events.id, event!.id));
    expect(row!.payload).toEqual({ body: '' });
  });
});
