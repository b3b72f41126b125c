/**
 * Search latency over 1,000,000 messages: seeds a history (BENCH_SEARCH_MESSAGES messages,
 * 20 per conversation, 30 days, ~30,000 customers, 50 agents, 10 queues) with set-based SQL
 * into a fresh store — PGlite in a temporary data directory, and with TEST_DATABASE_URL or
 * DATABASE_URL a scratch database on that PostgreSQL server — after the app's migrations,
 * then times each search through the search module (searchConversations, searchContacts)
 * BENCH_RUNS times and prints p50/p99 per search and store, with the seeding time.
 *
 * Message bodies are sentences drawn from a 400-word vocabulary with a skewed pick, so a few
 * words are in most messages and the tail in few; order numbers make many distinct words;
 * one made-up word is in 20 messages only.
 *
 * Run: npx tsx bench/search.ts
 *   BENCH_RUNS (default 40), BENCH_SEARCH_MESSAGES (default 1000000),
 *   BENCH_EXPLAIN=1 prints the plan (EXPLAIN ANALYZE) of each search's statements once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SQL, sql } from 'drizzle-orm';
import { type Db, openStore, queryRows, type Store, type Tx } from '../src/db/store.js';
import {
  type ConversationSearch,
  type Searcher,
  searchContacts,
  searchConversations,
} from '../src/search/search.js';
import { withScratchDatabase } from '../test/helpers/store.js';

const MESSAGES = Number(process.env.BENCH_SEARCH_MESSAGES ?? 1_000_000);
const PER_CONVERSATION = 20;
const CONVERSATIONS = Math.round(MESSAGES / PER_CONVERSATION);
const CONTACTS = Math.round(CONVERSATIONS * 0.6);
/**
 * The latest conversations, still open: 300, or fewer in a small run (BENCH_SEARCH_MESSAGES
 * under 10,000), where no more customers than that exist to hold one each.
 */
const OPEN = Math.min(300, CONTACTS);
const AGENTS = 50;
const QUEUES = 10;
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const EXPLAIN = process.env.BENCH_EXPLAIN === '1';
const PG_URL = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL || undefined;
/** In 20 messages of the whole history. */
const RARE_WORD = 'zanzibar';

const FIRST_NAMES = `Maria James Wei Aisha Carlos Olga Kenji Fatima Liam Sofia Noah Amara Diego Hana
  Ivan Chloe Omar Priya Lucas Ingrid Mateo Yara Leo Nadia Hugo Mei Tariq Elena Finn Zara`
  .split(/\s+/)
  .filter(Boolean);
const LAST_NAMES = `Garcia Smith Chen Khan Silva Petrova Tanaka Ali Murphy Rossi Brown Okafor Lopez
  Kim Ivanov Martin Haddad Patel Costa Larsen Torres Nasser Wright Novak Dubois Wang Rahman
  Popescu Berg Moreau`
  .split(/\s+/)
  .filter(Boolean);
/** Words of a contact center's texts; the first are picked most, the last least. */
const VOCABULARY = `please thanks order help the my is you can a to i and for it of we your with
  on this have that be are delivery package not was do when will at what just need refund
  account time get status there me hi hello today payment so if card back an yes no how
  tracking received still number phone email address update cancel change sent please call
  again waiting problem item wrong size return store open close hours week day tomorrow
  yesterday morning evening check charge billing invoice price discount code coupon shipping
  ship arrive arrived late early box damaged broken missing replace exchange credit debit bank
  transfer confirm confirmed confirmation appointment booking book reschedule driver courier
  door front gate apartment floor building city street zip postal label print receipt copy
  photo picture attached attachment link website app login password reset locked blocked
  verify verification pin otp text message reply answer agent manager supervisor complaint
  feedback review rating survey happy unhappy great good bad terrible awesome love hate fine
  okay ok sure maybe later soon asap urgent important quick slow fast speed service support
  team store branch location near far distance map directions parking warranty guarantee
  repair fix fixed broken-down battery charger cable screen button switch power light water
  leak gas heating cooling air filter clean dirty smell noise loud quiet small large medium
  color red blue green black white grey pink yellow orange purple brown silver gold model
  version upgrade downgrade plan contract subscription monthly yearly annual renew renewal
  expire expired expiry trial free premium basic standard extra fee fees tax total amount
  balance due overdue late-fee penalty interest loan mortgage insurance claim policy cover
  coverage deductible premium-rate accident damage theft lost found stolen report police
  doctor clinic hospital pharmacy prescription refill dose medicine test result results lab
  vaccine insurance-card school class teacher student homework exam grade holiday vacation
  travel flight hotel room reservation checkin checkout luggage bag seat gate-change delay
  delayed canceled cancellation voucher points miles member membership loyalty reward
  rewards gift card-balance birthday anniversary wedding party event ticket tickets concert
  game match score team-store jersey size-chart fit tight loose sleeve collar fabric cotton
  wool leather shoes boots sandals socks jacket coat dress shirt pants jeans skirt hat gloves
  scarf belt wallet purse watch ring necklace earrings bracelet glasses lens lenses frame
  prescription-glasses contact-lens solution drops cream lotion soap shampoo brush towel
  blanket pillow sheet mattress bed sofa chair table desk lamp rug curtain shelf cabinet
  drawer hinge handle lock key keys garage garden lawn mower hose fence paint wall ceiling`
  .split(/\s+/)
  .filter(Boolean);

