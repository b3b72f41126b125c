/**
 * Who sees which event of the log, decided on the server before anything is sent.
 *
 * - Admins and supervisors see every event.
 * - An agent sees the events that concern them: those whose agent_id is theirs, and those
 *   whose payload names them as the agent who gets, held or loses the conversation
 *   (agentId, previousAgentId, fromAgentId, toAgentId), so that a desk learns when a
 *   supervisor takes a conversation away from it.
 * - An agent also sees the events of the conversations they may read when the gateway
 *   delivers them: the rule of canReadConversation (assigned to them, or offered to them
 *   now). On becoming a reader (offer.created or conversation.assigned naming them) the desk
 *   loads the transcript over REST; the events that follow come live.
 * - Nothing else: no other agent's presence, no queue traffic of conversations they do not
 *   hold (conversation ids alone tell who the other customers are talking to), no events
 *   without a conversation or an agent (refusals of supervisors' actions and the like).
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { Role } from '../auth/users.js';
import { conversations, offers } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import type { LoggedEvent } from '../event-log.js';

/** The user behind a connection, as far as visibility goes. */
export interface Viewer {
  id: string;
  role: Role;
}

/** For each conversation, the agents who may read it now. */
export type ConversationReaders = ReadonlyMap<string, ReadonlySet<string>>;

export const NO_READERS: ConversationReaders = new Map();

/** Payload fields that name the agent a routing event gives a conversation to or takes it from. */
const AGENT_FIELDS = ['agentId', 'previousAgentId', 'fromAgentId', 'toAgentId'] as const;

/** Whether deciding what the viewer sees needs the readers of the events' conversations. */
export function needsReaders(viewer: Viewer): boolean {
  return viewer.role === 'agent';
}

/**
 * Whether the viewer may receive the event. `readers` must hold the event's conversation
 * when needsReaders(viewer); a conversation missing from it counts as unreadable.
 */
export function mayView(viewer: Viewer, event: LoggedEvent, readers: ConversationReaders): boolean {
  if (viewer.role !== 'agent') return true;
  if (event.agentId === viewer.id) return true;
  if (AGENT_FIELDS.some((field) => event.payload[field] === viewer.id)) return true;
  if (event.conversationId === null) return false;
  return readers.get(event.conversationId)?.has(viewer.id) ?? false;
}

/** The distinct conversations of a batch of events. */
export function conversationIdsOf(events: readonly LoggedEvent[]): string[] {
  const ids = new Set<string>();
  for (const event of events) if (event.conversationId) ids.add(event.conversationId);
  return [...ids];
}

/**
 * The agents who may read each of the conversations now, in one query for a whole batch of
 * events and every connection (canReadConversation asks one conversation for one user).
 * Mirrors canReadConversation's rule: the conversation's agent, and the agent offered it.
 */
export async function readersOf(
  db: Executor,
  conversationIds: readonly string[],
): Promise<ConversationReaders> {
  if (conversationIds.length === 0) return NO_READERS;
  const rows = await db
    .select({
      id: conversations.id,
      agentId: conversations.agentId,
      offeredTo: offers.agentId,
    })
    .from(conversations)
    .leftJoin(offers, and(eq(offers.conversationId, conversations.id), eq(offers.state, 'pending')))
    .where(inArray(conversations.id, [...conversationIds]));
  const readers = new Map<string, Set<string>>();
  for (const row of rows) {
    const agents = readers.get(row.id) ?? new Set<string>();
    if (row.agentId) agents.add(row.agentId);
    if (row.offeredTo) agents.add(row.offeredTo);
    readers.set(row.id, agents);
  }
  return readers;
}
