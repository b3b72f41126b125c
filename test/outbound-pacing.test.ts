import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  // The emulator runs in its own process: what it records as arrival times is then not
  // delayed by this process's event loop, which Parley and its store keep busy.
  stack = await Stack.start({}, { emulatorProcess: true });
});
afterAll(() => stack?.close());

describe('pacing', () => {
  it('keeps every sender under its rate and finishes near the bound of the busiest', async () => {
    const longCodes = await Promise.all(
      [1, 2, 3].map(() => stack.addNumber({ kind: 'long-code' })),
    );
    const shortCode = await stack.addNumber({
      kind: 'short-code',
      address: String(10_000 + Math.floor(Math.random() * 89_999)),
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
    const arrivals = await eventually(async () => {
      const all = (await stack.control('GET', '/_emulator/messages')) as {
        messages: {
          body: string;
          from: string | null;
          history: { status: string; atMs: number }[];
        }[];
      };
      const ours = all.messages.filter((m) => m.body.startsWith('paced '));
      return ours.length === 300 ? ours : undefined;
    }, 30_000);
    const bySender = new Map<string, number[]>();
    for (const m of arrivals) {
      const at = m.history[0]!.atMs;
      bySender.set(m.from!, [...(bySender.get(m.from!) ?? []), at]);
    }
    const rates = new Map<string, number>([
      ...longCodes.map(({ number }) => [number.address, 1] as const),
      [shortCode.number.address, 100],
    ]);
    for (const [sender, times] of bySender) {
      times.sort((a, b) => a - b);
      const rate = rates.get(sender)!;
      for (let i = 0; i < times.length; i++) {
        const inWindow = times.filter((t) => t >= times[i]! && t < times[i]! + 1000).length;
        expect(inWindow, `${sender} sent ${inWindow} in one second`).toBeLessThanOrEqual(rate);
      }
    }
    await stack.control('POST', '/_emulator/settings', {
      statusDelaysMs: { sending: 5, sent: 5, delivered: 5 },
    });
    // The busiest senders are the long codes with 8 messages each: 7 gaps of a second, each
    // counted from Twilio's answer to the previous send, so each also holds that answer's
    // latency and the store's (hundreds of ms on PGlite while other test files load the
    // machine). The bound catches a stall — a send left waiting for a 20 s lease or for the
    // 5 s reconcile sweep — not the rate, which is bench/outbound's measure.
    const all = arrivals.map((m) => m.history[0]!.atMs);
    const seconds = (Math.max(...all) - Math.min(...all)) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(7);
    expect(seconds).toBeLessThan(7 + 5);
  });
});
