/**
 * The store's own limit, in a process of its own: autocommit single-row inserts of a row like
 * an inbound message's, through the store's client (`pg` with one connection per concurrent
 * writer, or PGlite directly), not through the ORM. Prints `{"rowsPerSecond": …}`.
 *   npx tsx bench/raw-inserts.ts [postgres-url]   (no URL: a new PGlite data directory)
 *   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 100)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
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
await query(TABLE);

let inserted = 0;
const started = Date.now();
const deadline = started + SECONDS * 1000;
await Promise.all(
  Array.from({ length: CONNECTIONS }, async () => {
    while (Date.now() < deadline) {
      await query(INSERT, [
        `SM${randomBytes(16).toString('hex')}`,
        `+1555${String(inserted % 10_000_000).padStart(7, '0')}`,
        'Hi, is my order on its way?',
      ]);
      inserted += 1;
    }
  }),
);
const rowsPerSecond = inserted / ((Date.now() - started) / 1000);
await close();
process.stdout.write(`${JSON.stringify({ rowsPerSecond })}\n`);
