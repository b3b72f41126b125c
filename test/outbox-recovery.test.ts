import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/admin/accounts.js';
import { createNumber, type NumberRow } from '../src/admin/numbers.js';
import { SecretBox } from '../src/admin/secret-box.js';
import { TwilioClients } from '../src/channels/twilio/clients.js';
import { outbox } from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import { type RunningEmulator, startEmulator } from '../src/emulator/index.js';
import { createLogger } from '../src/logger.js';
import {
  type DispatcherDeps,
  msUntilNextSlot,
  reconcileSending,
  SendSpacing,
} from '../src/outbound/dispatcher.js';
import { enqueueOutbound } from '../src/outbound/outbox.js';
import { phoneNumber } from './helpers/factories.js';
import { call } from './helpers/stack.js';
import { openTestStore } from './helpers/store.js';

let emulator: RunningEmulator;
let store: Store;
let deps: DispatcherDeps;
let longCode: NumberRow;
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
  longCode = await createNumber(store.db, { accountId: account.id, address: phoneNumber() });
  deps = {
    db: store.db,
    clients: new TwilioClients(store.db, secretBox, emulator.url),
    secretBox,
    publicUrl: 'http://127.0.0.1:9',
    logger: createLogger('silent'),
    retryBaseMs: 1000,
    spacing: new SendSpacing(),
  };
});
afterAll(async () => {
  await store?.close();
  await emulator?.close();
});

/** Queues a message from the long code and returns its outbox row's id. */
async function queue(body: string): Promise<string> {
  const message = await store.db.transaction((tx) =>
    enqueueOutbound(tx, {
      conversationId: null,
      numberId: longCode.id,
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

/** As a dispatcher that died mid-send leaves a row: `sending`, claimed `ageSeconds` ago. */
async function leaveSending(outboxId: string, ageSeconds: number): Promise<void> {
  await store.db
    .update(outbox)
    .set({ state: 'sending', claimedAt: sql`now() - make_interval(secs => ${ageSeconds})` })
    .where(eq(outbox.id, outboxId));
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

  it('settles a stale `sending` row once when two instances reconcile at the same moment', async () => {
    const stale = await queue('recovery stale');
    await leaveSending(stale, 60);
    const [first, second] = await Promise.all([reconcileSending(deps), reconcileSending(deps)]);
    // Only one reconciler may take the row: the other resetting it again after it was sent
    // anew would send it twice.
    expect(first + second).toBe(1);
    const [row] = await store.db.select().from(outbox).where(eq(outbox.id, stale));
    expect(row?.state).toBe('pending');
  });
});
