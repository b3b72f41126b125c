/**
 * Parley's live events: every type and its payload, and how they travel on the WebSocket
 * (GET /api/events). Written once, here: the writers (appendEvent), the gateway and the web
 * app import it, the web app as types, so this file imports nothing.
 *
 * What routing's events mean for the conversation, so that a reader of the log can rebuild
 * who holds what:
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

export const PRESENCES = ['available', 'away', 'offline'] as const;
export type Presence = (typeof PRESENCES)[number];
/** Why a presence changed when no person set it. */
export type PresenceReason = 'no-desk-connection';

export const OFFER_REASONS = ['queue', 'affinity', 'transfer'] as const;
export type OfferReason = (typeof OFFER_REASONS)[number];
/** Why a pending offer was withdrawn before the agent decided. */
export type CancelReason =
  | 'agent-unavailable'
  | 'conversation-closed'
  | 'reassigned'
  | 'transferred';

/** Why a conversation ended: an agent or supervisor ended it, the flow did, or it went quiet. */
export const CLOSE_REASONS = [
  'ended',
  'out-of-hours',
  'bot',
  'inactivity',
  'opted-out',
  'number-archived',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export const MESSAGE_STATUSES = [
  'received',
  'queued',
  'sending',
  'sent',
  'delivered',
  'partially_delivered',
  'undelivered',
  'failed',
  'read',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export type OutboundAuthor = 'agent' | 'flow' | 'bot';
/** The flow's messages Parley sends on its own; each may name a template for a closed window. */
export const AUTOMATED_MESSAGES = [
  'initial',
  'outOfHours',
  'queuePosition',
  'help',
  'attachmentsRefused',
  'overflow',
  'final',
  'survey',
  'surveyComment',
  'surveyThanks',
] as const;
export type AutomatedMessage = (typeof AUTOMATED_MESSAGES)[number];
/** How an agent's origination meets the customer's answer (DESIGN.md, lifecycle). */
export const ORIGINATION_STRATEGIES = ['assign-now', 'on-reply'] as const;
export type OriginationStrategy = (typeof ORIGINATION_STRATEGIES)[number];
export type BotAction = 'continue' | 'handover' | 'close';
/** What answers a flow's survey: a score from 1 to 5, or yes / no (kept as 1 / 0). */
export const SURVEY_SCALES = ['score', 'yes-no'] as const;
export type SurveyScale = (typeof SURVEY_SCALES)[number];

/** Every event type and its payload. */
export interface EventPayloads {
  'conversation.opened': {
    numberId: string;
    customerAddress: string;
    origin: 'customer' | 'agent';
  };
  'conversation.closed': {
    reason: CloseReason;
    byUserId: string | null;
    /** The wrap-up code the closer picked; absent from events logged before wrap-up. */
    disposition?: string | null;
  };
  'message.received': {
    messageId: string;
    from: string;
    body: string;
    numMedia: number;
  };
  'flow.hours-checked': { open: boolean };
  'media.refused': { messageId: string; count: number };
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
  'flow.bot-answered': { action: BotAction; replied: boolean };
  'flow.bot-failed': { error: string; attempts: number };
  'message.queued': {
    messageId: string;
    numberId: string;
    to: string;
    body: string;
    author: OutboundAuthor;
    attachments: number;
    /** Sent as this content template (its text is the body). */
    contentSid: string | null;
  };
  'message.refused': { to: string; reason: string };
  /** An automated message not sent: the customer-service window had closed. */
  'message.skipped': {
    numberId: string;
    to: string;
    body: string;
    automated: AutomatedMessage | null;
    reason: string;
  };
  'origination.sent': {
    messageId: string;
    numberId: string;
    to: string;
    body: string;
    strategy: OriginationStrategy;
    conversationId: string | null;
  };
  'message.status': {
    messageId: string;
    status: MessageStatus;
    errorCode: number | null;
    errorMessage: string | null;
  };
  'media.stored': { mediaId: string; messageId: string; contentType: string; size: number };
  'media.failed': { mediaId: string; messageId: string; error: string; willRetry: boolean };
  'consent.changed': { contactId: string; sender: string; optedOut: boolean; keyword: string };
  /**
   * Someone edited the contact's record; `fields` names what the edit set (name, email, notes,
   * attributes.<key>). Logged against the contact's latest conversation, so that the agents
   * talking to them now see it too.
   */
  'contact.updated': { contactId: string; fields: string[]; byUserId: string };
  /** The customer answered the survey of this (closed) conversation. */
  'survey.answered': { messageId: string; scale: SurveyScale; score: number };
  'survey.commented': { messageId: string; comment: string };
  /** An internal note: in the transcript, never sent to the customer. */
  'note.added': { noteId: string; authorId: string; body: string };
}
export type EventType = keyof EventPayloads;

/** One event of the log as it goes on the wire; `type` tells the payload's shape. */
export type EventMessage = {
  [T in EventType]: {
    seq: number;
    type: T;
    conversationId: string | null;
    agentId: string | null;
    payload: EventPayloads[T];
    /** ISO 8601. */
    createdAt: string;
  };
}[EventType];

/** Sent once the client has every event up to `seq` it may see; live events follow. */
export interface ReadyMessage {
  type: 'ready';
  seq: number;
}

export type ServerMessage = EventMessage | ReadyMessage;

/** Why the server closed the socket, and what the client should do. */
export const CLOSE_CODES = {
  /** The server is shutting down: reconnect (to any instance) with after=<last seq>. */
  goingAway: 1001,
  /** Something failed on the server: reconnect after a pause with after=<last seq>. */
  internalError: 1011,
  /** The client read too slowly and its backlog passed the limit: reconnect with after=<last seq>. */
  lagging: 4001,
  /** `after` is beyond the end of the log (a restored database?): reload, reconnect without it. */
  badResume: 4400,
  /** The session or token is no longer valid: sign in again. */
  unauthorized: 4401,
} as const;
