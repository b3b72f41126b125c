import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/admin/accounts.js';
import { createNumber, type NumberRow } from '../src/admin/numbers.js';
import { WEBHOOK_PATH } from '../src/channels/twilio/webhooks.js';
import { openStore } from '../src/db/store.js';
import { type RunningEmulator, startEmulator } from '../src/emulator/index.js';
import { enqueueOutbound } from '../src/outbound/outbox.js';
import { SecretBox } from '../src/secret-box.js';
import { collect, spawnTs, waitForOutput } from './helpers/processes.js';
import { call, eventually, freePort } from './helpers/stack.js';
import { createTestDatabase, dropTestDatabase, TEST_DATABASE_URL } from './helpers/store.js';

const APP_SECRET = 'k'.repeat(64);
const TOTAL = 500;

let emulator: RunningEmulator;
let databaseUrl: string | undefined;
beforeAll(async () => {
  emulator = await startEmulator({ statusDelaysMs: { sending: 5, sent: 5, delivered: 5 } });
  databaseUrl = TEST_DATABASE_URL ? await createTestDatabase() : undefined;
});
afterAll(async () => {
  await emulator?.close();
  if (databaseUrl) await dropTestDatabase(databaseUrl);
});

function control(method: string, path: string, body?: unknown) {
  return call(emulator, method, path, body) as Promise<Record<string, unknown>>;
}

interface EmulatorMessage {
  body: string;
  to: string;
  direction: string;
}

/** Every outbound message the emulator has accepted so far whose body is one of ours. */
async function ours(after = 0, wait = 0): Promise<{ messages: EmulatorMessage[]; cursor: number }> {
  const page = (await control('GET', `/_emulator/messages?after=${after}&wait=${wait}`)) as {
    messages: EmulatorMessage[];
    cursor: number;
  };
  return {
    messages: page.messages.filter((m) => m.body.startsWith('crash-test ')),
    cursor: page.cursor,
  };
}

describe('a crash with messages in the outbox', () => {
  // Three processes open the embedded store in turn (the test's, then Parley twice).
  it('delivers every message exactly once after SIGKILL and restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
    const port = await freePort();
    const env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      APP_SECRET,
      TWILIO_API_URL: emulator.url,
      ...(databaseUrl && { DATABASE_URL: databaseUrl }),
    };

    // The outbox is filled before Parley starts: two short codes, 250 messages each.
    const twilio = (await control('POST', '/_emulator/accounts', {})) as {
      sid: string;
      authToken: string;
    };
    const store = await openStore(databaseUrl ? { databaseUrl } : { dataDir });
    await store.migrate();
    const account = await createAccount(store.db, new SecretBox(APP_SECRET), {
      name: 'crash',
      accountSid: twilio.sid,
      authToken: twilio.authToken,
    });
    const senders: NumberRow[] = [];
    for (const address of ['71001', '71002']) {
      senders.push(
        await createNumber(store.db, {
          accountId: account.id,
          address,
          kind: 'short-code',
          sendRate: 50,
        }),
      );
      await control('POST', '/_emulator/numbers', {
        accountSid: twilio.sid,
        phoneNumber: address,
        kind: 'short-code',
        mps: 50,
        smsUrl: `${env.PUBLIC_URL}${WEBHOOK_PATH}`,
      });
    }
    await store.db.transaction(async (tx) => {
      for (let i = 0; i < TOTAL; i++) {
        await enqueueOutbound(tx, {
          conversationId: null,
          numberId: senders[i % 2]!.id,
          to: `+1555${String(2_000_000 + i).padStart(7, '0')}`,
          body: `crash-test ${i}`,
          author: 'flow',
        });
      }
    });
    await store.close();

    // Some sends are slow, so that some are still travelling to Twilio when Parley dies.
    await control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'slow',
      ratio: 0.1,
      delayMs: 1500,
    });
    const first = spawnTs('src/cli.ts', ['start'], env);
    const firstExit = collect(first);
    await waitForOutput(first, /API and health/);
    // Kill it mid-stream, once Twilio has a fifth of the messages.
    let cursor = 0;
    const seen = new Set<string>();
    while (seen.size < TOTAL / 5) {
      const page = await ours(cursor, 5_000);
      for (const m of page.messages) seen.add(m.body);
      cursor = page.cursor;
    }
    first.kill('SIGKILL');
    expect((await firstExit).signal).toBe('SIGKILL');
    const atCrash = new Set((await ours()).messages.map((m) => m.body)).size;
    expect(atCrash).toBeLessThan(TOTAL);

    await control('DELETE', '/_emulator/faults');
    // After the restart, Twilio creates some messages and still answers 500: the ambiguous
    // outcome must not send them twice either.
    await control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'create-then-500',
      ratio: 0.05,
    });
    const second = spawnTs('src/cli.ts', ['start'], env);
    const secondExit = collect(second);
    await waitForOutput(second, /API and health/);
    const deadline = performance.now() + 60_000;
    let all = (await ours()).messages;
    while (new Set(all.map((m) => m.body)).size < TOTAL && performance.now() < deadline) {
      await ours(cursor, 5_000).then((page) => {
        cursor = page.cursor;
      });
      all = (await ours()).messages;
    }
    // Each message created-then-500 is looked up on Twilio at its next attempt, where a resend
    // would otherwise go: wait for at least as many lookups (recovery's own come on top),
    // then count.
    const [ambiguous] = (await control('GET', '/_emulator/faults')).faults as { applied: number }[];
    await eventually(async () => {
      const { requests } = (await control('GET', '/_emulator/requests')) as unknown as {
        requests: { endpoint: string }[];
      };
      return requests.filter((r) => r.endpoint === 'messages.list').length >= ambiguous!.applied;
    }, 30_000);
    all = (await ours()).messages;
    second.kill('SIGTERM');
    expect((await secondExit).code).toBe(0);

    const bodies = all.map((m) => m.body);
    const unique = new Set(bodies);
    // No gap: every message reached Twilio; no duplicate: none reached it twice.
    expect(unique.size).toBe(TOTAL);
    expect(bodies.length).toBe(TOTAL);
  }, 180_000);
});
