import { sql } from 'drizzle-orm';
import { events } from '../db/schema.js';
import type { Tx } from '../db/store.js';

/** Every event type and its payload: the typed map that writers and the gateway share. */
export interface EventPayloads {
  'conversation.opened': {
    numberId: string;
    customerAddress: string;
    origin: 'customer' | 'agent';
  };
}
export type EventType = keyof EventPayloads;

export interface EventRefs {
  conversationId?: string | null;
  agentId?: string | null;
}

// Any constant works; every writer of the event log takes the same one.
const EVENT_LOG_LOCK_KEY = 7_331_002;

/**
 * Appends an event inside the caller's transaction, so the event exists exactly when the
 * change it describes does. Writers are serialised from here to commit, which makes ids
 * increase in commit order: a reader that has seen id N never later finds a smaller one.
 * Call it last in the transaction to keep that window short.
 */
export async function appendEvent<T extends EventType>(
  tx: Tx,
  type: T,
  refs: EventRefs,
  payload: EventPayloads[T],
): Promise<number> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${EVENT_LOG_LOCK_KEY})`);
  const [row] = await tx
    .insert(events)
    .values({
      type,
      conversationId: refs.conversationId ?? null,
      agentId: refs.agentId ?? null,
      payload,
    })
    .returning({ id: events.id });
  return row!.id;
}
