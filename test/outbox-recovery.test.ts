import { randomUUID } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/admin/accounts.js';
import { createNumber, type NumberRow } from '../src/admin/numbers.js';
import { TwilioClients } from '../src/channels/twilio/clients.js';
import { ConfigCache } from '../src/db/config-cache.js';
import { conversations, messages, outbox, senders } from '../src/db/schema.js';
import { queryRows, type Store } from '../src/db/store.js';
import { type RunningEmulator, startEmulator } from '../src/emulator/index.js';
import { dueFlowConversations } from '../src/flows/flow-runner.js';
import { type Instance, startInstance } from '../src/instances.js';
import { createLogger } from '../src/logger.js';
import {
  claimOutbound,
  type DispatcherDeps,
  msUntilNextSlot,
  pacingFor,
  reconcileSending,
  sendClaimed,
  sentSettlements,
} from '../src/outbound/dispatcher.js';
import { enqueueOutbound, queuedOutbound } from '../src/outbound/outbox.js';
import { SenderWindows } from '../src/outbound/sender-window.js';
import { SecretBox } from '../src/secret-box.js';
import {
  buildNumber,
  conversationInFlow,
  phoneNumber,
  shortCodeNumber,
  tollFreeNumber,
} from './helpers/factories.js';
import { call } from './helpers/stack.js';
import { openTestStore } from './helpers/store.js';

let emulator: RunningEmulator;
let store: Store;
let deps: DispatcherDeps;
let longCode: NumberRow;
/** This test's Parley process, alive: it keeps its heartbeat while the tests run. */
let liveInstance: Instance;
beforeAll(async () => {
  emulator = await startEmulator({ statusDelaysMs: { sending: 5, sent: 5, delivered: 5 } });
  store = await openTestStore();
  const secretBox = new SecretBox('r'.repeat(64));
  const twilio = (await call(emulator, 'POST', '/_emulator/accounts', {})) as {
    sid: string;
    authToken: string;
  };
  const account = await createAccount(store.db, secretBox, {
    name: 'recovery',
    accountSid: twilio.sid,
    authToken: twilio.authToken,
  });
  liveInstance = await startInstance(store.db, createLogger('silent'));
  longCode = await createNumber(store.db, { accountId: account.id, address: phoneNumber() });
  await call(emulator, 'POST', '/_emulator/numbers', {
    accountSid: twilio.sid,
    phoneNumber: longCode.address,
    kind: 'long-code',
  });
  deps = {
    db: store.db,
    clients: new TwilioClients(store.db, secretBox, emulator.url, new ConfigCache()),
    secretBox,
    publicUrl: 'http://127.0.0.1:9',
    logger: createLogger('silent'),
    retryBaseMs: 1000,
    windows: new SenderWindows(),
    settlements: sentSettlements(store.db),
    pacing: pacingFor({ kind: 'postgres' }),
    instance: liveInstance,
  };
});
afterAll(async () => {
  await liveInstance?.stop();
  await store?.close();
  await emulator?.close();
});

/** Queues a message from the number (the long code) and returns its outbox row's id. */
async function queue(body: string, number = longCode): Promise<string> {
  const message = await store.db.transaction((tx) =>
    enqueueOutbound(tx, {
      conversationId: null,
      numberId: number.id,
      to: phoneNumber(),
      body,
      author: 'flow',
    }),
  );
  const [row] = await store.db
    .select({ id: outbox.id })
    .from(outbox)
    .where(eq(outbox.messageId, message.id));
  return row!.id;
}

/** A row `sending`, claimed `ageSeconds` ago by the instance `claimedBy`. */
async function leaveSending(
  outboxId: string,
  ageSeconds: number,
  claimedBy: string | null = null,
): Promise<void> {
  await store.db
    .update(outbox)
    .set({
      state: 'sending',
      claimedAt: sql`now() - make_interval(secs => ${ageSeconds})`,
      claimedBy,
    })
    .where(eq(outbox.id, outboxId));
}

/**
 * Earlier tests leave the long code with a send in flight, its next slot booked and answers
 * in its window.
 */
async function freeLongCode(): Promise<void> {
  await store.db.update(outbox).set({ state: 'done' }).where(eq(outbox.sender, longCode.address));
  await store.db
    .update(senders)
    .set({ nextAt: sql`now()`, answeredUntil: sql`'{}'` })
    .where(eq(senders.sender, longCode.address));
}

