/**
 * Affinity: "replies from this customer to this number go to this agent until T", recorded
 * when an agent originates and consulted when the customer's answer is queued.
 */
import { and, eq, gt, sql } from 'drizzle-orm';
import { jsonRecords } from '../db/json-params.js';
import { affinities, flows, numbers } from '../db/schema.js';
import { type Executor, queryRows, type Tx } from '../db/store.js';
import { appendEvent } from '../event-log.js';

/** How long an origination routes the reply back when the number's flow does not say. */
export const DEFAULT_AFFINITY_TTL_HOURS = 168;

export interface NewAffinity {
  numberId: string;
  customerAddress: string;
  agentId: string;
  originalText: string;
  messageId: string | null;
  /** Default: the number's flow's affinity_ttl_hours, else 168 (7 days). */
  ttlHours?: number;
}

/**
 * Records (or renews) the affinity of (number, customer) to the agent, in the caller's
 * transaction: the latest origination wins.
 */
export async function recordAffinity(tx: Tx, a: NewAffinity): Promise<void> {
  let ttlHours = a.ttlHours;
  if (ttlHours === undefined) {
    const [flow] = await tx
      .select({ ttl: flows.affinityTtlHours })
      .from(numbers)
      .innerJoin(flows, eq(flows.id, numbers.flowId))
      .where(eq(numbers.id, a.numberId));
    ttlHours = flow?.ttl ?? DEFAULT_AFFINITY_TTL_HOURS;
  }
  const expiresAt = sql`now() + make_interval(hours => ${ttlHours})`;
  const [row] = await tx
    .insert(affinities)
    .values({
      numberId: a.numberId,
      customerAddress: a.customerAddress,
      agentId: a.agentId,
      originalText: a.originalText,
      messageId: a.messageId,
      expiresAt,
    })
    .onConflictDoUpdate({
      target: [affinities.numberId, affinities.customerAddress],
      set: {
        agentId: a.agentId,
        originalText: a.originalText,
        messageId: a.messageId,
        expiresAt,
        createdAt: sql`now()`,
      },
    })
    .returning({ expiresAt: affinities.expiresAt });
  await appendEvent(
    tx,
    'affinity.recorded',
    { agentId: a.agentId },
    {
      numberId: a.numberId,
      customerAddress: a.customerAddress,
      agentId: a.agentId,
      messageId: a.messageId,
      expiresAt: row!.expiresAt.toISOString(),
    },
  );
}

export interface ActiveAffinity {
  agentId: string;
  originalText: string;
  /** The number's flow lets the affinity's agent be offered the reply even when full. */
  beyondCapacity: boolean;
}

/** The unexpired affinity of (number, customer), if any. */
export async function findAffinity(
  db: Executor,
  numberId: string,
  customerAddress: string,
): Promise<ActiveAffinity | undefined> {
  const [row] = await db
    .select({
      agentId: affinities.agentId,
      originalText: affinities.originalText,
      beyondCapacity: sql<boolean>`coalesce(${flows.affinityBeyondCapacity}, false)`,
    })
    .from(affinities)
    .innerJoin(numbers, eq(numbers.id, affinities.numberId))
    .leftJoin(flows, eq(flows.id, numbers.flowId))
    .where(
      and(
        eq(affinities.numberId, numberId),
        eq(affinities.customerAddress, customerAddress),
        gt(affinities.expiresAt, sql`now()`),
      ),
    );
  return row;
}

/** Of these (number, customer) pairs, those with an unexpired affinity. */
export async function pairsWithAffinity(
  db: Executor,
  pairs: readonly { numberId: string; customerAddress: string }[],
): Promise<{ numberId: string; customerAddress: string }[]> {
  if (pairs.length === 0) return [];
  const rows = await queryRows<{ number_id: string; customer_address: string }>(
    db,
    sql`SELECT a.number_id, a.customer_address
          FROM affinities a
          JOIN ${jsonRecords(
            pairs.map((p) => ({ number_id: p.numberId, customer_address: p.customerAddress })),
            'number_id uuid, customer_address text',
          )} AS k
            ON a.number_id = k.number_id AND a.customer_address = k.customer_address
         WHERE a.expires_at > now()`,
  );
  return rows.map((row) => ({ numberId: row.number_id, customerAddress: row.customer_address }));
}

/**
 * Deletes expired affinities, a batch at a time, claimed with SKIP LOCKED so instances
 * share the work. Returns how many it deleted.
 */
export async function expireAffinities(tx: Tx, limit: number): Promise<number> {
  const expired = await queryRows<{
    number_id: string;
    customer_address: string;
    agent_id: string;
  }>(
    tx,
    sql`DELETE FROM affinities WHERE id IN (
          SELECT id FROM affinities WHERE expires_at <= now()
          ORDER BY expires_at LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        RETURNING number_id, customer_address, agent_id`,
  );
  for (const row of expired) {
    await appendEvent(
      tx,
      'affinity.expired',
      { agentId: row.agent_id },
      { numberId: row.number_id, customerAddress: row.customer_address, agentId: row.agent_id },
    );
  }
  return expired.length;
}
