/**
 * The store's own limit, in a process of its own: autocommit single-row inserts of a row like
 * an inbound message's, through the store's client (`pg` with one connection per concurrent
 * writer, or PGlite directly), not through the ORM. Prints `{"rowsPerSecond": …}`.
 * With BENCH_RATE, inserts at that fixed rate instead (insert i due at i / rate seconds,
 * latency counted from then, as bench/signed-webhooks.ts paces texts), and prints the rate
 * achieved with p50Ms and p99Ms: the store's own tail at the rate Parley is offered.
 *   npx tsx bench/raw-inserts.ts [postgres-url]   (no URL: a new PGlite data directory)
 *   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 100), BENCH_RATE
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 0);
const databaseUrl = process.argv[2];

const TABLE = `CREATE TABLE bench_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  twilio_sid text NOT NULL UNIQUE,
  from_address text NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now())`;
const INSERT = 'INSERT INTO bench_messages (twilio_sid, from_address, body) VALUES ($1, $2, $3)';

type Query = (text: string, params?: unknown[]) => Promise<unknown>;
let query: Query;
let close: () => Promise<void>;
if (databaseUrl) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: CONNECTIONS });
  query = (text, params) => pool.query(text, params);
  close = () => pool.end();
} else {
  const db = await PGlite.create(mkdtempSync(join(tmpdir(), 'parley-raw-')));
  query = (text, params) => db.query(text, params);
  close = () => db.close();
}
// A table of its own each run, dropped afterwards (a run against a database of yours
// leaves nothing behind).
await query('DROP TABLE IF EXISTS bench_messages');
await query(TABLE);
const finish = async () => {
  await query('DROP TABLE bench_messages');
  await close();
};

let inserted = 0;
const insertOne = () =>
  query(INSERT, [
    `SM${randomBytes(16).toString('hex')}`,
    `+1555${String(inserted++ % 10_000_000).padStart(7, '0')}`,
    'Hi, is my order on its way?',
  ]);

if (RATE > 0) {
  const latencies: number[] = [];
  const started = performance.now();
  const total = Math.round(RATE * SECONDS);
  const sent: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await delay(wait);
    sent.push(insertOne().then(() => void latencies.push(performance.now() - due)));
  }
  await Promise.all(sent);
  const rowsPerSecond = total / ((performance.now() - started) / 1000);
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  await finish();
  process.stdout.write(`${JSON.stringify({ rowsPerSecond, p50Ms: at(0.5), p99Ms: at(0.99) })}\n`);
} else {
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) await insertOne();
    }),
  );
  const rowsPerSecond = inserted / ((Date.now() - started) / 1000);
  await finish();
  process.stdout.write(`${JSON.stringify({ rowsPerSecond })}\n`);
}
