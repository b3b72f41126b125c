import { sql } from 'drizzle-orm';
import { openStore, queryRows, type Store } from '../src/db/store.js';
import { createLogger } from '../src/logger.js';
import { enqueueAutomated } from '../src/outbound/outbox.js';
import { rankedCandidates } from '../src/routing/agents.js';
import type { Strategy } from '../src/routing/candidate-pool.js';
import { queueConversation, ROUTING_CHANNEL } from '../src/routing/index.js';
import { type RoutingWorker, startRoutingWorker } from '../src/routing/routing-worker.js';
import { withScratchDatabase } from '../test/helpers/store.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const AGENTS = Math.round(10_000 * SCALE);
const CONVERSATIONS = Math.round(100_000 * SCALE);
const QUEUES = Number(process.env.BENCH_QUEUES ?? 10);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 2);
const CAPACITY = Number(process.env.BENCH_CAPACITY ?? 12);
const STEADY = Math.round(2_000 * SCALE);
const RATE = Number(process.env.BENCH_RATE ?? 50);
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL;
if (!PG_URL) {
  process.stderr.write('bench/routing needs DATABASE_URL or TEST_DATABASE_URL (PostgreSQL)\n');
  process.exit(2);
}

/** Agents, queues (strategies and priorities mixed), memberships, contacts, conversations. */
async function insertFixtures(store: Store): Promise<void> {
  const db = store.db;
  await db.execute(sql`INSERT INTO accounts (name, account_sid, auth_token_enc)
                       VALUES ('bench', 'ACbench', 'v1.x.y.z')`);
  await db.execute(sql`INSERT INTO numbers (account_id, address, kind)
                       SELECT id, '+15550000001', 'long-code' FROM accounts`);
  await db.execute(sql`
    INSERT INTO users (email, name, role, password_hash, presence, capacity_sms,
                       last_conversation_ended_at)
    SELECT 'agent' || i || '@bench.test', 'agent ' || i, 'agent', 'unused', 'available',
           ${CAPACITY}, now() - make_interval(secs => (i * 7919) % 86400)
    FROM generate_series(1, ${AGENTS}) AS i`);
  await db.execute(sql`
    INSERT INTO queues (name, strategy, priority, offer_timeout_seconds)
    SELECT 'queue ' || q,
           (ARRAY['longest-idle', 'round-robin', 'least-busy'])[1 + q % 3],
           q % 3, 3600
    FROM generate_series(0, ${QUEUES - 1}) AS q`);
  // Agent i is in queues i mod Q and i+1 mod Q, so queues share agents.
  await db.execute(sql`
    WITH numbered AS (SELECT id, row_number() OVER (ORDER BY email) - 1 AS i FROM users),
         ordered AS (SELECT id, row_number() OVER (ORDER BY name) - 1 AS q FROM queues)
    INSERT INTO queue_members (queue_id, user_id)
    SELECT o.id, n.id FROM numbered n
    JOIN ordered o ON o.q IN (n.i % ${QUEUES}, (n.i + 1) % ${QUEUES})`);
  await db.execute(sql`
    INSERT INTO contacts (address)
    SELECT '+1556' || lpad(i::text, 7, '0') FROM generate_series(1, ${CONVERSATIONS + STEADY}) AS i`);
  await db.execute(sql`
    WITH ordered AS (SELECT id, row_number() OVER (ORDER BY name) - 1 AS q FROM queues)
    INSERT INTO conversations (number_id, contact_id, customer_address, state, queue_id, attributes)
    SELECT (SELECT id FROM numbers), c.id, c.address, 'flow', o.id,
           jsonb_build_object('bench', CASE WHEN c.i > ${CONVERSATIONS} THEN 'steady' ELSE 'burst' END)
    FROM (SELECT id, address, row_number() OVER (ORDER BY address) AS i FROM contacts) c
    JOIN ordered o ON o.q = c.i % ${QUEUES}`);
  // Only the fixture tables: statistics saying the (still empty) event log is empty would
  // make queries of the event log plan sequential scans, which nothing corrects on a server
  // without autovacuum.
  await db.execute(
    sql`ANALYZE users, queues, queue_members, contacts, conversations, numbers, accounts`,
  );
}

