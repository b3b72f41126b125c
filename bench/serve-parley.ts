/**
 * Starts the Parley of a source tree (this one, or another checkout given as the first
 * argument, e.g. the commit before a change) with one account and one number, whose flow
 * hands new conversations to a queue of BENCH_AGENTS agents (default 1,000, 20 conversations
 * each, available, desks open); prints `ready <url> <publicUrl> <accountSid> <authToken>
 * <number>` and serves until SIGTERM. The store holds a history of closed conversations
 * (BENCH_HISTORY customers). DATABASE_URL selects PostgreSQL; otherwise a new
 * embedded store. METRICS_TOKEN turns on GET /metrics behind it.
 *
 * A line `routing` on stdin is answered with `routing <json>`: the conversations opened
 * since the previous such line, once routing has placed them (or 10 s have passed), how
 * many were offered, at what rate, and the queued → offered wait (p50, p99, ms).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';

const root = resolve(process.argv[2] ?? '.');
const load = (path: string) => import(pathToFileURL(join(root, path)).href);
const { loadConfig } = await load('src/config.ts');
const { createLogger } = await load('src/logger.ts');
const { startParley } = await load('src/parley.ts');
const { createAccount } = await load('src/admin/accounts.ts');
const { createNumber } = await load('src/admin/numbers.ts');
const { queryRows } = await load('src/db/store.ts');

const port = 20_000 + Math.floor(Math.random() * 20_000);
const config = loadConfig({
  PORT: String(port),
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-serve-')),
  LOG_LEVEL: 'error',
  ...(process.env.DATABASE_URL && { APP_SECRET: 'b'.repeat(64) }),
  ...(process.env.DATABASE_URL && { DATABASE_URL: process.env.DATABASE_URL }),
  // GET /metrics behind this token (bench/metrics-scrape.ts).
  ...(process.env.METRICS_TOKEN && { METRICS_TOKEN: process.env.METRICS_TOKEN }),
});
const parley = await startParley(config, createLogger(config.logLevel));
const accountSid = `AC${randomBytes(16).toString('hex')}`;
const authToken = randomBytes(16).toString('hex');
const number = '+15550000001';
const account = await createAccount(parley.store.db, parley.secretBox, {
  name: 'bench',
  accountSid,
  authToken,
});
await createNumber(parley.store.db, { accountId: account.id, address: number });
// Written in SQL, so that the checkout of any commit gets the same queue and agents.
const db = parley.store.db;
await db.execute(sql`
  WITH queue AS (
         INSERT INTO queues (name, strategy, offer_timeout_seconds)
         VALUES ('bench', 'longest-idle', 3600) RETURNING id),
       flow AS (INSERT INTO flows (name, queue_id) SELECT 'bench', id FROM queue RETURNING id)
  UPDATE numbers SET flow_id = (SELECT id FROM flow) WHERE address = ${number}`);
await db.execute(sql`
  INSERT INTO users (email, name, role, password_hash, presence, capacity_sms)
  SELECT 'agent' || i || '@bench.test', 'agent ' || i, 'agent', 'unused', 'available', 20
  FROM generate_series(1, ${Number(process.env.BENCH_AGENTS ?? 1000)}) AS i`);
await db.execute(sql`
  INSERT INTO queue_members (queue_id, user_id)
  SELECT q.id, u.id FROM queues q, users u WHERE q.name = 'bench' AND u.role = 'agent'`);
await db.execute(sql`
  INSERT INTO desks (user_id, seen_at)
  SELECT id, now() + interval '1 day' FROM users WHERE role = 'agent'`);
// A history, as a contact center in service has: BENCH_HISTORY customers (default 20,000),
// each with a closed conversation of two texts, an agent's and theirs. Without it the
// statistics below would be of empty tables, and each connection would check the foreign
// keys of the run's thousands of new messages and offers by reading the whole
// conversations table (a plan made while it held one page, kept until autovacuum next
// analyzes it, within a minute of a real store's first traffic).
await db.execute(sql`
  WITH customers AS (
         INSERT INTO contacts (address, created_at)
         SELECT '+1100' || lpad(i::text, 7, '0'), now() - interval '30 days' + i * interval '1 minute'
           FROM generate_series(1, ${Number(process.env.BENCH_HISTORY ?? 20_000)}) AS i
         RETURNING id, address, created_at),
       closed AS (
         INSERT INTO conversations (number_id, contact_id, customer_address, state, queue_id,
                                    queued_at, last_message_at, closed_at, close_reason,
                                    created_at)
         SELECT n.id, c.id, c.address, 'closed', q.id, c.created_at,
                c.created_at + interval '5 minutes', c.created_at + interval '10 minutes',
                'ended', c.created_at
           FROM customers c, numbers n, queues q
          WHERE n.address = ${number} AND q.name = 'bench'
         RETURNING id, number_id, customer_address, created_at)
  INSERT INTO messages (conversation_id, number_id, direction, author, from_address,
                        to_address, body, twilio_sid, status, created_at)
  SELECT c.id, c.number_id, d.direction, d.author,
         CASE d.direction WHEN 'inbound' THEN c.customer_address ELSE ${number} END,
         CASE d.direction WHEN 'inbound' THEN ${number} ELSE c.customer_address END,
         'An earlier text', 'SM' || md5(c.id::text || d.direction),
         CASE d.direction WHEN 'inbound' THEN 'received' ELSE 'delivered' END,
         c.created_at + d.after
    FROM closed c,
         (VALUES ('inbound', 'customer', interval '0'),
                 ('outbound', 'agent', interval '1 minute')) AS d(direction, author, after)`);
// Statistics of the tables just filled, as autovacuum (or, embedded, Parley's own vacuum
// worker) gathers within a minute: without them PostgreSQL ranks a queue's agents by
// reading all 1,000 of them (~8 ms a page instead of ~0.3) for the run's first minute.
await db.execute(sql`ANALYZE`);

let mark = new Date(0);
async function routingFigures() {
  const since = mark;
  mark = new Date();
  const waiting = async () => {
    const [row] = await queryRows(
      db,
      sql`SELECT count(*)::int AS n FROM conversations
          WHERE state = 'queued' AND created_at >= ${since.toISOString()}`,
    );
    return Number(row.n);
  };
  for (let i = 0; i < 100 && (await waiting()) > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const [row] = await queryRows(
    db,
    sql`
    SELECT count(*)::int AS conversations, count(o.id)::int AS offered,
           (count(o.id) / nullif(extract(epoch FROM max(o.created_at) - min(c.created_at)), 0))::float8
             AS offered_per_second,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at - c.queued_at) * 1000)::float8 AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM o.created_at - c.queued_at) * 1000)::float8 AS p99
    FROM conversations c
    LEFT JOIN offers o ON o.conversation_id = c.id
    WHERE c.created_at >= ${since.toISOString()} AND c.created_at < ${mark.toISOString()}`,
  );
  return row;
}
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'routing') return;
  routingFigures().then(
    (figures) => process.stdout.write(`routing ${JSON.stringify(figures)}\n`),
    (error: unknown) =>
      process.stdout.write(`routing ${JSON.stringify({ error: String(error) })}\n`),
  );
});
process.stdout.write(
  `ready ${parley.url} ${config.publicUrl} ${accountSid} ${authToken} ${number}\n`,
);
process.once('SIGTERM', () => {
  parley.close().then(() => process.exit(0));
});
