/**
 * The shapes of the server's answers that the supervisor view reads, as the server documents
 * them (api-types.ts, generated).
 */
import type { Schemas } from '../api';
import type { ConversationState, Presence } from '../conversation/types';

export type {
  Channel,
  ConversationState,
  Directory,
  Presence,
  Transcript,
} from '../conversation/types';
export const PRESENCES: readonly Presence[] = ['available', 'away', 'offline'];

/** What the conversation list shows: every open conversation, or those in one state. */
export type ConversationFilter = 'open' | ConversationState;

/** GET /api/queues/stats */
export type QueueStats = Schemas['QueueStats'];
export type QueueStat = QueueStats['queues'][number];
export type AgentStat = QueueStats['agents'][number];

/** One row of GET /api/conversations. */
export type ConversationSummary = Schemas['ConversationSummary'];
