import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { PGlite, protocol } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { acquireDataDirLock, type DataDirLock } from './lock.js';
import { initPgliteDataDir } from './pglite-initdb.js';
import { withOneExchangeQueries } from './pglite-protocol.js';
// Drizzle is given no schema: Parley uses no relational queries (`db.query.*`), and with
// one every transaction built a query builder per table (a tenth of what an idle server
// allocated).
export type Db = PgDatabase<PgQueryResultHKT>;
/** What `db.transaction` hands its callback. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** A database handle or an open transaction: functions that write take either. */
export type Executor = Db | Tx;

/** Rows of a raw SQL query; both drivers answer `{ rows }`, which Drizzle leaves untyped here. */
export async function queryRows<T>(db: Executor, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

const dialect = new PgDialect();
const statementNames = new Map<string, string>();

/**
 * queryRows for a hot path: the statement is prepared once per PostgreSQL connection (named
 * after its text) and then only bound and executed, so the server neither parses it again
 * nor, once it settles on a generic plan, plans it again. Keep what varies in parameters,
 * and the number of distinct texts small. PGlite runs it as queryRows does.
 */
export async function queryPrepared<T>(db: Executor, query: SQL): Promise<T[]> {
  const built = dialect.sqlToQuery(query);
  let name = statementNames.get(built.sql);
  if (name === undefined) {
    name = `parley_${createHash('sha1').update(built.sql).digest('hex').slice(0, 20)}`;
    statementNames.set(built.sql, name);
  }
  const result = (await db._.session.prepareQuery(built, undefined, name, false).execute()) as {
    rows: T[];
  };
  return result.rows;
}

export interface Store {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  /** Applies pending migrations; safe to call from several instances at once. */
  migrate(): Promise<void>;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  /**
   * Calls onNotify for each NOTIFY on the channel (sent with pg_notify inside a transaction,
   * so it arrives after commit); resolves to a function that stops listening. A wake-up hint
   * only: after a lost connection onNotify is called once with '' since some may be missed.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Calls onCommit with each transaction of `db.transaction` (not a nested one), and each
   * handle of inOneStatement, once it has committed; returns a function that stops calling
   * it. A wake-up hint for this process.
   */
  onCommit(listener: (committed: Executor) => void): () => void;
  /** The PostgreSQL pool's connections now; undefined for PGlite, which has one, in-process. */
  poolUsage(): PoolUsage | undefined;
  /**
   * The embedded store only: runs work while the files in pgData are a consistent database
   * that does not change (see quietly). Every query waits meanwhile, so work should only copy.
   */
  whileQuiet?<T>(work: (pgData: string) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PoolUsage {
  /** Connections open, idle or lent out. */
  total: number;
  idle: number;
  /** Queries waiting for a connection to be free. */
  waiting: number;
  max: number;
}

export interface StoreOptions {
  /** PostgreSQL server; absent: the embedded PGlite store. */
  databaseUrl?: string | undefined;
  /** Where PGlite keeps its files (and its lock); absent: in memory, for tests. */
  dataDir?: string | undefined;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
  onError?: (error: Error) => void;
}

// Resolves to <package>/src/db/migrations both from src/db (tsx) and from dist/db (tsc),
// so the SQL files ship once, in src, and are never copied.
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
// Any constant works; it only has to be the same in every instance.
const MIGRATION_LOCK_KEY = 7_331_001;

// PGlite's WASM memory grows to hold what Postgres touches and never shrinks, and the default
// 128 MB of shared buffers is the largest part of it (idle `parley start`: 373 MiB with it,
// about 245 MiB with 16 MB; bench/rss.ts). 16 MB holds the hot pages of recent conversations;
// older pages come back from the OS page cache.
// Each new 16 MB WAL segment is zero-filled by default, in 8 KB writes through the embedded
// file system: at 1,000 texts/s one every few seconds, holding Parley's thread for 80-140 ms
// (the p99 of every request behind it). Without checkpoints (single-user Postgres makes one
// only past max_wal_size) no segment is recycled, so each one is new. Zero-filling reserves
// disk space ahead; WAL records carry their own checksums, so recovery does not need it.
// ANALYZE (db/maintenance.ts) runs in Parley's thread too, and samples 300 rows per unit of
// the statistics target: at the default 100, 250-400 ms for a log of 120,000 events, every
// request waiting behind it; at 10, ~40 ms. Parley's queries find rows by key, which
// ten-bucket histograms plan as well.
const PGLITE_START_PARAMS = [
  ...PGlite.defaultStartParams,
  '-c',
  'shared_buffers=16MB',
  '-c',
  'wal_init_zero=off',
  '-c',
  'default_statistics_target=10',
];

/**
 * PGlite's Postgres is a WebAssembly module that V8 compiles with its baseline compiler and
 * then, as functions get hot, again with TurboFan in background tasks, by default as many at
 * once as it has worker threads. Each task holds its own compilation memory, and the process
 * keeps what they grew to: one task at a time keeps 20-35 MiB less resident (bench/rss.ts:
 * idle 238-264 -> 220-247 MiB, under load 307-319 -> 287-308) and leaves the second core to
 * the event loop rather than to several compilations at once. Read at compile time, so it
 * holds for every PGlite created after. (`--optimize-for-size` would keep the heap ~50 MiB
 * smaller under load, but its collections slowed outbound sends by ~8%: bench/README.)
 */
function compilePgliteOneFunctionAtATime(): void {
  setFlagsFromString('--wasm-num-compilation-tasks=1');
}

export async function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options);
}

async function openPglite(options: StoreOptions): Promise<Store> {
  let lock: DataDirLock | undefined;
  if (options.dataDir) lock = acquireDataDirLock(options.dataDir);
  const pgData = options.dataDir ? join(options.dataDir, 'pglite') : undefined;
  let client: PGlite;
  try {
    if (pgData) await initPgliteDataDir(pgData, PGLITE_START_PARAMS, MIGRATIONS_FOLDER);
    compilePgliteOneFunctionAtATime();
    client = await PGlite.create(pgData, { startParams: PGLITE_START_PARAMS });
    // Its one connection runs one transaction at a time: events are numbered as they are
    // written (migration 0035), not by the sequencer after commit.
    await client.exec(`SET parley.events_numbered_at_insert = 'on'`);
  } catch (error) {
    lock?.release();
    throw error;
  }
  const commits = new Set<(committed: Executor) => void>();
  const db = announceCommits(
    drizzlePglite({ client: withOneExchangeQueries(client) }) as unknown as Db,
    commits,
  );
  return {
    kind: 'pglite',
    db,
    onCommit: (listener) => subscribe(commits, listener),
    poolUsage: () => undefined,
    migrate: () =>
      migratePglite(drizzlePglite({ client }), { migrationsFolder: MIGRATIONS_FOLDER }),
    ping: async () => {
      await client.query('SELECT 1');
    },
    ...(pgData && { whileQuiet: (work) => quietly(client, () => work(pgData)) }),
    listen: async (channel, onNotify) => {
      const unlisten = await client.listen(checkChannel(channel), onNotify);
      return async () => {
        if (!client.closed) await unlisten();
      };
    },
    close: async () => {
      try {
        if (!client.closed) await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * PGlite is one connection: a transaction holds its transaction mutex from BEGIN to COMMIT,
 * and every statement its query mutex (a statement outside a transaction takes both; see
 * pglite-protocol.ts). Holding both, no transaction is open and no statement runs; after a
 * CHECKPOINT every committed change is in the data files, which Postgres writes straight to
 * the directory (NODEFS, no cache in between). A copy taken now opens with nothing to
 * recover. PGlite's own dumpDataDir takes the query mutex only, so it may run in the middle
 * of a transaction, and it builds the whole tarball in memory.
 */
function quietly<T>(client: PGlite, work: () => Promise<T>): Promise<T> {
  return client._runExclusiveTransaction(() =>
    client._runExclusiveQuery(async () => {
      // execProtocol, unlike query, takes no mutex: the ones held here are not re-entrant.
      await client.execProtocol(protocol.serialize.query('CHECKPOINT'), { syncToFs: false });
      return work();
    }),
  );
}

async function openPostgres(url: string, options: StoreOptions): Promise<Store> {
  const maxConnections = options.maxConnections ?? 10;
  const pool = new pg.Pool({
    connectionString: url,
    max: maxConnections,
    connectionTimeoutMillis: 10_000,
    // Parley's statements are short OLTP statements. Planned on small or never-analysed
    // tables, some (the dispatcher's wait for a sender slot) are estimated above
    // jit_above_cost and JIT-compiled on every call: ~75 ms of server CPU for a query that
    // reads no row. Set on each new connection before the pool hands it out, rather than
    // as a startup option, which would override the operator's PGOPTIONS and which
    // PgBouncer refuses.
    onConnect: async (client: pg.ClientBase) => {
      await client.query('SET jit = off');
    },
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (error) => options.onError?.(error));
  const commits = new Set<(committed: Executor) => void>();
  const db = announceCommits(drizzleNodePg({ client: pool }) as unknown as Db, commits);
  // Fail at start-up, not at the first request, when the server is unreachable.
  await pool.query('SELECT 1');
  let closed = false;
  const listeners = new Set<() => Promise<void>>();
  return {
    kind: 'postgres',
    db,
    onCommit: (listener) => subscribe(commits, listener),
    poolUsage: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: maxConnections,
    }),
    migrate: async () => {
      const client = await pool.connect();
      try {
        // Two instances starting together: the second waits, then finds nothing to apply.
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await migrateNodePg(drizzleNodePg({ client }), {
          migrationsFolder: MIGRATIONS_FOLDER,
        });
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
        client.release();
      }
    },
    ping: async () => {
      await db.execute(sql`SELECT 1`);
    },
    listen: async (channel, onNotify) => {
      const stop = await listenPostgres(url, checkChannel(channel), onNotify, options.onError);
      const unlisten = async () => {
        listeners.delete(unlisten);
        await stop();
      };
      listeners.add(unlisten);
      return unlisten;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all([...listeners].map((unlisten) => unlisten()));
      await pool.end();
    },
  };
}

const commitListeners = new WeakMap<Db, ReadonlySet<(committed: Executor) => void>>();

/** Makes `db.transaction` call the listeners with its transaction after each commit. */
function announceCommits(db: Db, listeners: ReadonlySet<(committed: Executor) => void>): Db {
  commitListeners.set(db, listeners);
  const transaction = db.transaction.bind(db);
  db.transaction = async (work, config) => {
    let committed: Tx | undefined;
    const result = await transaction((tx) => {
      committed = tx;
      return work(tx);
    }, config);
    for (const listener of listeners) listener(committed!);
    return result;
  };
  return db;
}

/**
 * Runs work, whose writes are one statement, on the database outside any transaction:
 * PostgreSQL makes a lone statement a transaction of its own, so BEGIN and COMMIT would be
 * two more round trips, each waiting for a turn of the event loop. work gets a handle of
 * its own to `db`, on which it marks what it did (events appended, messages queued) as it
 * would on a transaction; once work resolves, onCommit's listeners are called with it.
 */
export async function inOneStatement<T>(db: Db, work: (db: Db) => Promise<T>): Promise<T> {
  const statement = Object.create(db) as Db;
  const result = await work(statement);
  for (const listener of commitListeners.get(db) ?? []) listener(statement);
  return result;
}

function subscribe<T>(listeners: Set<T>, listener: T): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Channels go into LISTEN unquoted (PGlite does not quote them), so only plain names pass.
function checkChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  return channel;
}

/**
 * LISTEN on a dedicated connection outside the pool (a pooled one would be handed to other
 * queries). A dropped connection is replaced after a short pause, and onNotify is called then,
 * since notifications sent meanwhile are lost.
 */
async function listenPostgres(
  url: string,
  channel: string,
  onNotify: (payload: string) => void,
  onError: ((error: Error) => void) | undefined,
): Promise<() => Promise<void>> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    });
    let live = false;
    const onDrop = (error?: Error) => {
      // Before LISTEN succeeded, connect() rejects: its caller reports and retries.
      if (!live) return;
      if (error) onError?.(error);
      live = false;
      client = undefined;
      next.end().catch(() => {});
      if (!stopped) retry = setTimeout(reconnect, 1000);
    };
    next.on('error', onDrop);
    next.on('end', () => onDrop());
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    if (stopped) {
      await next.end().catch(() => {});
      return;
    }
    live = true;
    client = next;
  };
  const reconnect = () => {
    if (stopped) return;
    connect().then(
      () => onNotify(''),
      (error: unknown) => {
        onError?.(error instanceof Error ? error : new Error(String(error)));
        if (!stopped) retry = setTimeout(reconnect, 1000);
      },
    );
  };

  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    const current = client;
    client = undefined;
    await current?.end().catch(() => {});
  };
}
