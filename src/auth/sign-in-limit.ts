/**
 * Failed sign-ins allowed per client address and email within a window, counted in the
 * database: every instance refuses the same caller after the same number of failures, and
 * a restart does not reset the count.
 */
import { eq, lt, sql } from 'drizzle-orm';
import { signInFailures } from '../db/schema.js';
import type { Executor } from '../db/store.js';

export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;

export function signInKey(ip: string, email: string): string {
  return `${ip}|${email.toLowerCase()}`;
}

/** Whether this caller used up its failures in the current window. */
export async function isLockedOut(db: Executor, key: string): Promise<boolean> {
  const [row] = await db
    .select({ count: signInFailures.count })
    .from(signInFailures)
    .where(
      sql`${signInFailures.key} = ${key} AND ${signInFailures.since} > now() - make_interval(secs => ${FAILURE_WINDOW_MS / 1000})`,
    );
  return (row?.count ?? 0) >= MAX_FAILURES;
}

/** One more failure; a window that ended starts again at one. Atomic across instances. */
export async function recordFailure(db: Executor, key: string): Promise<void> {
  const windowStart = sql`now() - make_interval(secs => ${FAILURE_WINDOW_MS / 1000})`;
  await db
    .insert(signInFailures)
    .values({ key, count: 1, since: sql`now()` })
    .onConflictDoUpdate({
      target: signInFailures.key,
      set: {
        count: sql`CASE WHEN ${signInFailures.since} > ${windowStart} THEN ${signInFailures.count} + 1 ELSE 1 END`,
        since: sql`CASE WHEN ${signInFailures.since} > ${windowStart} THEN ${signInFailures.since} ELSE now() END`,
      },
    });
  // Keep the table to the callers of the last window.
  await db.delete(signInFailures).where(lt(signInFailures.since, windowStart));
}

export async function clearFailures(db: Executor, key: string): Promise<void> {
  await db.delete(signInFailures).where(eq(signInFailures.key, key));
}