const textArray = (items: string[]) =>
  sql`(ARRAY[${sql.join(
    items.map((item) => sql`${item}`),
    sql`, `,
  )}]::text[])`;

/**
 * The history, in one transaction (the temporary table of sentences, the random seed and the
 * memory for index builds are the session's). Message bodies are sentences of the
 * vocabulary, a 20th of them with an order number.
 */
async function seed(store: Store): Promise<void> {
  await store.db.transaction(async (db) => {
    await seedIn(db);
  });
  await store.db.execute(sql`VACUUM ANALYZE`);
}

async function seedIn(db: Tx): Promise<void> {
  const words = textArray(VOCABULARY);
  await db.execute(sql`SELECT setseed(0.16)`);
  await db.execute(sql`INSERT INTO accounts (name, account_sid, auth_token_enc)
                       VALUES ('bench', 'ACbench', 'v1.x.y.z')`);
  await db.execute(sql`INSERT INTO numbers (account_id, address, kind)
                       SELECT (SELECT id FROM accounts), '+1555000000' || i, 'long-code'
                       FROM generate_series(1, 4) AS i`);
  await db.execute(sql`INSERT INTO queues (name, dispositions)
                       SELECT 'queue ' || i, '[{"code":"resolved","label":"Resolved"}]'::jsonb
                       FROM generate_series(1, ${QUEUES}) AS i`);
  await db.execute(sql`INSERT INTO users (email, name, role, password_hash)
                       SELECT 'agent' || i || '@bench.test', 'agent ' || i, 'agent', 'unused'
                       FROM generate_series(1, ${AGENTS}) AS i`);
  // (425) 200-0001 onwards; six in seven with a name.
  await db.execute(sql`
    INSERT INTO contacts (address, name, created_at)
    SELECT '+1425' || (2000000 + i),
           CASE WHEN i % 7 <> 3 THEN
             (${textArray(FIRST_NAMES)})[1 + i % 30] || ' ' ||
             (${textArray(LAST_NAMES)})[1 + (i / 30) % 30] END,
           now() - interval '31 days' + i * interval '1 second'
    FROM generate_series(1, ${CONTACTS}) AS i`);
  // Evenly over 30 days, the latest OPEN still open (each with its own customer).
  await db.execute(sql`
    WITH n AS (SELECT id, row_number() OVER (ORDER BY address) AS k FROM numbers),
         q AS (SELECT id, row_number() OVER (ORDER BY name) AS k FROM queues),
         a AS (SELECT id, row_number() OVER (ORDER BY email) AS k FROM users),
         ct AS (SELECT id, address, row_number() OVER (ORDER BY address) AS k FROM contacts)
    INSERT INTO conversations (number_id, contact_id, customer_address, state, queue_id, agent_id,
                               created_at, queued_at, closed_at, last_message_at, disposition)
    SELECT n.id, ct.id, ct.address, CASE WHEN open THEN 'active' ELSE 'closed' END, q.id, a.id,
           at, at, CASE WHEN open THEN NULL ELSE at + interval '25 minutes' END,
           at + interval '19 minutes',
           CASE WHEN open THEN NULL
                ELSE (ARRAY['resolved', 'resolved', 'follow-up', 'no-answer', NULL])[1 + i % 5] END
    FROM (SELECT i, now() - interval '30 days' + i * (interval '30 days' / ${CONVERSATIONS}) AS at,
                 i > ${CONVERSATIONS - OPEN} AS open
          FROM generate_series(1, ${CONVERSATIONS}) AS i) c
    JOIN n ON n.k = 1 + c.i % 4
    JOIN q ON q.k = 1 + c.i % ${QUEUES}
    JOIN a ON a.k = 1 + (c.i * 7) % ${AGENTS}
    JOIN ct ON ct.k = 1 + (c.i * 7919) % ${CONTACTS}`);
  await db.execute(sql`
    INSERT INTO survey_responses (conversation_id, number_id, customer_address, scale, score,
                                  asked_at, answered_at)
    SELECT id, number_id, customer_address, 'score', 1 + abs(hashtext(id::text || 'score')) % 5,
           closed_at, closed_at + interval '2 minutes'
    FROM conversations WHERE state = 'closed' AND abs(hashtext(id::text)) % 10 < 3`);
  await db.execute(sql`
    CREATE TEMP TABLE sentences ON COMMIT DROP AS
    SELECT s, string_agg(${words}[1 + floor(power(random(), 3) * ${VOCABULARY.length})::int], ' ')
                AS body
    FROM generate_series(0, 9999) AS s, generate_series(1, 11) AS w GROUP BY s`);
  // Indexes are built once after the load (what a restore does), not kept row by row.
  const indexes = await queryRows<{ name: string; definition: string }>(
    db,
    sql`SELECT indexname AS name, indexdef AS definition FROM pg_indexes
         WHERE tablename = 'messages' AND indexname NOT IN (
           SELECT conname FROM pg_constraint WHERE conrelid = 'messages'::regclass)`,
  );
  for (const index of indexes) await db.execute(sql.raw(`DROP INDEX ${index.name}`));
  await db.execute(sql`
    INSERT INTO messages (conversation_id, number_id, direction, author, agent_id, from_address,
                          to_address, body, status, created_at)
    SELECT c.id, c.number_id, CASE WHEN inbound THEN 'inbound' ELSE 'outbound' END,
           CASE WHEN inbound THEN 'customer' ELSE 'agent' END,
           CASE WHEN inbound THEN NULL ELSE c.agent_id END,
           CASE WHEN inbound THEN c.customer_address ELSE '+15550000001' END,
           CASE WHEN inbound THEN '+15550000001' ELSE c.customer_address END,
           s.body || CASE WHEN k % 20 = 7 THEN ' order #' || (100000 + k / 20) ELSE '' END
                  || CASE WHEN k % ${Math.max(1, Math.round(MESSAGES / 20))} = 11
                          THEN ${` ${RARE_WORD}`} ELSE '' END,
           CASE WHEN inbound THEN 'received' ELSE 'delivered' END,
           c.created_at + m * interval '1 minute'
    FROM (SELECT id, number_id, agent_id, customer_address, created_at,
                 row_number() OVER (ORDER BY created_at) AS r FROM conversations) c,
         generate_series(0, ${PER_CONVERSATION - 1}) AS m,
         LATERAL (SELECT (c.r - 1) * ${PER_CONVERSATION} + m AS k, m % 2 = 0 AS inbound) x
    JOIN sentences s ON s.s = abs(hashtext(x.k::text)) % 10000`);
  await db.execute(sql`SET LOCAL maintenance_work_mem = '256MB'`);
  for (const index of indexes) await db.execute(sql.raw(index.definition));
}

