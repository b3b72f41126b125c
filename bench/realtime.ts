/**
 * The live-event path: an event committed through appendEvent until it reaches every
 * connected supervisor over GET /api/events, for 1, 50 and 200 clients, with latency
 * p50 / p99 / max, events committed and delivered per second, and a check that every client
 * got every event exactly once and in seq order. In the same run, the baseline: a bare `ws`
 * server broadcasting the same messages at the same rate, without a database.
 * Run: npx tsx bench/realtime.ts (PGlite; TEST_DATABASE_URL=postgres://… for PostgreSQL)
 *   BENCH_RATE (events/s, default 200), BENCH_SECONDS (default 5), BENCH_CLIENTS (default 1,50,200)
 *
 * The clients live in a child process (this file again, BENCH_REALTIME_ROLE=clients), as
 * browsers live elsewhere: in Parley's process they would compete with the gateway for its
 * event loop and add their buffers to its RSS. Both processes stamp times with
 * performance.timeOrigin + performance.now(), a clock they share.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createSession } from '../src/auth/sessions.js';
import { loadConfig } from '../src/config.js';
import { upsertContact } from '../src/consent/contacts.js';
import { openConversation } from '../src/conversations/conversations.js';
import { appendEvent } from '../src/event-log.js';
import type { EventPayloads, ServerMessage } from '../src/events.js';
import { createLogger } from '../src/logger.js';
import { startParley } from '../src/parley.js';
import { eventMessage } from '../src/realtime/protocol.js';
import { signIn } from '../test/helpers/app.js';
import { buildNumber, phoneNumber } from '../test/helpers/factories.js';
import { REPO_ROOT } from '../test/helpers/processes.js';
import { freePort } from '../test/helpers/stack.js';
import { withScratchDatabase } from '../test/helpers/store.js';

const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENT_COUNTS = (process.env.BENCH_CLIENTS ?? '1,50,200').split(',').map(Number);
const EVENTS = Math.round(RATE * SECONDS);
/** After the last commit, how long the clients may take to get the rest before it counts as lost. */
const DRAIN_MS = 10_000;
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL;

// The parts of the `ws` library used here (its type declarations are not installed).
interface WsClient {
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  close(): void;
}
interface WsServerSocket {
  send(data: string): void;
  terminate(): void;
}
interface WsServer {
  readonly clients: Set<WsServerSocket>;
  on(event: 'connection', listener: (socket: WsServerSocket) => void): void;
  on(event: 'listening', listener: () => void): void;
  close(callback: () => void): void;
}
const ws = createRequire(import.meta.url)('ws') as {
  WebSocket: new (url: string) => WsClient;
  WebSocketServer: new (options: { host: string; port: number }) => WsServer;
};

/** Milliseconds since the epoch, sub-millisecond, comparable between the two processes. */
const now = () => performance.timeOrigin + performance.now();

/** What the clients' process is asked to do, and what it answers. */
type Command =
  | { op: 'open'; urls: string[]; runId: string }
  | { op: 'collect'; commits: number[] }
  | { op: 'close' };
type Answer =
  | { op: 'opened' }
  | { op: 'report'; delivery: Delivery }
  | { op: 'closed' }
  | { op: 'failed'; message: string };

/** What the clients got of one run's events, and when. */
interface Delivery {
  deliveries: number;
  missing: number;
  duplicates: number;
  misordered: number;
  /** Events that were not this run's (another part of Parley appending to the log). */
  others: number;
  /** Clients the server closed before the end, with the close codes. */
  closedEarly: number[];
  perSecond: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

const prefixOf = (runId: string) => `bench-${runId}-`;

// ───────────────────────────── the clients' process ─────────────────────────────

class Feed {
  readonly receipts = new Float64Array(EVENTS).fill(Number.NaN);
  received = 0;
  duplicates = 0;
  misordered = 0;
  others = 0;
  lastSeq = 0;
  closeCode: number | undefined;
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;

