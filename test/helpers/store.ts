import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../src/db/store.js';

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

/** A new, empty database on the TEST_DATABASE_URL server; its URL. */
export async function createTestDatabase(): Promise<string> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `parley_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
