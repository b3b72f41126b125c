/**
 * Desks: a user's live connection to Parley, which is their GET /api/events socket (the web
 * desk's, or an integration's signed in with a token: either is how offers reach a person).
 * Presence follows it: available or away with no desk for the grace period becomes offline
 * (presence.ts). Every instance records, for the users holding a socket on it, when their
 * desk was last seen open, so that the database knows across instances and restarts.
 */
import { sql } from 'drizzle-orm';
import { type Executor, queryRows, type Tx } from '../db/store.js';

/** How often an instance records its open desks: well within the grace period. */
export function deskRefreshMs(graceSeconds: number): number {
  return Math.min(10_000, (graceSeconds * 1000) / 4);
}

/** Records that these users' desks are open now (or have just closed). */
export async function recordDesksSeen(db: Executor, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  const ids = sql.join(
    userIds.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  // In user id order, so that instances refreshing overlapping sets never deadlock; never
  // backwards, should an older transaction commit after a newer one.
  await db.execute(sql`
    INSERT INTO desks (user_id, seen_at)
    SELECT u.id, now() FROM users u WHERE u.id IN (${ids}) ORDER BY u.id
    ON CONFLICT (user_id) DO UPDATE SET seen_at = greatest(desks.seen_at, excluded.seen_at)`);
}

/**
 * Locks (skipping those locked elsewhere) and returns users available or away whose desk has
 * not been seen for the grace period, counting from when their presence was set: a
 * presence set through the API without a desk lasts the grace period too.
 */
export async function claimDesertedDesks(
  tx: Tx,
  graceSeconds: number,
  limit: number,
): Promise<string[]> {
  const rows = await queryRows<{ id: string }>(
    tx,
    sql`SELECT u.id FROM users u
        LEFT JOIN desks d ON d.user_id = u.id
        WHERE u.presence IN ('available', 'away') AND u.disabled_at IS NULL
          AND greatest(u.presence_changed_at, d.seen_at)
              <= now() - make_interval(secs => ${graceSeconds})
        ORDER BY u.id
        LIMIT ${limit}
        FOR NO KEY UPDATE OF u SKIP LOCKED`,
  );
  return rows.map((row) => row.id);
}