  constructor(
    readonly socket: WsClient,
    prefix: string,
    onComplete: () => void,
  ) {
    let markReady = () => {};
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      socket.on('error', reject);
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code) => {
        this.closeCode = code;
        resolve();
      }),
    );
    socket.on('message', (data) => {
      // Stamped before parsing: parsing is the client's cost, not the path's.
      const at = now();
      const message = JSON.parse(data.toString()) as ServerMessage;
      if (message.type === 'ready') {
        this.lastSeq = message.seq;
        markReady();
        return;
      }
      if (message.seq <= this.lastSeq) this.misordered += 1;
      this.lastSeq = Math.max(this.lastSeq, message.seq);
      const id = message.type === 'message.received' ? message.payload.messageId : '';
      if (!id.startsWith(prefix)) {
        this.others += 1;
        return;
      }
      const i = Number(id.slice(prefix.length));
      if (!Number.isNaN(this.receipts[i]!)) {
        this.duplicates += 1;
        return;
      }
      this.receipts[i] = at;
      this.received += 1;
      if (this.received === EVENTS) onComplete();
    });
  }
}

async function serveClients(): Promise<void> {
  let feeds: Feed[] = [];
  let complete = 0;
  let allComplete = () => {};
  const answer = (message: Answer) => process.send?.(message);

  const handle = async (command: Command): Promise<Answer> => {
    switch (command.op) {
      case 'open': {
        complete = 0;
        allComplete = () => {};
        feeds = command.urls.map(
          (url) =>
            new Feed(new ws.WebSocket(url), prefixOf(command.runId), () => {
              complete += 1;
              if (complete === feeds.length) allComplete();
            }),
        );
        await Promise.all(feeds.map((feed) => feed.ready));
        return { op: 'opened' };
      }
      case 'collect': {
        let drained: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          if (complete === feeds.length) resolve();
          allComplete = resolve;
          drained = setTimeout(resolve, DRAIN_MS);
        });
        clearTimeout(drained);
        return { op: 'report', delivery: summarise(feeds, command.commits) };
      }
      case 'close': {
        for (const feed of feeds) feed.socket.close();
        await Promise.all(feeds.map((feed) => feed.closed));
        feeds = [];
        return { op: 'closed' };
      }
    }
  };
  process.on('message', (command) => {
    handle(command as Command).then(answer, (error: unknown) =>
      answer({ op: 'failed', message: error instanceof Error ? error.message : String(error) }),
    );
  });
  // The bench is over (or died): nothing here outlives it.
  process.on('disconnect', () => {
    for (const feed of feeds) feed.socket.close();
    process.exit(0);
  });
}

function summarise(feeds: Feed[], commits: number[]): Delivery {
  const latencies = new Float64Array(feeds.length * EVENTS);
  let n = 0;
  let lastReceipt = 0;
  for (const feed of feeds) {
    for (let i = 0; i < EVENTS; i++) {
      const at = feed.receipts[i]!;
      if (Number.isNaN(at)) continue;
      latencies[n++] = at - commits[i]!;
      lastReceipt = Math.max(lastReceipt, at);
    }
  }
  const sorted = latencies.subarray(0, n).sort();
  const percentile = (p: number) => sorted[Math.min(n - 1, Math.floor(p * n))] ?? Number.NaN;
  const firstCommit = Math.min(...commits);
  return {
    deliveries: n,
    missing: feeds.length * EVENTS - n,
    duplicates: feeds.reduce((sum, feed) => sum + feed.duplicates, 0),
    misordered: feeds.reduce((sum, feed) => sum + feed.misordered, 0),
    others: feeds.reduce((sum, feed) => sum + feed.others, 0),
    closedEarly: feeds.flatMap((feed) => (feed.closeCode === undefined ? [] : [feed.closeCode])),
    perSecond: n / ((lastReceipt - firstCommit) / 1000),
    min: sorted[0] ?? Number.NaN,
    p50: percentile(0.5),
    p99: percentile(0.99),
    max: sorted[n - 1] ?? Number.NaN,
  };
}

