import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../db/store.js';

/** The LISTEN/NOTIFY channel on which routing's workers wake each other. */
export const ROUTING_CHANNEL = 'parley_routing';

/** Where there may be work: a queue with a new waiting conversation, or an agent with room. */
export type RoutingHint = { queueId: string } | { agentId: string };

const hintSchema = z.union([
  z.object({ queueId: z.uuid() }).strict(),
  z.object({ agentId: z.uuid() }).strict(),
]);

/**
 * Wakes every instance's routing worker when the caller's transaction commits (NOTIFY is
 * delivered at commit, and not at all on rollback). A hint, never the data: the worker reads
 * the database, and its periodic sweep catches a lost notification.
 */
export async function wakeRouting(tx: Executor, hint: RoutingHint): Promise<void> {
  await tx.execute(sql`SELECT pg_notify(${ROUTING_CHANNEL}, ${JSON.stringify(hint)})`);
}

/** A notification's payload as a hint; undefined (meaning "look everywhere") if unreadable. */
export function parseRoutingHint(payload: string): RoutingHint | undefined {
  if (!payload) return undefined;
  try {
    const parsed = hintSchema.safeParse(JSON.parse(payload));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
