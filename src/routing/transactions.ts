import type { Db, Tx } from '../db/store.js';

/** SQLSTATEs after which the same transaction, run again, may well succeed. */
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 4;

/**
 * Runs work in a transaction, again when PostgreSQL aborted it as a deadlock victim or a
 * serialization failure. Routing takes its row locks in one order (conversations, offers,
 * queue, agents), and a transaction holding a queue row never waits for an agent's (it
 * skips locked agents), so this is rare; the retry covers the orders other modules take.
 */
export async function inTransaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work);
    } catch (error) {
      if (attempt >= ATTEMPTS || !RETRYABLE.has(sqlState(error) ?? '')) throw error;
    }
  }
}

// Drizzle wraps driver errors; the SQLSTATE sits on the error or its cause.
function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
