/**
 * Sustained signed inbound webhooks per second, with p50 / p99 latency, on the embedded
 * store and (with DATABASE_URL or TEST_DATABASE_URL) on PostgreSQL. In the same run, two
 * baselines on the same machine: a bare Fastify route answering the same requests, and
 * plain single-row inserts into the same store. Run: npx tsx bench/inbound.ts
 *   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 20), BENCH_HANDSETS (default 500)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { createAccount } from '../src/admin/accounts.js';
import { createNumber } from '../src/admin/numbers.js';
import { loadConfig } from '../src/config.js';
import { contacts } from '../src/db/schema.js';
import { openStore } from '../src/db/store.js';
import { createLogger } from '../src/logger.js';
import { startParley } from '../src/parley.js';
import { withScratchDatabase } from '../test/helpers/store.js';
import { type LoadFigures, sendSignedWebhooks } from './signed-webhooks.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const HANDSETS = Number(process.env.BENCH_HANDSETS ?? 500);
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL;

const accountSid = `AC${randomBytes(16).toString('hex')}`;
const authToken = randomBytes(16).toString('hex');
const businessNumber = '+15550000001';

const signed = (url: string, publicUrl: string) =>
  sendSignedWebhooks({
    url,
    publicUrl,
    accountSid,
    authToken,
    businessNumber,
    connections: CONNECTIONS,
    seconds: SECONDS,
    handsets: HANDSETS,
  });

async function bareFastify(): Promise<LoadFigures> {
  const app = Fastify();
  await app.register(formbody);
  app.post('/webhooks/twilio/messages', async (_request, reply) =>
    reply.type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response/>'),
  );
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    return await signed(address, address);
  } finally {
    await app.close();
  }
}

async function parleyWebhooks(databaseUrl: string | undefined): Promise<LoadFigures> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-bench-')),
    LOG_LEVEL: 'error',
    ...(databaseUrl && { DATABASE_URL: databaseUrl, APP_SECRET: 'b'.repeat(64) }),
  });
  const parley = await startParley(config, createLogger(config.logLevel));
  try {
    const account = await createAccount(parley.store.db, parley.secretBox, {
      name: 'bench',
      accountSid,
      authToken,
    });
    await createNumber(parley.store.db, { accountId: account.id, address: businessNumber });
    return await signed(parley.url, config.publicUrl);
  } finally {
    await parley.close();
  }
}

/** Single-row inserts, CONNECTIONS at a time, for SECONDS: the store's own pace. */
async function plainInserts(databaseUrl: string | undefined): Promise<number> {
  const store = await openStore(
    databaseUrl ? { databaseUrl } : { dataDir: mkdtempSync(join(tmpdir(), 'parley-bench-')) },
  );
  await store.migrate();
  let inserted = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) {
        await store.db.insert(contacts).values({ address: `+1${randomBytes(6).toString('hex')}` });
        inserted += 1;
      }
    }),
  );
  const rate = inserted / ((Date.now() - started) / 1000);
  await store.close();
  return rate;
}

function row(label: string, f: LoadFigures) {
  return `${label.padEnd(34)} ${f.rps.toFixed(0).padStart(7)} req/s  p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms  errors ${f.errors}`;
}

const lines: string[] = [];
const bare = await bareFastify();
lines.push(row('bare Fastify route', bare));
const stores: [string, string | undefined][] = [['PGlite (embedded)', undefined]];
if (PG_URL) stores.push(['PostgreSQL', PG_URL]);
for (const [label, url] of stores) {
  const run = async (databaseUrl: string | undefined) => {
    const webhooks = await parleyWebhooks(databaseUrl);
    const inserts = await plainInserts(databaseUrl);
    return { webhooks, inserts };
  };
  const { webhooks, inserts } = url ? await withScratchDatabase(url, run) : await run(undefined);
  lines.push(row(`Parley webhooks, ${label}`, webhooks));
  lines.push(`${`plain inserts, ${label}`.padEnd(34)} ${inserts.toFixed(0).padStart(7)} rows/s`);
  lines.push(
    `  ratio to bare Fastify: ${(webhooks.rps / bare.rps).toFixed(3)}   ratio to plain inserts: ${(webhooks.rps / inserts).toFixed(3)}`,
  );
}
lines.push(`RSS at end: ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`);
process.stdout.write(
  `bench/inbound — ${SECONDS}s per run, ${CONNECTIONS} connections, ${HANDSETS} handsets, ${new Date().toISOString()}\n${lines.join('\n')}\n`,
);
