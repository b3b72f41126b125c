/**
 * Resident memory (RSS) of `parley start` in its own process, as an operator sees it: idle
 * after the first start on a new data directory (or empty database), idle after a later start,
 * and the peak while signed inbound webhooks arrive, sent from this process. The embedded
 * store always; PostgreSQL too with DATABASE_URL or TEST_DATABASE_URL (on a scratch database).
 * Runs the built server: npx tsc -p tsconfig.build.json && npx tsx bench/rss.ts
 *   BENCH_SECONDS (load, default 20), BENCH_CONNECTIONS (default 20), BENCH_IDLE_SECONDS
 *   (how long a started server sits before it is measured, default 5). Linux: reads /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createAccount } from '../src/admin/accounts.js';
import { createNumber } from '../src/admin/numbers.js';
import { openStore } from '../src/db/store.js';
import { loadOrCreateAppSecret, SecretBox } from '../src/secret-box.js';
import { collect, type Finished, REPO_ROOT, waitForOutput } from '../test/helpers/processes.js';
import { withScratchDatabase } from '../test/helpers/store.js';
import { memoryOf } from './process-memory.js';
import { type LoadFigures, sendSignedWebhooks } from './signed-webhooks.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL;
const APP_SECRET = randomBytes(32).toString('hex');

const accountSid = `AC${randomBytes(16).toString('hex')}`;
const authToken = randomBytes(16).toString('hex');
const businessNumber = '+15550000001';

interface Figures {
  firstIdle: number;
  firstPeak: number;
  laterIdle: number;
  loadedPeak: number;
  loadedEnd: number;
  load: LoadFigures;
}

interface Server {
  child: ChildProcess;
  exited: Promise<Finished>;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ['dist/cli.js', 'start'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = collect(child);
  await waitForOutput(child, /Parley is running/);
  return { child, exited };
}

async function stopServer(server: Server): Promise<void> {
  server.child.kill('SIGTERM');
  const finished = await server.exited;
  if (finished.code !== 0)
    throw new Error(`parley start exited ${finished.code}: ${finished.stderr}`);
}

/** The account and number the webhooks are signed for, written while no server runs. */
async function seed(databaseUrl: string | undefined, dataDir: string): Promise<void> {
  const store = await openStore(databaseUrl ? { databaseUrl } : { dataDir });
  try {
    const secretBox = new SecretBox(databaseUrl ? APP_SECRET : loadOrCreateAppSecret(dataDir));
    const account = await createAccount(store.db, secretBox, {
      name: 'bench',
      accountSid,
      authToken,
    });
    await createNumber(store.db, { accountId: account.id, address: businessNumber });
  } finally {
    await store.close();
  }
}

async function measure(databaseUrl: string | undefined): Promise<Figures> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const publicUrl = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-rss-'));
  const env = {
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    DATA_DIR: dataDir,
    ...(databaseUrl && { DATABASE_URL: databaseUrl, APP_SECRET }),
  };

  const first = await startServer(env);
  await delay(IDLE_SECONDS * 1000);
  const firstMemory = memoryOf(first.child.pid!);
  await stopServer(first);

  await seed(databaseUrl, dataDir);

  const later = await startServer(env);
  try {
    await delay(IDLE_SECONDS * 1000);
    const laterIdle = memoryOf(later.child.pid!).rss;
    let loadedPeak = 0;
    const sampler = setInterval(() => {
      loadedPeak = Math.max(loadedPeak, memoryOf(later.child.pid!).rss);
    }, 200);
    const load = await sendSignedWebhooks({
      url: publicUrl,
      publicUrl,
      accountSid,
      authToken,
      businessNumber,
      connections: CONNECTIONS,
      seconds: SECONDS,
      handsets: 500,
      workload: 'existing',
    });
    clearInterval(sampler);
    const loadedEnd = memoryOf(later.child.pid!).rss;
    return {
      firstIdle: firstMemory.rss,
      firstPeak: firstMemory.peak,
      laterIdle,
      loadedPeak: Math.max(loadedPeak, loadedEnd),
      loadedEnd,
      load,
    };
  } finally {
    await stopServer(later);
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0).padStart(4)} MiB`;
const lines: string[] = [];
const stores: [string, string | undefined][] = [['PGlite (embedded)', undefined]];
if (PG_URL) stores.push(['PostgreSQL', PG_URL]);
for (const [label, url] of stores) {
  const f = url ? await withScratchDatabase(url, measure) : await measure(undefined);
  lines.push(
    `${label}`,
    `  idle after first start   ${mib(f.firstIdle)}   (peak while starting ${mib(f.firstPeak)})`,
    `  idle after later start   ${mib(f.laterIdle)}`,
    `  under load               ${mib(f.loadedPeak)} peak, ${mib(f.loadedEnd)} at the end` +
      `   (${f.load.rps.toFixed(0)} webhooks/s, p99 ${f.load.p99} ms, errors ${f.load.errors})`,
  );
}
process.stdout.write(
  `bench/rss — idle ${IDLE_SECONDS}s, load ${SECONDS}s at ${CONNECTIONS} connections, ${new Date().toISOString()}\n${lines.join('\n')}\n`,
);