async function bodiesAtTwilio(): Promise<string[]> {
  const page = (await call(emulator, 'GET', '/_emulator/messages')) as {
    messages: { body: string }[];
  };
  return page.messages.map((m) => m.body);
}

async function outboxState(outboxId: string) {
  const [row] = await store.db.select().from(outbox).where(eq(outbox.id, outboxId));
  return row?.state;
}

describe('outbox recovery', () => {
  it('does not call a long code ready while its one send is in flight (no busy loop)', async () => {
    const inFlight = await queue('recovery in flight');
    await queue('recovery waiting behind it');
    await leaveSending(inFlight, 1);
    // The claim skips this sender until the send ends; "ready now" would spin the loop.
    expect(await msUntilNextSlot(store.db)).toBe(false);
    await store.db.update(outbox).set({ state: 'done' }).where(eq(outbox.sender, longCode.address));
  });

  it('names when a message waiting out a retry comes due, so that the dispatcher need not poll for it', async () => {
    await freeLongCode();
    const retried = await queue('recovery retry later');
    await store.db
      .update(outbox)
      .set({ nextAttemptAt: sql`now() + interval '3 seconds'` })
      .where(eq(outbox.id, retried));
    expect(await claimOutbound(store.db, liveInstance.id)).toEqual([]);
    const wait = await msUntilNextSlot(store.db);
    expect(wait).toBeGreaterThan(2000);
    expect(wait).toBeLessThanOrEqual(3000);
    await store.db.update(outbox).set({ state: 'done' }).where(eq(outbox.id, retried));
    expect(await msUntilNextSlot(store.db)).toBe(false);
  });

  it('settles a stale `sending` row once when two instances reconcile at the same moment', async () => {
    const stale = await queue('recovery stale');
    await leaveSending(stale, 60);
    const [first, second] = await Promise.all([reconcileSending(deps), reconcileSending(deps)]);
    // Only one reconciler may take the row: the other resetting it again after it was sent
    // anew would send it twice.
    expect(first + second).toBe(1);
    expect(await outboxState(stale)).toBe('pending');
  });

  it('lets a long code go on past the send of an instance that died, not past a live one', async () => {
    await freeLongCode();
    const ofTheDead = await queue('recovery dead holder');
    await queue('recovery behind the dead');
    // Claimed a second ago, well inside the 20 s lease, by an instance that is gone.
    await leaveSending(ofTheDead, 1, randomUUID());
    expect(await msUntilNextSlot(store.db)).not.toBe(false);
    // Its own send is settled only after the lease: a slow Twilio may still record it.
    expect(await reconcileSending(deps)).toBe(0);
    expect(await outboxState(ofTheDead)).toBe('sending');

    await store.db
      .update(outbox)
      .set({ claimedBy: liveInstance.id })
      .where(eq(outbox.id, ofTheDead));
    expect(await msUntilNextSlot(store.db)).toBe(false);
  });

  it('takes over the flow step of an instance that died, and leaves a live one alone', async () => {
    const number = await buildNumber(store.db);
    const ofTheDead = await conversationInFlow(store.db, number.id);
    const ofTheLiving = await conversationInFlow(store.db, number.id);
    const leased = (holder: string) => ({
      flowDueAt: sql`now() + interval '60 seconds'`,
      flowClaimedBy: holder,
    });
    await store.db
      .update(conversations)
      .set(leased(randomUUID()))
      .where(eq(conversations.id, ofTheDead.id));
    await store.db
      .update(conversations)
      .set(leased(liveInstance.id))
      .where(eq(conversations.id, ofTheLiving.id));
    const due = await dueFlowConversations(store.db, randomUUID(), 100);
    expect(due).toContain(ofTheDead.id);
    expect(due).not.toContain(ofTheLiving.id);
  });

  it('does not send what another instance took over while this one was silent', async () => {
    await freeLongCode();
    const fenced = await queue('recovery fenced');
    const [claim] = await claimOutbound(store.db, liveInstance.id);
    expect(claim?.outboxId).toBe(fenced);
    // Meanwhile another instance counted this one as dead and took the row.
    await store.db.update(outbox).set({ claimedBy: randomUUID() }).where(eq(outbox.id, fenced));
    const silent = { id: liveInstance.id, mayAct: () => false, beat: async () => {} };
    await sendClaimed({ ...deps, instance: silent }, claim!);
    expect(await bodiesAtTwilio()).not.toContain('recovery fenced');
    expect(await outboxState(fenced)).toBe('sending');
  });

  it('sends what it still holds after a silence, once it has beaten again', async () => {
    await freeLongCode();
    const held = await queue('recovery held');
    const [claim] = await claimOutbound(store.db, liveInstance.id);
    expect(claim?.outboxId).toBe(held);
    let beaten = false;
    const stalled = {
      id: liveInstance.id,
      mayAct: () => beaten,
      beat: async () => {
        beaten = true;
      },
    };
    await sendClaimed({ ...deps, instance: stalled }, claim!);
    expect(await bodiesAtTwilio()).toContain('recovery held');
    expect(await outboxState(held)).toBe('done');
  });

  it('settles sends Twilio queued together, except a row a reconciler took back meanwhile', async () => {
    await freeLongCode();
    const shortCode = await createNumber(store.db, {
      accountId: longCode.accountId,
      address: shortCodeNumber(),
      kind: 'short-code',
    });
    const rows = [
      await queue('grouped one', shortCode),
      await queue('grouped two', shortCode),
      await queue('grouped three', shortCode),
    ];
    const claims = await claimOutbound(store.db, liveInstance.id);
    expect(claims.map((claim) => claim.outboxId)).toEqual(rows);
    expect(claims.some((claim) => claim.sharedWindow)).toBe(false);
    // The third send's lease ran out and a reconciler, finding nothing on Twilio, reset it.
    await store.db.update(outbox).set({ state: 'pending' }).where(eq(outbox.id, rows[2]!));
    const sids = claims.map(() => `SM${randomUUID().replace(/-/g, '')}`);
    const settled = await Promise.all(
      claims.map((claim, i) => deps.settlements.submit({ claim, sid: sids[i]! })),
    );
    expect(settled).toEqual([true, true, false]);
    const stored = await store.db
      .select({ id: messages.id, sid: messages.twilioSid })
      .from(messages)
      .where(
        inArray(
          messages.id,
          claims.map((claim) => claim.messageId),
        ),
      );
    const sidOf = new Map(stored.map((row) => [row.id, row.sid]));
    expect(claims.map((claim) => sidOf.get(claim.messageId))).toEqual([sids[0], sids[1], null]);
    expect(await Promise.all(rows.map(outboxState))).toEqual(['done', 'done', 'pending']);
    await store.db.update(outbox).set({ state: 'done' }).where(eq(outbox.id, rows[2]!));
  });

  it('claims a slow sender only as its window in the store leaves room, and says when it will', async () => {
    await freeLongCode();
    const tollFree = await createNumber(store.db, {
      accountId: longCode.accountId,
      address: tollFreeNumber(),
      kind: 'toll-free',
    });
    const rows = [
      await queue('window one', tollFree),
      await queue('window two', tollFree),
      await queue('window three', tollFree),
    ];
    const answered = async (...inMs: number[]) => {
      const [row] = await queryRows<{ until_ms: number[] }>(
        store.db,
        sql`UPDATE senders SET answered_until = array(
              SELECT now() + make_interval(secs => x / 1000.0)
              FROM unnest(${`{${inMs.join(',')}}`}::float8[]) x ORDER BY x),
              next_at = now()
            WHERE sender = ${tollFree.address}
            RETURNING array(SELECT extract(epoch FROM u) * 1000 FROM unnest(answered_until) u
                            ORDER BY u)::float8[] AS until_ms`,
      );
      return row!.until_ms.map(Number);
    };
    // Three answers (its rate) still counted, the first for 2.9 s more: no room until
    // 500 ms (the lookahead) before it leaves, whichever instance asks.
    await answered(2900, 2950, 2970);
    expect(await claimOutbound(store.db, liveInstance.id)).toEqual([]);
    const wait = await msUntilNextSlot(store.db);
    expect(wait).toBeGreaterThan(1900);
    expect(wait).toBeLessThanOrEqual(2400);
    // Two answers: room for one send now and, once the first answer leaves (before its
    // booked slot would have come), one more, at that moment.
    const until = await answered(450, 2900);
    const claims = await claimOutbound(store.db, liveInstance.id);
    expect(claims.map((claim) => claim.outboxId)).toEqual(rows.slice(0, 2));
    expect(claims.every((claim) => claim.sharedWindow)).toBe(true);
    expect(claims[1]!.dueAt).toBeCloseTo(until[0]!, 0);
    // Two sends in flight and one answer: full until an answer comes back.
    expect(await claimOutbound(store.db, liveInstance.id)).toEqual([]);
    expect(await msUntilNextSlot(store.db)).toBe(false);
    await store.db.update(outbox).set({ state: 'done' }).where(eq(outbox.sender, tollFree.address));
  });

  it("counts a send whose outcome is unknown in its slow sender's window, and retries it", async () => {
    await freeLongCode();
    const lost = await queue('window lost answer');
    const [claim] = await claimOutbound(store.db, liveInstance.id);
    expect(claim?.outboxId).toBe(lost);
    // Nothing listens there: the request may or may not have left, as far as Parley knows.
    const unreachable = new TwilioClients(
      store.db,
      deps.secretBox,
      'http://127.0.0.1:9',
      new ConfigCache(),
    );
    await sendClaimed({ ...deps, clients: unreachable }, claim!);
    const [row] = await store.db.select().from(outbox).where(eq(outbox.id, lost));
    expect(row?.state).toBe('pending');
    expect(row?.uncertainSince).not.toBeNull();
    const [window] = await queryRows<{ counted: number }>(
      store.db,
      sql`SELECT count(*)::int AS counted FROM senders s, unnest(s.answered_until) u
          WHERE s.sender = ${longCode.address} AND u > now()`,
    );
    expect(window?.counted).toBe(1);
    await store.db.update(outbox).set({ state: 'done' }).where(eq(outbox.id, lost));
  });

  it('does not send a message that waited past half its lease and was taken over meanwhile', async () => {
    await freeLongCode();
    const overtaken = await queue('recovery overtaken');
    const [claim] = await claimOutbound(store.db, liveInstance.id);
    expect(claim?.outboxId).toBe(overtaken);
    // It waited 11 s for its window; meanwhile this process's own reconciler took the row.
    claim!.claimedAt = new Date(Date.now() - 11_000);
    await store.db
      .update(outbox)
      .set({ claimedAt: sql`now() + interval '1 millisecond'` })
      .where(eq(outbox.id, overtaken));
    await sendClaimed(deps, claim!);
    expect(await bodiesAtTwilio()).not.toContain('recovery overtaken');
    expect(await outboxState(overtaken)).toBe('sending');

    await freeLongCode();
    const held = await queue('recovery held long');
    const [holding] = await claimOutbound(store.db, liveInstance.id);
    holding!.claimedAt = new Date(Date.now() - 11_000);
    await sendClaimed(deps, holding!);
    expect(await bodiesAtTwilio()).toContain('recovery held long');
    expect(await outboxState(held)).toBe('done');
  });

  it('moves the sender’s next slot when its window held a send past its slot', async () => {
    await freeLongCode();
    const windows = new SenderWindows();
    // A send of this process answered just now: the long code's window is full for a second.
    (await windows.start(longCode.address, 1, 1))();
    const held = await queue('recovery window held');
    const [claim] = await claimOutbound(store.db, liveInstance.id);
    expect(claim?.outboxId).toBe(held);
    await sendClaimed({ ...deps, windows }, claim!);
    const sentAt = Date.now();
    const [row] = await queryRows<{ next_ms: number }>(
      store.db,
      sql`SELECT extract(epoch FROM next_at) * 1000 AS next_ms FROM senders
          WHERE sender = ${longCode.address}`,
    );
    // Booked at the claim, next_at was a second after the slot; the send went a second late.
    expect(Number(row!.next_ms)).toBeGreaterThan(claim!.dueAt + 1500);
    expect(Number(row!.next_ms)).toBeLessThanOrEqual(sentAt + 1100);
  });

  it('announces the commits that queued a message, so only they wake the dispatcher', async () => {
    const queuedByCommit: boolean[] = [];
    const stop = store.onCommit((tx) => queuedByCommit.push(queuedOutbound(tx)));
    try {
      await queue('recovery announced');
      await store.db.transaction((tx) => tx.execute(sql`SELECT 1`));
    } finally {
      stop();
    }
    expect(queuedByCommit).toEqual([true, false]);
  });
});
