/** Which live events change what the supervisor sees (the types: src/events.ts). */
import type { LiveEvent } from '../live';

/** Routing and lifecycle: who holds a conversation, queue lengths, loads. */
function isRoutingEvent(type: string): boolean {
  // conversation.opened/queued/requeued/assigned/transferred/overflowed/closed and
  // offer.created/accepted/rejected/timed-out/canceled.
  return type.startsWith('conversation.') || type.startsWith('offer.');
}

/** Queue figures and agents' presence and load. */
export function changesStats(event: LiveEvent): boolean {
  return isRoutingEvent(event.type) || event.type === 'agent.presence-changed';
}

/** The conversation list: routing, plus messages that move a conversation's last activity. */
export function changesConversationList(event: LiveEvent): boolean {
  return (
    isRoutingEvent(event.type) ||
    event.type === 'message.received' ||
    event.type === 'message.queued'
  );
}
