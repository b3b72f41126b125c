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

/**
 * Appends an event inside the caller's transaction, so the event exists exactly when the
 * change it describes does. Its `seq`, the position readers follow, is assigned at commit
 * (see migration 0004), in commit order. Returns the event's row id.
 */
export async function appendEvent<T extends EventType>(
  tx: Tx,
  type: T,
  refs: EventRefs,
  payload: EventPayloads[T],
): Promise<number> {
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
