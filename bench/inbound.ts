/**
 * Inbound webhooks against Parley, each part in a process of its own (Parley, the load
 * generator, the baselines), on the embedded store and, with TEST_DATABASE_URL or
 * DATABASE_URL, on PostgreSQL (a scratch database per run). In the same run: a bare Fastify
 * route answering the same requests, and raw single-row inserts into the same store, so each
 * figure comes with its ratios. Phases per store:
 *   - texts into existing conversations, as fast as answered;
 *   - the same at a fixed offered rate (BENCH_RATE, default 1,000/s): achieved rate and p99,
 *     with the bare route's and the store's raw inserts' at that rate;
 *   - texts that each open a new conversation, as fast as answered, then at a steady
 *     BENCH_STEADY_RATE (default 50/s): how fast routing offers them to the queue's agents,
 *     and the wait from queued to offered.
 * Run: npx tsx bench/inbound.ts
 *   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 100), BENCH_HANDSETS (default 500)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { collect, REPO_ROOT, waitForOutput } from '../test/helpers/processes.js';
import { withScratchDatabase } from '../test/helpers/store.js';
import { memoryOf } from './process-memory.js';
import {
  awaitOpenedAndPlaced,
  describeRouting,
  type RoutingFigures,
  routingFigures,
} from './routing-figures.js';
import type { LoadFigures } from './signed-webhooks.js';

const SECONDS = process.env.BENCH_SECONDS ?? '10';
const CONNECTIONS = process.env.BENCH_CONNECTIONS ?? '100';
const HANDSETS = process.env.BENCH_HANDSETS ?? '500';
const RATE = process.env.BENCH_RATE ?? '1000';
/** New conversations per second in the phase that measures queued → offered at a steady pace. */
const STEADY_RATE = process.env.BENCH_STEADY_RATE ?? '50';
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL || undefined;

const tsx = (args: string[], env: Record<string, string> = {}) =>
  spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_SECONDS: SECONDS, BENCH_CONNECTIONS: CONNECTIONS, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });

async function lastJsonLine<T>(child: ChildProcess, what: string): Promise<T> {
  const done = await collect(child);
  if (done.code !== 0) throw new Error(`${what} failed: ${done.stderr}`);
  return JSON.parse(done.stdout.trim().split('\n').at(-1)!) as T;
}

