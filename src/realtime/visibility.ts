/**
 * Who sees which event of the log, decided on the server before anything is sent.
 *
 * - Admins and supervisors see every event.
 * - An agent sees the events that concern them: those whose agent_id is theirs, and those
 *   whose payload names them as the agent who gets, held or loses the conversation
 *   (agentId, previousAgentId, fromAgentId, toAgentId), so that a desk learns when a
 *   supervisor takes a conversation away from it.
 * - An agent also sees the events of the conversations they may read when the gateway
 *   delivers them: conversations/access.ts's rule (assigned to them, or offered to them
 *   now), asked for a batch at once (readersOf). On becoming a reader (offer.created or conversation.assigned naming them) the desk
 *   loads the transcript over REST; the events that follow come live.
 * - Nothing else: no other agent's presence, no queue traffic of conversations they do not
 *   hold (conversation ids alone tell who the other customers are talking to), no events
 *   without a conversation or an agent (refusals of supervisors' actions and the like).
 */
import type { Role } from '../auth/users.js';
import { type ConversationReaders, readsEveryConversation } from '../conversations/access.js';
import type { LoggedEvent } from '../event-log.js';

/** The user behind a connection, as far as visibility goes. */
export interface Viewer {
  id: string;
  role: Role;
}

export const NO_READERS: ConversationReaders = new Map();

/** Payload fields that name the agent a routing event gives a conversation to or takes it from. */
const AGENT_FIELDS = ['agentId', 'previousAgentId', 'fromAgentId', 'toAgentId'] as const;

/** Whether deciding what the viewer sees needs the readers of the events' conversations. */
export function needsReaders(viewer: Viewer): boolean {
  return !readsEveryConversation(viewer.role);
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