/** Candidates a pass reads first from a queue (its pool's first page). */
const FIRST_PAGE = 16;

/**
 * How long a pass takes to rank the members of a queue of each strategy with their loads
 * (the first page of its candidate pool, from the queue's rank index), with every agent's
 * conversations in place: the cost each routing pass pays per queue before placing anything.
 */
async function rankingTimes(
  store: Store,
): Promise<{ strategy: string; members: number; p50: number; p99: number }[]> {
  const largest = await queryRows<{ queue_id: string; strategy: Strategy; members: number }>(
    store.db,
    sql`SELECT DISTINCT ON (q.strategy) qm.queue_id, q.strategy, count(*)::int AS members
        FROM queue_members qm JOIN queues q ON q.id = qm.queue_id
        GROUP BY qm.queue_id, q.strategy ORDER BY q.strategy, count(*) DESC`,
  );
  const figures = [];
  for (const queue of largest) {
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      await rankedCandidates(store.db, queue.queue_id, 'sms', { after: null, limit: FIRST_PAGE });
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    figures.push({
      strategy: queue.strategy,
      members: queue.members,
      p50: times[Math.floor(times.length * 0.5)]!,
      p99: times[Math.floor(times.length * 0.99)]!,
    });
  }
  return figures;
}

interface Waits {
  p50: number;
  p99: number;
  max: number;
}

/** Seconds from queued to offered of the phase's conversations, by the database's clock. */
async function waits(store: Store, phase: 'burst' | 'steady'): Promise<Waits> {
  const [row] = await queryRows<Waits>(
    store.db,
    sql`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY wait)::float8 AS p50,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY wait)::float8 AS p99,
               max(wait)::float8 AS max
        FROM (SELECT extract(epoch FROM o.created_at - c.queued_at) AS wait
              FROM offers o JOIN conversations c ON c.id = o.conversation_id
              WHERE c.attributes ->> 'bench' = ${phase}) waits`,
  );
  return row!;
}

async function offeredCount(store: Store, phase: 'burst' | 'steady'): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    store.db,
    sql`SELECT count(*)::int AS n FROM conversations
        WHERE state = 'offered' AND attributes ->> 'bench' = ${phase}`,
  );
  return row!.n;
}

const rssSamples: number[] = [];
const sampler = setInterval(() => rssSamples.push(process.memoryUsage().rss), 100);