/** Starts a server script, runs each load against it, and returns the figures and its peak RSS. */
async function against(
  script: string,
  env: Record<string, string>,
  loads: Record<string, string>[],
): Promise<{ figures: (LoadFigures & { routing: RoutingFigures })[]; peakMiB: number }> {
  const server = tsx([script], env);
  const exited = collect(server);
  try {
    const [, ...target] = await waitForOutput(server, /ready (\S+) (\S+) (\S+) (\S+) (\S+)/);
    const figures: (LoadFigures & { routing: RoutingFigures })[] = [];
    for (const load of loads) {
      if (script === 'bench/serve-parley.ts') await routingFigures(server);
      // Texts into existing conversations are measured once routing has placed the ones
      // the load generator opened, not while it does.
      const awaitGo = script === 'bench/serve-parley.ts' && load.BENCH_WORKLOAD === 'existing';
      const generator = tsx(['bench/load-webhooks.ts', ...(target as string[])], {
        BENCH_HANDSETS: HANDSETS,
        ...load,
        BENCH_AWAIT_GO: awaitGo ? '1' : '',
      });
      const [sent] = await Promise.all([
        lastJsonLine<LoadFigures>(generator, 'load generator'),
        awaitGo && awaitOpenedAndPlaced(generator, server),
      ]);
      const routing =
        script === 'bench/serve-parley.ts'
          ? await routingFigures(server)
          : { conversations: 0, offered: 0, offered_per_second: null, p50: null, p99: null };
      figures.push({ ...sent, routing });
    }
    return { figures, peakMiB: memoryOf(server.pid!).peak / 1024 / 1024 };
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
}

const latency = (f: LoadFigures) =>
  `p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(5)} ms  errors ${f.errors}`;
const label = (text: string) => text.padEnd(44);
const lines: string[] = [];
const {
  figures: [bare, barePaced],
} = await against('bench/serve-bare.ts', {}, [
  { BENCH_WORKLOAD: 'existing' },
  { BENCH_WORKLOAD: 'existing', BENCH_RATE: RATE },
]);
lines.push(
  `${label('bare Fastify route')} ${bare!.rps.toFixed(0).padStart(6)} req/s  ${latency(bare!)}`,
  `${label(`bare Fastify route, ${RATE}/s offered`)} ${barePaced!.rps.toFixed(0).padStart(6)} req/s  ${latency(barePaced!)}`,
);

const stores: [string, string | undefined][] = [['PGlite', undefined]];
if (PG_URL) stores.push(['PostgreSQL', PG_URL]);
for (const [store, serverUrl] of stores) {
  const run = async (databaseUrl: string | undefined) => {
    const raw = await lastJsonLine<{ rowsPerSecond: number }>(
      tsx(['bench/raw-inserts.ts', ...(databaseUrl ? [databaseUrl] : [])]),
      'raw inserts',
    );
    const rawPaced = await lastJsonLine<{ rowsPerSecond: number; p50Ms: number; p99Ms: number }>(
      tsx(['bench/raw-inserts.ts', ...(databaseUrl ? [databaseUrl] : [])], { BENCH_RATE: RATE }),
      'raw inserts at a fixed rate',
    );
    const parley = await against(
      'bench/serve-parley.ts',
      databaseUrl ? { DATABASE_URL: databaseUrl } : {},
      [
        { BENCH_WORKLOAD: 'existing', BENCH_AREA_CODE: '201' },
        { BENCH_WORKLOAD: 'existing', BENCH_RATE: RATE, BENCH_AREA_CODE: '202' },
        { BENCH_WORKLOAD: 'new', BENCH_AREA_CODE: '203' },
        { BENCH_WORKLOAD: 'new', BENCH_RATE: STEADY_RATE, BENCH_AREA_CODE: '204' },
      ],
    );
    return { raw: raw.rowsPerSecond, rawPaced, parley };
  };
  const { raw, rawPaced, parley } = serverUrl
    ? await withScratchDatabase(serverUrl, run)
    : await run(undefined);
  const [existing, fixed, fresh, steady] = parley.figures as [
    LoadFigures,
    LoadFigures,
    LoadFigures & { routing: RoutingFigures },
    LoadFigures & { routing: RoutingFigures },
  ];
  lines.push(
    `${label(`${store}: raw single-row inserts`)} ${raw.toFixed(0).padStart(6)} rows/s`,
    `${label(`${store}: raw inserts, ${RATE}/s offered`)} ${rawPaced.rowsPerSecond.toFixed(0).padStart(6)} rows/s  p50 ${String(rawPaced.p50Ms).padStart(4)} ms  p99 ${String(rawPaced.p99Ms).padStart(5)} ms`,
    `${label(`${store}: texts into existing conversations`)} ${existing.rps.toFixed(0).padStart(6)} req/s  ${latency(existing)}`,
    `${label('')} ${(existing.rps / raw).toFixed(2)}x raw inserts, ${(existing.rps / bare!.rps).toFixed(2)}x bare Fastify`,
    `${label(`${store}: ${RATE}/s offered, existing conversations`)} ${fixed.rps.toFixed(0).padStart(6)} req/s  ${latency(fixed)}`,
    `${label(`${store}: texts opening new conversations`)} ${fresh.rps.toFixed(0).padStart(6)} req/s  ${latency(fresh)}`,
    `${label('')} ${describeRouting(fresh.routing)}`,
    `${label(`${store}: ${STEADY_RATE}/s new conversations`)} ${steady.rps.toFixed(0).padStart(6)} req/s  ${latency(steady)}`,
    `${label('')} ${describeRouting(steady.routing)}`,
    `${label(`${store}: Parley's peak RSS (under tsx)`)} ${parley.peakMiB.toFixed(0).padStart(6)} MiB`,
  );
}
process.stdout.write(
  `bench/inbound — ${SECONDS} s per phase, ${CONNECTIONS} connections, ${HANDSETS} handsets, load generator in its own process, ${new Date().toISOString()}\n${lines.join('\n')}\n`,
);
