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
 * VACUUM and ANALYZE of each table past autovacuum's default thresholds: a VACUUM once dead
 * rows pass 50 + 20% of the table or rows inserted since the last one pass 1,000 + 20% (so
 * the visibility map of a table only ever inserted into, the event log's, is kept too), an
 * ANALYZE once rows changed since the last one pass 50 + 10%. Each is a statement of its own,
 * the furthest past its threshold first, and at most `limit` of them: both block Parley's
 * thread while they run, so the worker spreads them out. Returns the tables maintained.
 */
export async function vacuumWhereDue(db: Db, limit = Number.POSITIVE_INFINITY): Promise<string[]> {
  // The statistics of this backend's own work reach the views only when flushed.
  await db.execute(sql`SELECT pg_stat_force_next_flush()`);
  const due = await queryRows<{ relname: string; work: 'VACUUM' | 'ANALYZE' }>(
    db,
    sql`SELECT s.relname, w.work
          FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid,
               LATERAL (VALUES
                 ('VACUUM', greatest(s.n_dead_tup / (50 + 0.2 * greatest(c.reltuples, 0)),
                                     s.n_ins_since_vacuum / (1000 + 0.2 * greatest(c.reltuples, 0)))),
                 ('ANALYZE', s.n_mod_since_analyze / (50 + 0.1 * greatest(c.reltuples, 0)))
               ) AS w(work, past)
         WHERE s.schemaname = 'public' AND w.past > 1
         ORDER BY w.past DESC`,
  );
  const done = new Set<string>();
  for (const { relname, work } of due.slice(0, limit)) {
    await db.execute(sql.raw(`${work} public."${relname.replaceAll('"', '""')}"`));
    done.add(relname);
  }
  return [...done];
}
