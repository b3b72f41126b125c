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

import type { LoggedEvent } from '../event-log.js';
import type { EventMessage } from '../events.js';

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
