import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertContact } from '../src/consent/contacts.js';
import { queryRows, type Store } from '../src/db/store.js';
import { phoneNumber } from './helpers/factories.js';
import { openTestStore } from './helpers/store.js';

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store?.close();
});

/** The row version: it changes exactly when the row is rewritten. */
async function rowVersion(address: string): Promise<string> {
  const [row] = await queryRows<{ xmin: string }>(
    store.db,
    sql`SELECT xmin::text AS xmin FROM contacts WHERE address = ${address}`,
  );
  return row!.xmin;
}

describe('upsertContact', () => {
  it('rewrites a known contact only when the message tells something new of it', async () => {
    const address = phoneNumber();
    const first = await upsertContact(store.db, address, { city: 'Austin' });
    const version = await rowVersion(address);

    const again = await upsertContact(store.db, address, { city: 'Austin' });
    expect(again).toEqual(first);
    expect(await rowVersion(address)).toBe(version);
    await upsertContact(store.db, address);
    expect(await rowVersion(address)).toBe(version);

    const moved = await upsertContact(store.db, address, { state: 'TX' });
    expect(moved.id).toBe(first.id);
    expect(moved.attributes).toEqual({ city: 'Austin', state: 'TX' });
    expect(await rowVersion(address)).not.toBe(version);
  });
});
