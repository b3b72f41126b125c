/**
 * The events routing writes of its own, declared into the event log's typed map: agents'
 * presence and affinities. The events of who holds a conversation (queued, offered,
 * assigned, transferred, …) are the conversation lifecycle's (conversations/lifecycle.ts),
 * appended by its steps that routing takes.
 */
export type { CancelReason, OfferReason } from '../conversations/lifecycle.js';
export type Presence = 'available' | 'away' | 'offline';
/** Why a presence changed when no person set it. */
export type PresenceReason = 'no-desk-connection';

declare module '../event-log.js' {
  interface EventPayloads {
    'agent.presence-changed': {
      presence: Presence;
      previous: Presence;
      byUserId: string | null;
      /** Absent when byUserId set it (events before reasons existed have none either). */
      reason?: PresenceReason;
    };
    'affinity.recorded': {
      numberId: string;
      customerAddress: string;
      agentId: string;
      messageId: string | null;
      /** ISO 8601. */
      expiresAt: string;
    };
    'affinity.expired': { numberId: string; customerAddress: string; agentId: string };
  }
}
