/**
 * Which Parley processes are alive, so that work one of them claimed and then died holding
 * is taken over in seconds rather than when a lease written for the slowest case runs out.
 *
 * Each process registers a random id and refreshes `seen_at` every second (on the
 * database's clock). A claim records the id of its holder; a claim whose holder has not been
 * seen for INSTANCE_SILENCE_MS is abandoned. A process must never act on a claim after the
 * others may have declared it dead: `mayAct()` is false once its own last successful
 * heartbeat is older than the silence less a margin (a fence, kept by the holder itself).
 * A holder that finds itself fenced beats again and renews its claim if it is still its
 * own, or leaves the work to whoever took it over.
 */
import { randomUUID } from 'node:crypto';
import { eq, type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { instances } from './db/schema.js';
import type { Executor } from './db/store.js';
import { type LoopWorker, startLoopWorker } from './worker-loop.js';

/** Silence after which an instance's claims are abandoned. */
export const INSTANCE_SILENCE_MS = 5_000;
const HEARTBEAT_MS = 1_000;
/** Time for a request already on its way (to Twilio, say) to land before the silence ends. */
const FENCE_MARGIN_MS = 2_000;
/** Rows of instances gone this long are removed; their claims were taken over long ago. */
const FORGET_AFTER = '1 day';

export interface Instance extends LoopWorker {
  readonly id: string;
  /** Whether this process may still act on what it claimed (see the fence above). */
  mayAct(): boolean;
  /** Refreshes the heartbeat now. */
  beat(): Promise<void>;
}

/** Registers this process and keeps its heartbeat; stop() deregisters it. */
export async function startInstance(db: Executor, logger: FastifyBaseLogger): Promise<Instance> {
  const id = randomUUID();
  let seenLocally = Date.now();
  const beat = async () => {
    // The database stamps the time the statement starts; others count from that.
    const started = Date.now();
    // An upsert, so that a process removed while it was stalled registers itself again.
    await db
      .insert(instances)
      .values({ id })
      .onConflictDoUpdate({ target: instances.id, set: { seenAt: sql`now()` } });
    seenLocally = started;
  };
  await beat();
  await db.delete(instances).where(sql`${instances.seenAt} < now() - ${FORGET_AFTER}::interval`);
  const heartbeat = startLoopWorker({
    name: 'instance-heartbeat',
    intervalMs: HEARTBEAT_MS,
    logger,
    tick: async () => {
      await beat();
      return false;
    },
  });
  return {
    ...heartbeat,
    id,
    beat,
    mayAct: () => Date.now() - seenLocally < INSTANCE_SILENCE_MS - FENCE_MARGIN_MS,
    stop: async () => {
      await heartbeat.stop();
      // Gone now, not in five seconds: what it still held is free at once.
      await db.delete(instances).where(eq(instances.id, id));
    },
  };
}

/** True for a claim whose holder (the instance id in `holder`) is no longer alive. */
export function holderGone(holder: SQLWrapper): SQL {
  return sql`NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = ${holder}
    AND i.seen_at > now() - make_interval(secs => ${INSTANCE_SILENCE_MS / 1000}))`;
}
