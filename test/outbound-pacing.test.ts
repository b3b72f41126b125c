import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioClients } from '../src/channels/twilio/clients.js';
import { ConfigCache } from '../src/db/config-cache.js';
import { openStore, queryRows } from '../src/db/store.js';
import { startInstance } from '../src/instances.js';
import { createLogger } from '../src/logger.js';
import { pacingFor, sentSettlements, startOutboxDispatcher } from '../src/outbound/dispatcher.js';
import { SenderWindows } from '../src/outbound/sender-window.js';
import { shortCodeNumber, tollFreeNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';
import { TEST_DATABASE_URL } from './helpers/store.js';

/** Arrival times at Twilio's door of the messages whose bodies start with `prefix`, by sender. */
async function arrivalsBySender(stack: Stack, prefix: string, count: number) {
  const arrivals = await eventually(async () => {
    const all = (await stack.control('GET', '/_emulator/messages')) as {
      messages: { body: string; from: string | null; history: { atMs: number }[] }[];
    };
    const ours = all.messages.filter((m) => m.body.startsWith(prefix));
    return ours.length === count ? ours : undefined;
  }, 30_000);
  const bySender = new Map<string, number[]>();
  for (const m of arrivals) {
    bySender.set(m.from!, [...(bySender.get(m.from!) ?? []), m.history[0]!.atMs]);
  }
  for (const times of bySender.values()) times.sort((a, b) => a - b);
  return bySender;
}

/** The most sends of one sender that reached Twilio within any one second. */
function busiestSecond(times: readonly number[]): number {
  return Math.max(
    ...times.map((start) => times.filter((t) => t >= start && t < start + 1000).length),
  );
}

/** The longest wait between two of a sender's consecutive arrivals at Twilio. */
function longestGap(times: readonly number[]): number {
  return Math.max(0, ...times.slice(1).map((t, i) => t - times[i]!));
}

/**
 * The longest wait allowed between two consecutive arrivals of a sender at Twilio. Pacing
 * spaces a long code's sends by a second plus Twilio's answer and the store's latency, which
 * a loaded machine stretches, gap by gap (so a slow run does not add up to a failure as a
 * bound on the whole run did); a send left waiting for a claim's lease (20 s) leaves a gap
 * of seconds even when the sender's later sends go ahead of it.
 */
const STALL_MS = 4000;

let stack: Stack;
beforeAll(async () => {
  // The emulator runs in its own process: what it records as arrival times is then not
  // delayed by this process's event loop, which Parley and its store keep busy.
  stack = await Stack.start({}, { emulatorProcess: true });
});
afterAll(() => stack?.close());

describe('pacing', () => {
  it('keeps every sender under its rate, and no send stalls', async () => {
    const longCodes = await Promise.all(
      [1, 2, 3].map(() => stack.addNumber({ kind: 'long-code' })),
    );
    const shortCode = await stack.addNumber({
      kind: 'short-code',
      address: shortCodeNumber(),
    });
    const plan = [
      ...longCodes.flatMap(({ number }) => Array.from({ length: 8 }, () => number)),
      ...Array.from({ length: 276 }, () => shortCode.number),
    ];
    // Status callbacks would arrive during the measure and compete for the store; hold them.
    await stack.control('POST', '/_emulator/settings', {
      statusDelaysMs: { sending: 60_000, sent: 60_000, delivered: 60_000 },
    });
    // All 300 enter the outbox in one transaction, so the measure is the dispatcher's alone.
    await stack.fillOutbox(plan, 'paced');
    const bySender = await arrivalsBySender(stack, 'paced ', plan.length);
    const rates = new Map<string, number>([
      ...longCodes.map(({ number }) => [number.address, 1] as const),
      [shortCode.number.address, 100],
    ]);
    await stack.control('POST', '/_emulator/settings', {
      statusDelaysMs: { sending: 5, sent: 5, delivered: 5 },
    });
    // Measured on the emulator's own clock, its arrival times relative to each other: a
    // loaded machine delays sends, which only spreads them, and never fails the rate. How
    // long the whole run took is not asserted (it is the machine's as much as Parley's;
    // bench/outbound measures the throughput): a stall is, as one long gap.
    for (const [sender, times] of bySender) {
      expect(busiestSecond(times), `${sender} in one second`).toBeLessThanOrEqual(
        rates.get(sender)!,
      );
      expect(longestGap(times), `${sender}'s longest wait between sends`).toBeLessThan(STALL_MS);
    }
    // 8 sends of a long code, at most one in any second: 7 s at least.
    for (const { number } of longCodes) {
      const times = bySender.get(number.address)!;
      expect(times).toHaveLength(8);
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(7000);
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)('pacing with two instances on one PostgreSQL', () => {
  it('keeps slow senders under their rate at Twilio with both instances sending', async () => {
    const longCode = await stack.addNumber({ kind: 'long-code' });
    const tollFree = await stack.addNumber({
      kind: 'toll-free',
      address: tollFreeNumber(),
    });
    // A second instance: its own pool, process identity, windows and dispatcher.
    const second = await openStore({ databaseUrl: stack.config.databaseUrl });
    const logger = createLogger('silent');
    const instance = await startInstance(second.db, logger);
    const dispatcher = startOutboxDispatcher({
      db: second.db,
      clients: new TwilioClients(
        second.db,
        stack.parley.secretBox,
        stack.config.twilioApiUrl,
        new ConfigCache(),
      ),
      secretBox: stack.parley.secretBox,
      publicUrl: stack.config.publicUrl,
      logger,
      retryBaseMs: 1000,
      windows: new SenderWindows(),
      settlements: sentSettlements(second.db),
      pacing: pacingFor(second),
      instance,
    });
    try {
      const plan = [
        ...Array.from({ length: 5 }, () => longCode.number),
        ...Array.from({ length: 12 }, () => tollFree.number),
      ];
      await stack.fillOutbox(plan, 'shared');
      const bySender = await arrivalsBySender(stack, 'shared ', plan.length);
      expect(busiestSecond(bySender.get(longCode.number.address)!)).toBeLessThanOrEqual(1);
      expect(busiestSecond(bySender.get(tollFree.number.address)!)).toBeLessThanOrEqual(3);
      const holders = await queryRows<{ claimed_by: string }>(
        second.db,
        sql`SELECT DISTINCT o.claimed_by FROM outbox o JOIN messages m ON m.id = o.message_id
            WHERE m.body LIKE 'shared %'`,
      );
      // Both instances took part.
      expect(holders).toHaveLength(2);
    } finally {
      await dispatcher.stop();
      await instance.stop();
      await second.close();
    }
  });
});
