/**
 * Failed sign-ins allowed per client address and email within a window, counted in the
 * database: every instance refuses the same caller after the same number of failures, and
 * a restart does not reset the count.
 *
 * An attempt is counted before its password is checked, in one statement, and only the
 * attempts that fit under the limit are checked: guesses sent at the same time, to one
 * instance or to several, cannot get more checks than the limit. A successful sign-in
 * clears the count, so only failures stay counted.
 */
import { eq, lt, sql } from 'drizzle-orm';
import { signInFailures } from '../db/schema.js';
import type { Executor } from '../db/store.js';

export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;

export function signInKey(ip: string, email: string): string {
  return `${ip}|${email.toLowerCase()}`;
}

export type SignInAttempt =
  | { allowed: true }
  | {
      allowed: false;
      retryAfterSeconds: number;
      /** The first refusal of the window: the one worth recording (the rest repeat it). */
      firstRefusal: boolean;
    };

/**
 * Counts one sign-in attempt of the caller; allowed while the count, this one included, is
 * within the limit of the current window (a window that ended starts again at one).
 */
export async function reserveAttempt(db: Executor, key: string): Promise<SignInAttempt> {
  const windowStart = sql`now() - make_interval(secs => ${FAILURE_WINDOW_MS / 1000})`;
  const [row] = await db
    .insert(signInFailures)
    .values({ key, count: 1, since: sql`now()` })
    .onConflictDoUpdate({
      target: signInFailures.key,
      set: {
        count: sql`CASE WHEN ${signInFailures.since} > ${windowStart} THEN ${signInFailures.count} + 1 ELSE 1 END`,
        since: sql`CASE WHEN ${signInFailures.since} > ${windowStart} THEN ${signInFailures.since} ELSE now() END`,
      },
    })
    .returning({
      count: signInFailures.count,
      retryAfterSeconds: sql<number>`ceil(extract(epoch FROM ${signInFailures.since} + make_interval(secs => ${FAILURE_WINDOW_MS / 1000}) - now()))::int`,
    });
  // A new window: keep the table to the callers of the last one.
  if (row!.count === 1)
    await db.delete(signInFailures).where(lt(signInFailures.since, windowStart));
  if (row!.count <= MAX_FAILURES) return { allowed: true };
  return {
    allowed: false,
    retryAfterSeconds: Math.max(1, row!.retryAfterSeconds),
    firstRefusal: row!.count === MAX_FAILURES + 1,
  };
}

export async function clearFailures(db: Executor, key: string): Promise<void> {
  await db.delete(signInFailures).where(eq(signInFailures.key, key));
}