interface Figures {
  what: string;
  results: number;
  p50: number;
  p99: number;
}

/** The searches timed: who searches for what. */
async function searches(db: Db) {
  const [agent] = await queryRows<{ id: string }>(
    db,
    sql`SELECT id FROM users WHERE email = 'agent7@bench.test'`,
  );
  const [customer] = await queryRows<{ address: string }>(
    db,
    sql`SELECT customer_address AS address FROM conversations
        GROUP BY customer_address ORDER BY count(*) DESC, customer_address LIMIT 1`,
  );
  const [queue] = await queryRows<{ id: string }>(
    db,
    sql`SELECT id FROM queues ORDER BY name LIMIT 1`,
  );
  const frequency = { common: VOCABULARY[0]!, middling: VOCABULARY[60]!, tail: VOCABULARY.at(-1)! };
  const supervisor: Searcher = { id: agent!.id, role: 'supervisor' };
  const asAgent: Searcher = { id: agent!.id, role: 'agent' };
  const day = (ago: number) => new Date(Date.now() - ago * 86_400_000);
  const national = customer!.address.replace(/^\+1(\d{3})(\d{3})(\d{4})$/, '($1) $2-$3');
  const conversationsBy = (
    what: string,
    searcher: Searcher,
    search: Omit<ConversationSearch, 'limit'>,
  ) => ({
    what,
    run: async (into: Db) =>
      (await searchConversations(into, searcher, { ...search, limit: 25 })).results.length,
  });
  return [
    conversationsBy(`rare word (${RARE_WORD})`, supervisor, { words: RARE_WORD }),
    conversationsBy(`tail word (${frequency.tail})`, supervisor, { words: frequency.tail }),
    conversationsBy(`middling word (${frequency.middling})`, supervisor, {
      words: frequency.middling,
    }),
    conversationsBy(`common word (${frequency.common})`, supervisor, {
      words: frequency.common,
    }),
    conversationsBy('two words', supervisor, { words: `${frequency.middling} refund` }),
    conversationsBy(`phone, national format ${national}`, supervisor, { phone: national }),
    conversationsBy('phone, last 4 digits', supervisor, { phone: customer!.address.slice(-4) }),
    conversationsBy('name (mar gar)', supervisor, { name: 'mar gar' }),
    conversationsBy('date range (2 days) + agent', supervisor, {
      from: day(12),
      to: day(10),
      agentId: agent!.id,
    }),
    conversationsBy('common word + date range (1 day)', supervisor, {
      words: frequency.common,
      from: day(6),
      to: day(5),
    }),
    conversationsBy('rare word + date range (10 days)', supervisor, {
      words: RARE_WORD,
      from: day(20),
      to: day(10),
    }),
    conversationsBy('middling word + queue + score 5', supervisor, {
      words: frequency.middling,
      scoreMin: 5,
      queueId: queue!.id,
    }),
    conversationsBy('no filter (newest 25)', supervisor, {}),
    conversationsBy('agent role: no filter', asAgent, {}),
    conversationsBy('agent role: common word', asAgent, { words: frequency.common }),
    conversationsBy('agent role: tail word', asAgent, { words: frequency.tail }),
    conversationsBy('agent role: rare word', asAgent, { words: RARE_WORD }),
    {
      what: 'contacts by name (sofia)',
      run: async (into: Db) =>
        (await searchContacts(into, supervisor, { q: 'sofia', limit: 25 })).results.length,
    },
    {
      what: 'contacts by phone, agent role',
      run: async (into: Db) =>
        (await searchContacts(into, asAgent, { q: national, limit: 25 })).results.length,
    },
  ];
}

