/**
 * The one transaction helper: a transaction PostgreSQL aborts as a deadlock victim runs
 * again and commits, instead of reaching its caller as an error. PostgreSQL only: a
 * deadlock needs two connections.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, type Store } from '../src/db/store.js';
import { inTransaction } from '../src/db/transactions.js';
import { openTestStore, TEST_DATABASE_URL } from './helpers/store.js';

let store: Store;
beforeAll(async () => {
  if (!TEST_DATABASE_URL) return;
  store = await openTestStore();
  await store.db.execute(sql`CREATE TABLE IF NOT EXISTS deadlock_rows (id int PRIMARY KEY, n int)`);
  await store.db.execute(
    sql`INSERT INTO deadlock_rows VALUES (1, 0), (2, 0) ON CONFLICT (id) DO UPDATE SET n = 0`,
  );
});
afterAll(() => store?.close());

describe.skipIf(!TEST_DATABASE_URL)('inTransaction', () => {
  it('runs a deadlock victim again, so both transactions commit', async () => {
    // Each transaction takes one row, waits until the other holds its row, then takes the
    // other's: a deadlock, the first time round.
    let holding = 0;
    let bothHold: () => void;
    const bothHolding = new Promise<void>((resolve) => {
      bothHold = resolve;
    });
    const attempts = [0, 0];
    const crossing = (first: number, second: number, who: number) =>
      inTransaction(store.db, async (tx) => {
        attempts[who]! += 1;
        await tx.execute(sql`UPDATE deadlock_rows SET n = n + 1 WHERE id = ${first}`);
        if (attempts[who] === 1 && ++holding === 2) bothHold();
        if (attempts[who] === 1) await bothHolding;
        await tx.execute(sql`UPDATE deadlock_rows SET n = n + 1 WHERE id = ${second}`);
      });

    await Promise.all([crossing(1, 2, 0), crossing(2, 1, 1)]);

    // One of them was the victim and ran twice; each committed once.
    expect(attempts.sort()).toEqual([1, 2]);
    const rows = await queryRows<{ n: number }>(
      store.db,
      sql`SELECT n FROM deadlock_rows ORDER BY id`,
    );
    expect(rows.map((row) => row.n)).toEqual([2, 2]);
  });
});
