/**
 * Autovacuum for the embedded store. PGlite runs PostgreSQL in single-user mode, where no
 * autovacuum launcher runs: dead rows would pile up for ever, and the planner would keep
 * the statistics of the empty database of the first start, planning whole-table scans of
 * tables that have since grown (a routing pass over a thousand agents went from
 * milliseconds to seconds). A PostgreSQL server does this itself.
 */
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from './store.js';

/**
 * VACUUM (ANALYZE) of each table past autovacuum's default thresholds (dead rows above
 * 50 + 20% of the table, or rows changed since the last ANALYZE above 50 + 10%). Returns
 * the tables it vacuumed.
 */
export async function vacuumWhereDue(db: Db): Promise<string[]> {
  // The statistics of this backend's own work reach the views only when flushed.
  await db.execute(sql`SELECT pg_stat_force_next_flush()`);
  const due = await queryRows<{ relname: string }>(
    db,
    sql`SELECT s.relname
          FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
         WHERE s.schemaname = 'public'
           AND (s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0)
                OR s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0))
         ORDER BY s.relname`,
  );
  for (const { relname } of due) {
    await db.execute(sql.raw(`VACUUM (ANALYZE) public."${relname.replaceAll('"', '""')}"`));
  }
  return due.map((row) => row.relname);
}