// ───────────────────────────── the server's process ─────────────────────────────

/** The clients' process, driven one command at a time. */
class Clients {
  readonly #child: ChildProcess;
  readonly exited: Promise<void>;

  constructor() {
    this.#child = fork(fileURLToPath(import.meta.url), [], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_REALTIME_ROLE: 'clients' },
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  ask<A extends Answer['op']>(command: Command, expect: A): Promise<Extract<Answer, { op: A }>> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('the clients process exited'));
      this.#child.once('message', (raw) => {
        this.#child.off('exit', onExit);
        const answer = raw as Answer;
        if (answer.op === expect) resolve(answer as Extract<Answer, { op: A }>);
        else reject(new Error(answer.op === 'failed' ? answer.message : `got ${answer.op}`));
      });
      this.#child.once('exit', onExit);
      this.#child.send(command);
    });
  }

  async close(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    await this.exited;
  }
}

interface Run {
  label: string;
  clients: number;
  committedPerSecond: number;
  delivery: Delivery;
  rssPeak: number;
  cpuPercent: number;
}

/**
 * One run: K clients connected and ready, EVENTS events emitted at RATE (each at its due
 * time, whether or not the previous one is done, so a slow commit does not slow the
 * schedule), then what the clients got. `emit` returns the time the event became real.
 */
async function measure(
  label: string,
  clients: Clients,
  urls: string[],
  emit: (runId: string, i: number) => Promise<number>,
): Promise<Run> {
  const runId = Math.random().toString(36).slice(2, 8);
  await clients.ask({ op: 'open', urls, runId }, 'opened');
  let rssPeak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 50);
  const cpu = process.cpuUsage();
  const started = now() + 20;
  const commits = await Promise.all(
    Array.from({ length: EVENTS }, async (_, i) => {
      await sleep(Math.max(0, started + (i * 1000) / RATE - now()));
      return emit(runId, i);
    }),
  );
  const committedPerSecond = EVENTS / ((Math.max(...commits) - started) / 1000);
  const { delivery } = await clients.ask({ op: 'collect', commits }, 'report');
  const used = process.cpuUsage(cpu);
  const cpuPercent = ((used.user + used.system) / 1000 / (now() - started)) * 100;
  clearInterval(sampler);
  await clients.ask({ op: 'close' }, 'closed');
  return { label, clients: urls.length, committedPerSecond, delivery, rssPeak, cpuPercent };
}

