/**
 * Inbound webhooks (into existing conversations, or with BENCH_WORKLOAD=new each opening
 * one, then also how fast routing offered them), before and after a change, in one run:
 * each Parley (this tree, and the checkout given as BENCH_BEFORE) serves in a process of
 * its own, and the load generator (bench/load-webhooks.ts) runs in a third. Prints req/s,
 * p50 / p99 latency and the server's resident memory per store, and the after/before ratio.
 *   BENCH_BEFORE=/path/to/old/checkout npx tsx bench/compare-inbound.ts
 *   TEST_DATABASE_URL adds PostgreSQL (a scratch database per run);
 *   BENCH_STORES=pglite or =postgres measures one store only; BENCH_ROUNDS=n alternates
 *   before and after n times (the machine's noise shows in the spread);
 *   BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_HANDSETS, BENCH_WORKLOAD, BENCH_RATE as for
 *   bench/load-webhooks.ts.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { collect, REPO_ROOT, waitForOutput } from '../test/helpers/processes.js';
import { withScratchDatabase } from '../test/helpers/store.js';
import { memoryOf } from './process-memory.js';
import { awaitOpenedAndPlaced, describeRouting, routingFigures } from './routing-figures.js';
import type { LoadFigures } from './signed-webhooks.js';

const PG_URL = process.env.TEST_DATABASE_URL || undefined;
const trees: [string, string][] = [['after', REPO_ROOT]];
if (process.env.BENCH_BEFORE) trees.unshift(['before', resolve(process.env.BENCH_BEFORE)]);

const tsx = (args: string[], env: Record<string, string> = {}) =>
  spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });

async function measure(tree: string, databaseUrl: string | undefined) {
  const server = tsx(
    ['bench/serve-parley.ts', tree],
    databaseUrl ? { DATABASE_URL: databaseUrl } : {},
  );
  const exited = collect(server);
  try {
    const [, ...target] = await waitForOutput(server, /ready (\S+) (\S+) (\S+) (\S+) (\S+)/);
    await routingFigures(server);
    // Texts into existing conversations are measured once routing has placed the ones the
    // load generator opened, not while it does.
    const awaitGo = (process.env.BENCH_WORKLOAD ?? 'existing') === 'existing';
    const generator = tsx(['bench/load-webhooks.ts', ...(target as string[])], {
      BENCH_AWAIT_GO: awaitGo ? '1' : '',
    });
    const [load] = await Promise.all([
      collect(generator),
      awaitGo && awaitOpenedAndPlaced(generator, server),
    ]);
    if (load.code !== 0) throw new Error(`load generator failed: ${load.stderr}`);
    const figures = JSON.parse(load.stdout.trim().split('\n').at(-1)!) as LoadFigures;
    return {
      ...figures,
      routing: await routingFigures(server),
      rssMiB: memoryOf(server.pid!).peak / 1024 / 1024,
    };
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
}

const only = process.env.BENCH_STORES;
const stores: [string, string | undefined][] = [];
if (only !== 'postgres') stores.push(['PGlite', undefined]);
if (PG_URL && only !== 'pglite') stores.push(['PostgreSQL', PG_URL]);
const rounds = Number(process.env.BENCH_ROUNDS ?? 1);
const lines: string[] = [];
for (const [store, serverUrl] of stores) {
  for (let round = 0; round < rounds; round++) {
    const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
    for (const [label, tree] of trees) {
      results[label] = serverUrl
        ? await withScratchDatabase(serverUrl, (url) => measure(tree, url))
        : await measure(tree, undefined);
      const r = results[label]!;
      lines.push(
        `${`${store}, ${label}`.padEnd(20)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(5)} ms  errors ${r.errors}  peak RSS ${r.rssMiB.toFixed(0)} MiB`,
      );
      if (r.routing.conversations > 0) lines.push(`${''.padEnd(20)} ${describeRouting(r.routing)}`);
    }
    if (results.before && results.after) {
      lines.push(
        `${`${store}, after/before`.padEnd(20)} ${(results.after.rps / results.before.rps).toFixed(2)}x req/s`,
      );
    }
  }
}
process.stdout.write(
  `bench/compare-inbound — ${process.env.BENCH_SECONDS ?? 10}s, ${process.env.BENCH_CONNECTIONS ?? 100} connections, load generator in its own process, ${new Date().toISOString()}\n${lines.join('\n')}\n`,
);
