import { phoneNumber, tollFreeNumber } from '../test/helpers/factories.js';
import { Stack } from '../test/helpers/stack.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SENDERS: { kind: 'long-code' | 'toll-free' | 'short-code'; rate: number; count: number }[] = [
  { kind: 'long-code', rate: 1, count: 3 },
  { kind: 'toll-free', rate: 3, count: 2 },
  { kind: 'short-code', rate: 100, count: 2 },
];

const stack = await Stack.start({ LOG_LEVEL: 'error' }, { emulatorProcess: true });
try {
  const senders = [];
  let shortCode = 80_000;
  for (const s of SENDERS) {
    for (let i = 0; i < s.count; i++) {
      const address =
        s.kind === 'short-code'
          ? String(shortCode++)
          : s.kind === 'toll-free'
            ? tollFreeNumber()
            : phoneNumber();
      const { number } = await stack.addNumber({ kind: s.kind, address });
      senders.push({ number, rate: s.rate });
    }
  }
  const sumOfRates = senders.reduce((sum, s) => sum + s.rate, 0);
  // Enough for every sender to be busy for the whole run.
  const plan = senders.flatMap((s) =>
    Array.from({ length: Math.ceil(s.rate * SECONDS) }, () => s.number),
  );
  await stack.fillOutbox(plan, 'bench');
  // Follow the emulator's log with long polls (a full listing each time would load it).
  const bySid = new Map<
    string,
    { body: string; from: string | null; history: { atMs: number }[] }
  >();
  const deadline = Date.now() + SECONDS * 3000 + 30_000;
  let cursor = 0;
  while (bySid.size < plan.length && Date.now() < deadline) {
    const page = (await stack.control('GET', `/_emulator/messages?after=${cursor}&wait=5000`)) as {
      messages: { sid: string; body: string; from: string | null; history: { atMs: number }[] }[];
      cursor: number;
    };
    cursor = page.cursor;
    for (const m of page.messages)
      if (m.body.startsWith('bench ') && !bySid.has(m.sid)) bySid.set(m.sid, m);
  }
  const arrivals = [...bySid.values()];
  const times = arrivals.map((m) => m.history[0]!.atMs);
  const span = (Math.max(...times) - Math.min(...times)) / 1000;
  const lines = [
    `bench/outbound — ${plan.length} messages over ${senders.length} senders, store ${stack.parley.store.kind}`,
    `dispatched: ${(plan.length / span).toFixed(1)} msg/s over ${span.toFixed(2)} s; sum of sender rates ${sumOfRates} msg/s (ratio ${(plan.length / span / sumOfRates).toFixed(3)})`,
    'per sender: highest one-second count [limit], own pace over its first to last send, when:',
  ];
  for (const { number, rate } of senders) {
    const sent = arrivals
      .filter((m) => m.from === number.address)
      .map((m) => m.history[0]!.atMs)
      .sort((a, b) => a - b);
    let highest = 0;
    for (const start of sent)
      highest = Math.max(highest, sent.filter((t) => t >= start && t < start + 1000).length);
    // Its own pace: from its first send to its last, and when it started after the first send.
    const own = (sent.length - 1) / ((sent.at(-1)! - sent[0]!) / 1000);
    lines.push(
      `  ${number.kind.padEnd(10)} ${number.address.padEnd(13)} ${String(highest).padStart(4)} [${rate}]  ${own.toFixed(2)}/s from +${((sent[0]! - Math.min(...times)) / 1000).toFixed(2)} s to +${((sent.at(-1)! - Math.min(...times)) / 1000).toFixed(2)} s`,
    );
  }
  lines.push(`RSS: ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await stack.close();
}