/** The same messages from a bare `ws` server, serialised once and sent to every client. */
async function baseline(clients: Clients, k: number): Promise<Run> {
  const conversationId = randomUUID();
  const port = await freePort();
  const server = new ws.WebSocketServer({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => server.on('listening', resolve));
  server.on('connection', (socket) => socket.send(JSON.stringify({ type: 'ready', seq: 0 })));
  try {
    const url = `ws://127.0.0.1:${port}/`;
    return await measure(
      'bare ws',
      clients,
      Array.from({ length: k }, () => url),
      async (runId, i) => {
        const payload = eventPayload(runId, i);
        const data = JSON.stringify(
          eventMessage({
            seq: i + 1,
            type: 'message.received',
            conversationId,
            agentId: null,
            payload,
            createdAt: new Date(),
          }),
        );
        const at = now();
        for (const socket of server.clients) socket.send(data);
        return at;
      },
    );
  } finally {
    for (const socket of server.clients) socket.terminate();
    await new Promise<void>((resolve) => server.close(resolve));
  }
}

const CUSTOMER = phoneNumber();

function eventPayload(runId: string, i: number): EventPayloads['message.received'] {
  return {
    messageId: `${prefixOf(runId)}${i}`,
    from: CUSTOMER,
    body: `Is my order ready? (${i})`,
    numMedia: 0,
  };
}

/** Parley on a fresh store, one supervisor with an API token per client, every K. */
async function parleyRuns(clients: Clients, databaseUrl: string | undefined): Promise<Run[]> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...(databaseUrl && { DATABASE_URL: databaseUrl, APP_SECRET: 'b'.repeat(64) }),
  });
  const parley = await startParley(config, createLogger(config.logLevel));
  try {
    const db = parley.store.db;
    const number = await buildNumber(db);
    const contact = await upsertContact(db, CUSTOMER);
    const { conversation } = await openConversation(db, {
      numberId: number.id,
      contactId: contact.id,
      customerAddress: CUSTOMER,
    });
    const { user } = await signIn(parley.store, 'supervisor');
    const tokens: string[] = [];
    for (let i = 0; i < Math.max(...CLIENT_COUNTS); i++) {
      tokens.push((await createSession(db, user.id, 'api-token', { ttlMs: null })).token);
    }
    const wsUrl = parley.url.replace(/^http/, 'ws');
    const runs: Run[] = [];
    for (const k of CLIENT_COUNTS) {
      const urls = tokens.slice(0, k).map((token) => `${wsUrl}/api/events?token=${token}`);
      runs.push(
        await measure(`Parley, ${parley.store.kind}`, clients, urls, async (runId, i) => {
          await db.transaction((tx) =>
            appendEvent(
              tx,
              'message.received',
              { conversationId: conversation.id },
              eventPayload(runId, i),
            ),
          );
          return now();
        }),
      );
    }
    return runs;
  } finally {
    await parley.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function tableRow(run: Run): string {
  const d = run.delivery;
  const problems = [
    d.missing && `${d.missing} lost`,
    d.duplicates && `${d.duplicates} duplicated`,
    d.misordered && `${d.misordered} out of order`,
    d.closedEarly.length && `${d.closedEarly.length} closed early (${d.closedEarly.join(',')})`,
  ].filter(Boolean);
  const check = problems.length ? `NO: ${problems.join(', ')}` : 'yes';
  const ms = (value: number) => value.toFixed(1).padStart(7);
  return [
    run.label.padEnd(16),
    String(run.clients).padStart(7),
    run.committedPerSecond.toFixed(0).padStart(11),
    d.perSecond.toFixed(0).padStart(11),
    ms(d.p50),
    ms(d.p99),
    ms(d.max),
    (run.rssPeak / 1024 / 1024).toFixed(0).padStart(7),
    `${run.cpuPercent.toFixed(0)}%`.padStart(5),
    `  ${check}${d.others ? ` (+${d.others} other events)` : ''}`,
  ].join(' ');
}

async function main(): Promise<void> {
  const clients = new Clients();
  const baselines = new Map<number, Run>();
  let runs: Run[];
  try {
    // Baselines first, while this process holds no Parley: their RSS is the bare server's.
    for (const k of CLIENT_COUNTS) baselines.set(k, await baseline(clients, k));
    runs = PG_URL
      ? await withScratchDatabase(PG_URL, (url) => parleyRuns(clients, url))
      : await parleyRuns(clients, undefined);
  } finally {
    await clients.close();
  }
  const lines = [
    `bench/realtime — ${EVENTS} events per run at ${RATE}/s, supervisors' sockets in a child process, ${new Date().toISOString()}`,
    'latency: commit (or send, for bare ws) → receipt by each client, over every event and client',
    `${'server'.padEnd(16)} clients committed/s delivered/s  p50 ms  p99 ms  max ms RSS MiB   CPU   every event once, in seq order`,
  ];
  for (const run of runs) {
    const base = baselines.get(run.clients)!;
    lines.push(tableRow(base), tableRow(run));
  }
  lines.push('Parley / bare ws:');
  for (const run of runs) {
    const base = baselines.get(run.clients)!;
    lines.push(
      `  ${String(run.clients).padStart(3)} clients: p50 ×${(run.delivery.p50 / base.delivery.p50).toFixed(1)}, p99 ×${(run.delivery.p99 / base.delivery.p99).toFixed(1)}`,
    );
  }
  lines.push(
    'RSS and CPU (of one core) are the server process: Parley with its workers and store, or the bare ws server.',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.env.BENCH_REALTIME_ROLE === 'clients') await serveClients();
else await main();
