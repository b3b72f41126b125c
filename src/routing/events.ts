/**
 * The events routing writes, declared into the event log's typed map. What each one means
 * for the conversation, so that a reader of the log can rebuild who holds what:
 * - conversation.queued / conversation.requeued: waiting in queueId, held by nobody;
 * - offer.created: offered to agentId (held by them, counting toward their capacity);
 * - offer.accepted: active with that agent;
 * - offer.rejected / offer.timed-out / offer.canceled: waiting again, held by nobody
 *   (canceled because the conversation closed: closed);
 * - conversation.assigned: active with agentId, without an offer (auto-accept, reassign);
 * - conversation.transferred: released by fromAgentId; waiting in toQueueId, or followed by
 *   an offer.created for toAgentId;
 * - conversation.overflowed: moved on to toQueueId and/or sent the overflow message.
 */
export type OfferReason = 'queue' | 'affinity' | 'transfer';
export type Presence = 'available' | 'away' | 'offline';
/** Why a presence changed when no person set it. */
export type PresenceReason = 'no-desk-connection';

/** Why a pending offer was withdrawn before the agent decided. */
export type CancelReason =
  | 'agent-unavailable'
  | 'conversation-closed'
  | 'reassigned'
  | 'transferred';

declare module '../event-log.js' {
  interface EventPayloads {
    'conversation.queued': { queueId: string | null };
    'offer.created': {
      offerId: string;
      agentId: string;
      reason: OfferReason;
      originalText: string | null;
      /** ISO 8601. */
      expiresAt: string;
      queueId: string | null;
    };
    'offer.accepted': { offerId: string; agentId: string };
    'offer.rejected': { offerId: string; agentId: string };
    'offer.timed-out': { offerId: string; agentId: string };
    'offer.canceled': { offerId: string; agentId: string; why: CancelReason };
    'conversation.assigned': {
      agentId: string;
      previousAgentId: string | null;
      via: 'auto-accept' | 'reassign';
      reason: OfferReason | null;
      originalText: string | null;
      byUserId: string | null;
    };
    'conversation.transferred': {
      fromAgentId: string | null;
      toAgentId: string | null;
      toQueueId: string | null;
      note: string | null;
      byUserId: string;
    };
    'conversation.requeued': { queueId: string; fromAgentId: string; reason: 'agent-offline' };
    'conversation.overflowed': {
      fromQueueId: string;
      toQueueId: string | null;
      messageId: string | null;
    };
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
