/**
 * What the live-event WebSocket (`GET /api/events`) says, for the gateway and its clients.
 *
 * A client connects with `?after=<seq>` to resume after the last position it handled (or
 * without it, to start from now). It first gets every event it may see past that position,
 * in log order, then `{ type: 'ready', seq }`, then live events as they commit. Each event
 * message carries its `seq`; the client keeps the highest seq it handled, taking `ready`'s
 * seq into account too (events it may not see move the log on without being sent), and
 * resumes from it after any close except CLOSE_CODES.unauthorized and badResume.
 */
import type { EventPayloads, EventType, LoggedEvent } from '../event-log.js';

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

export function eventMessage(event: LoggedEvent): EventMessage {
  // The log is written only through appendEvent, which types each payload by its event type.
  return {
    seq: event.seq,
    type: event.type,
    conversationId: event.conversationId,
    agentId: event.agentId,
    payload: event.payload,
    createdAt: event.createdAt.toISOString(),
  } as EventMessage;
}
