import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { type Executor, openStore, queryRows, type Store } from '../../src/db/store.js';

/** The PostgreSQL server to test against, when set; otherwise tests use in-memory PGlite. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

/**
 * A fresh, migrated store for one test file: in-memory PGlite by default, or a new database
 * on the TEST_DATABASE_URL server, dropped again on close.
 */
export async function openTestStore(): Promise<Store & { databaseUrl?: string }> {
  if (!TEST_DATABASE_URL) {
    const store = await openStore({});
    await store.migrate();
    return store;
  }
  const databaseUrl = await createTestDatabase();
  const store = await openStore({ databaseUrl });
  await store.migrate();
  return {
    ...store,
    databaseUrl,
    close: async () => {
      await store.close();
      await dropTestDatabase(databaseUrl);
    },
  };
}

/** A new, empty database on the server (TEST_DATABASE_URL by default); its URL. */
export async function createTestDatabase(serverUrl = TEST_DATABASE_URL): Promise<string> {
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `parley_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  await withAdmin(databaseUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  );
}

/** Runs work on a scratch database of the server, dropped afterwards (benchmarks use it). */
export async function withScratchDatabase<T>(
  serverUrl: string,
  work: (databaseUrl: string) => Promise<T>,
): Promise<T> {
  const databaseUrl = await createTestDatabase(serverUrl);
  try {
    return await work(databaseUrl);
  } finally {
    await dropTestDatabase(databaseUrl);
  }
}

async function withAdmin<T>(
  serverUrl: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  // The server's maintenance database: the one being dropped cannot be connected to.
  const url = new URL(serverUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Whether some session of this database is waiting for a lock (PostgreSQL). */
export async function someoneWaitsForALock(db: Executor): Promise<boolean> {
  const [row] = await queryRows<{ waiting: number }>(
    db,
    sql`SELECT count(*)::int AS waiting FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return row!.waiting > 0;
}