/** A handle whose statements are also printed with their plans (EXPLAIN ANALYZE). */
function explaining(db: Db): Db {
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== 'execute') return Reflect.get(target, property, receiver);
      return async (query: SQL) => {
        const plan = await queryRows<{ 'QUERY PLAN': string }>(
          target,
          sql`EXPLAIN (ANALYZE, BUFFERS) ${query}`,
        );
        process.stdout.write(`${plan.map((row) => row['QUERY PLAN']).join('\n')}\n\n`);
        return target.execute(query);
      };
    },
  });
}

async function measure(store: Store): Promise<Figures[]> {
  const figures: Figures[] = [];
  for (const search of await searches(store.db)) {
    if (EXPLAIN) {
      process.stdout.write(`── ${search.what}\n`);
      await search.run(explaining(store.db));
    }
    for (let i = 0; i < 3; i++) await search.run(store.db);
    const times: number[] = [];
    let results = 0;
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      results = await search.run(store.db);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    figures.push({
      what: search.what,
      results,
      p50: times[Math.floor(times.length * 0.5)]!,
      p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!,
    });
  }
  return figures;
}

async function benchStore(label: string, open: () => Promise<Store>): Promise<string[]> {
  const store = await open();
  try {
    await store.migrate();
    const started = performance.now();
    await seed(store);
    const seeded = (performance.now() - started) / 1000;
    const [counts] = await queryRows<{ messages: number; conversations: number; contacts: number }>(
      store.db,
      sql`SELECT (SELECT count(*)::int FROM messages) AS messages,
                 (SELECT count(*)::int FROM conversations) AS conversations,
                 (SELECT count(*)::int FROM contacts) AS contacts`,
    );
    const lines = [
      `${label}: seeded ${counts!.messages} messages, ${counts!.conversations} conversations, ${counts!.contacts} contacts in ${seeded.toFixed(0)} s`,
    ];
    for (const f of await measure(store)) {
      lines.push(
        `${label}: ${f.what.padEnd(44)} ${String(f.results).padStart(3)} results  p50 ${f.p50.toFixed(1).padStart(6)} ms  p99 ${f.p99.toFixed(1).padStart(6)} ms`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return lines;
  } finally {
    await store.close();
  }
}

const lines: string[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-search-'));
try {
  lines.push(...(await benchStore('PGlite', () => openStore({ dataDir }))));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
if (PG_URL) {
  lines.push(
    ...(await withScratchDatabase(PG_URL, (databaseUrl) =>
      benchStore('PostgreSQL', () => openStore({ databaseUrl })),
    )),
  );
}
process.stdout.write(
  `\nbench/search — ${MESSAGES} messages, ${RUNS} runs per search, limit 25, ${new Date().toISOString()}\n${lines.join('\n')}\n`,
);
