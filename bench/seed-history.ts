/**
 * A made-up month of a contact center (bench/history.ts), and how long the reports take on it.
 *
 *   npx tsx bench/seed-history.ts
 *     seeds a scratch store — in-memory PGlite, and a scratch PostgreSQL database with
 *     TEST_DATABASE_URL — and prints the time of GET /api/reports' query for a month, a week
 *     and a day, with and without a filter (median of 5 after one warm-up).
 *   npx tsx bench/seed-history.ts --into
 *     writes the history into Parley's own store (DATABASE_URL, else the PGlite store in
 *     DATA_DIR, default ./data; stop Parley first, it holds that store's lock), for a demo.
 *
 * HISTORY_CONVERSATIONS (default 20,000), HISTORY_DAYS (30), HISTORY_SEED (16).
 */
import { vacuumWhereDue } from '../src/db/maintenance.js';
import { openStore, type Store } from '../src/db/store.js';
import { buildReport, type ReportQuery } from '../src/reports/reports.js';
import { withScratchDatabase } from '../test/helpers/store.js';
import { planHistory, writeHistory } from './history.js';

const CONVERSATIONS = Number(process.env.HISTORY_CONVERSATIONS ?? 20_000);
const DAYS = Number(process.env.HISTORY_DAYS ?? 30);
const SEED = Number(process.env.HISTORY_SEED ?? 16);
const PG_URL = process.env.TEST_DATABASE_URL || undefined;
const DAY = 86_400_000;

const end = new Date();
const plan = planHistory({ seed: SEED, conversations: CONVERSATIONS, days: DAYS, end });

async function seed(store: Store): Promise<number> {
  await store.migrate();
  const started = performance.now();
  await writeHistory(store.db, plan);
  const took = performance.now() - started;
  // What autovacuum (PostgreSQL) or Parley's embedded-vacuum worker (PGlite) would do next.
  await vacuumWhereDue(store.db);
  return took;
}

async function measure(label: string, store: Store): Promise<void> {
  const seeded = await seed(store);
  console.log(
    `${label}: ${plan.stories.length} conversations, ${plan.stories.reduce((n, s) => n + s.messages.length, 0)} messages written in ${(seeded / 1000).toFixed(1)} s`,
  );
  const base = { to: end, timeZone: 'UTC', serviceLevelSeconds: 60 };
  const cases: [string, ReportQuery][] = [
    [`${DAYS} days`, { ...base, from: new Date(end.getTime() - DAYS * DAY) }],
    ['7 days', { ...base, from: new Date(end.getTime() - 7 * DAY) }],
    ['1 day', { ...base, from: new Date(end.getTime() - DAY) }],
    [
      `${DAYS} days, one queue`,
      { ...base, from: new Date(end.getTime() - DAYS * DAY), queueId: plan.queues[0]!.id },
    ],
  ];
  for (const [name, query] of cases) {
    await buildReport(store.db, query);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await buildReport(store.db, query);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(`${label}: report of ${name.padEnd(22)} median ${times[2]!.toFixed(0)} ms`);
  }
}

if (process.argv.includes('--into')) {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const store = await openStore({ databaseUrl, dataDir: process.env.DATA_DIR ?? './data' });
  try {
    const seeded = await seed(store);
    console.log(
      `wrote ${plan.stories.length} conversations over ${DAYS} days into ${databaseUrl ? 'PostgreSQL' : 'PGlite'} in ${(seeded / 1000).toFixed(1)} s`,
    );
  } finally {
    await store.close();
  }
} else {
  console.log(`bench/seed-history — seed ${SEED}, ${new Date().toISOString()}`);
  const pglite = await openStore({});
  try {
    await measure('PGlite', pglite);
  } finally {
    await pglite.close();
  }
  if (PG_URL) {
    await withScratchDatabase(PG_URL, async (databaseUrl) => {
      const store = await openStore({ databaseUrl });
      try {
        await measure('PostgreSQL', store);
      } finally {
        await store.close();
      }
    });
  }
}
