import { isRetryableConflict } from '../errors.js';
import type { Db, Tx } from './store.js';

const ATTEMPTS = 4;

/**
 * Runs work in a transaction, again when PostgreSQL aborted it as a deadlock victim or a
 * serialization failure: the one way Parley opens a transaction. Modules take their row
 * locks in one order (conversations, offers, queue, agents in id order), so a retry is
 * rare; it covers the orders nobody foresaw, which would otherwise reach a user as an
 * error. `work` may run more than once, so it changes nothing but the database.
 */
export function inTransaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  return retryingConflicts(() => db.transaction(work));
}

/**
 * Runs work (a transaction, or one statement that locks several rows) again when
 * PostgreSQL aborted it as a deadlock victim or a serialization failure.
 */
export async function retryingConflicts<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= ATTEMPTS || !isRetryableConflict(error)) throw error;
    }
  }
}