const figures = await withScratchDatabase(PG_URL, async (url) => {
  const first = await openStore({ databaseUrl: url, maxConnections: 10 });
  await first.migrate();
  const stores = [first];
  for (let i = 1; i < INSTANCES; i++) {
    stores.push(await openStore({ databaseUrl: url, maxConnections: 10 }));
  }
  const logger = createLogger('warn');
  let workers: RoutingWorker[] = [];
  try {
    const fixturesStarted = Date.now();
    await insertFixtures(first);
    const fixturesSeconds = (Date.now() - fixturesStarted) / 1000;
    workers = stores.map((store) =>
      startRoutingWorker({ store, logger, queueMessage: enqueueAutomated }),
    );
    // Let the workers listen and find nothing to do before everything arrives at once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssBefore = process.memoryUsage().rss;

    // Burst: everything queued in one statement, one wake-up.
    const started = Date.now();
    await first.db.transaction(async (tx) => {
      await tx.execute(sql`UPDATE conversations SET state = 'queued', queued_at = now()
                           WHERE attributes ->> 'bench' = 'burst'`);
      await tx.execute(sql`SELECT pg_notify(${ROUTING_CHANNEL}, '')`);
    });
    while ((await offeredCount(first, 'burst')) < CONVERSATIONS) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const burstSeconds = (Date.now() - started) / 1000;

    // Steady: one at a time through queueConversation, alternating instances. The offer is
    // made in queueConversation's own transaction when an agent has room, else by a worker:
    // the wait is measured on the clock, from the call to the offer.
    const steady = await queryRows<{ id: string; queue_id: string }>(
      first.db,
      sql`SELECT id, queue_id FROM conversations WHERE attributes ->> 'bench' = 'steady'`,
    );
    const steadyStarted = Date.now();
    const called = new Map<string, number>();
    const steadyWaits: number[] = [];
    await Promise.all(
      steady.map(async (conversation, i) => {
        const due = steadyStarted + (i * 1000) / RATE;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
        const store = stores[i % INSTANCES]!;
        const before = Date.now();
        await queueConversation(store.db, conversation.id, conversation.queue_id);
        const [row] = await queryRows<{ state: string }>(
          store.db,
          sql`SELECT state FROM conversations WHERE id = ${conversation.id}`,
        );
        if (row?.state === 'offered') steadyWaits.push(Date.now() - before);
        else called.set(conversation.id, before);
      }),
    );
    while ((await offeredCount(first, 'steady')) < STEADY) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (called.size > 0) {
      const later = await queryRows<{ conversation_id: string; created_ms: number }>(
        first.db,
        sql`SELECT o.conversation_id, (extract(epoch FROM o.created_at) * 1000)::float8 AS created_ms
            FROM offers o JOIN conversations c ON c.id = o.conversation_id
            WHERE c.attributes ->> 'bench' = 'steady'`,
      );
      for (const offer of later) {
        const before = called.get(offer.conversation_id);
        if (before !== undefined) steadyWaits.push(Math.max(0, offer.created_ms - before));
      }
    }
    steadyWaits.sort((a, b) => a - b);
    const percentile = (p: number) =>
      steadyWaits[Math.min(steadyWaits.length - 1, Math.floor(p * steadyWaits.length))]! / 1000;

    const ranking = await rankingTimes(first);

    const [over] = await queryRows<{ n: number }>(
      first.db,
      sql`SELECT count(*)::int AS n FROM (
            SELECT agent_id FROM conversations WHERE state = 'offered'
            GROUP BY agent_id HAVING count(*) > ${CAPACITY}) o`,
    );
    return {
      fixturesSeconds,
      burstSeconds,
      burst: await waits(first, 'burst'),
      steady: {
        p50: percentile(0.5),
        p99: percentile(0.99),
        max: steadyWaits[steadyWaits.length - 1]! / 1000,
      },
      steadyByWorker: called.size,
      ranking,
      overCapacity: over!.n,
      rssBefore,
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await Promise.all(stores.map((store) => store.close()));
  }
});
clearInterval(sampler);

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const seconds = (w: Waits) =>
  `p50 ${(w.p50 * 1000).toFixed(0)} ms, p99 ${(w.p99 * 1000).toFixed(0)} ms, max ${(w.max * 1000).toFixed(0)} ms`;
process.stdout.write(
  `${[
    `bench/routing — ${AGENTS} agents (capacity ${CAPACITY}), ${QUEUES} queues, ${INSTANCES} instances, ${new Date().toISOString()}`,
    `fixtures (agents, queues, members, ${CONVERSATIONS + STEADY} conversations) inserted in ${figures.fixturesSeconds.toFixed(1)} s`,
    `burst: ${CONVERSATIONS} queued at once, all offered in ${figures.burstSeconds.toFixed(1)} s: ${(CONVERSATIONS / figures.burstSeconds).toFixed(0)} assignments/s`,
    `  queued → offered: ${seconds(figures.burst)}`,
    `steady: ${STEADY} queued one by one at ${RATE}/s through queueConversation (${figures.steadyByWorker} placed by a worker, the rest at once)`,
    `  queued → offered: ${seconds(figures.steady)}`,
    ...figures.ranking.map(
      (r) =>
        `ranking a ${r.members}-member ${r.strategy} queue with its agents' loads (a pass's first ${FIRST_PAGE} candidates): p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`,
    ),
    `agents over capacity: ${figures.overCapacity}`,
    `RSS: ${mib(figures.rssBefore)} before queueing, peak ${mib(Math.max(...rssSamples))}`,
  ].join('\n')}\n`,
);
