/**
 * /metrics during a load run: Parley (bench/serve-parley.ts, with METRICS_TOKEN) and the
 * load generator (bench/load-webhooks.ts, texts that each open a new conversation) each in a
 * process of their own, while this process scrapes GET /metrics every second and prints
 * what moved in that second: webhooks answered and refused, their latency (from the
 * histogram's buckets), offers made, conversations waiting and offered, the outbox, the
 * event log's lag, event-loop lag, the pool (PostgreSQL) and how long the scrape took.
 * Run: npx tsx bench/metrics-scrape.ts
 *   BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 20), BENCH_RATE (default: as fast
 *   as answered), BENCH_AGENTS (default 200); DATABASE_URL or TEST_DATABASE_URL for
 *   PostgreSQL (a scratch database).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { collect, REPO_ROOT, waitForOutput } from '../test/helpers/processes.js';
import { type Exposition, parseExposition, total } from '../test/helpers/prometheus.js';
import { withScratchDatabase } from '../test/helpers/store.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = process.env.BENCH_CONNECTIONS ?? '20';
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL || undefined;
const TOKEN = randomBytes(24).toString('hex');

const tsx = (args: string[], env: Record<string, string>) =>
  spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });

async function scrape(url: string): Promise<{ exposition: Exposition; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
  const exposition = parseExposition(await response.text());
  return { exposition, ms: performance.now() - started };
}

/** The upper bound (ms) of the bucket holding quantile q of what a histogram gained. */
function quantileMs(before: Exposition, after: Exposition, name: string, q: number): string {
  const buckets = after.samples
    .filter((s) => s.name === `${name}_bucket`)
    .map((s) => ({
      le: Number(s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : s.labels.le),
      count: s.value - total(before, `${name}_bucket`, s.labels),
    }))
    .sort((a, b) => a.le - b.le);
  const count = buckets.at(-1)?.count ?? 0;
  if (count === 0) return '    -';
  const bucket = buckets.find((b) => b.count >= q * count)!;
  return Number.isFinite(bucket.le) ? `≤${String(bucket.le * 1000).padStart(4)}` : ' >10s';
}

function describeSecond(before: Exposition, after: Exposition, scrapeMs: number): string {
  const gained = (name: string, labels: Record<string, string> = {}) =>
    total(after, name, labels) - total(before, name, labels);
  const state = (s: string) => total(after, 'parley_conversations', { state: s });
  const columns = [
    `webhooks ${String(gained('parley_webhooks_received_total')).padStart(5)}/s`,
    `refused ${gained('parley_webhooks_refused_total')}`,
    `p50 ${quantileMs(before, after, 'parley_webhook_duration_seconds', 0.5)} ms`,
    `p99 ${quantileMs(before, after, 'parley_webhook_duration_seconds', 0.99)} ms`,
    `offers ${String(gained('parley_offers_total', { outcome: 'created' })).padStart(5)}/s`,
    `queued ${String(state('queued')).padStart(5)}`,
    `offered ${String(state('offered')).padStart(6)}`,
    `outbox ${total(after, 'parley_outbox_pending')}`,
    `unnumbered ${total(after, 'parley_event_log_unnumbered')}`,
    `loop p99 ${(total(after, 'nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(0).padStart(3)} ms`,
  ];
  if (after.types.has('parley_db_pool_connections')) {
    columns.push(
      `pool ${total(after, 'parley_db_pool_connections')}/${total(after, 'parley_db_pool_max_connections')}` +
        ` waiting ${total(after, 'parley_db_pool_waiting_queries')}`,
    );
  }
  columns.push(`scrape ${scrapeMs.toFixed(0)} ms`);
  return columns.join('  ');
}

async function run(store: string, databaseUrl: string | undefined): Promise<string[]> {
  const server = tsx(['bench/serve-parley.ts'], {
    METRICS_TOKEN: TOKEN,
    BENCH_AGENTS: process.env.BENCH_AGENTS ?? '200',
    ...(databaseUrl && { DATABASE_URL: databaseUrl }),
  });
  const exited = collect(server);
  const lines = [`${store}:`];
  try {
    const [, url, ...target] = await waitForOutput(server, /ready (\S+) (\S+) (\S+) (\S+) (\S+)/);
    let previous = await scrape(url!);
    const load: ChildProcess = tsx(['bench/load-webhooks.ts', url!, ...(target as string[])], {
      BENCH_SECONDS: String(SECONDS),
      BENCH_CONNECTIONS: CONNECTIONS,
      BENCH_WORKLOAD: 'new',
      BENCH_AREA_CODE: '205',
    });
    const loaded = collect(load);
    let running = true;
    void loaded.then(() => {
      running = false;
    });
    // A second after the load too: what routing and the outbox still had to do.
    for (let second = 1; running || second <= SECONDS + 1; second++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const current = await scrape(url!);
      lines.push(
        `  ${String(second).padStart(2)} s  ${describeSecond(previous.exposition, current.exposition, current.ms)}`,
      );
      previous = current;
    }
    const done = await loaded;
    if (done.code !== 0) throw new Error(`load generator failed: ${done.stderr}`);
    const figures = JSON.parse(done.stdout.trim().split('\n').at(-1)!) as {
      rps: number;
      p50: number;
      p99: number;
      errors: number;
    };
    lines.push(
      `  load generator: ${figures.rps.toFixed(0)} req/s  p50 ${figures.p50} ms  p99 ${figures.p99} ms  errors ${figures.errors}`,
    );
    return lines;
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
}

const lines: string[] = [];
lines.push(...(await run('PGlite', undefined)));
if (PG_URL) lines.push(...(await withScratchDatabase(PG_URL, (url) => run('PostgreSQL', url))));
process.stdout.write(
  `bench/metrics-scrape — ${SECONDS} s of new conversations, ${CONNECTIONS} connections, /metrics scraped each second, ${new Date().toISOString()}\n${lines.join('\n')}\n`,
);
