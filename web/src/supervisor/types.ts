/**
 * The shapes of the server's answers that the supervisor view reads. They mirror the route
 * schemas in src/routing/routing.routes.ts and src/conversations/conversations.routes.ts;
 * the web app cannot import server code, so they are restated here.
 */

import type { Channel, ConversationState, Presence } from '../conversation/types';

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

export interface QueueStat {
  id: string;
  name: string;
  priority: number;
  strategy: string;
  waiting: number;
  /** At the moment the server answered; the view adds the time since. */
  longestWaitSeconds: number;
  offered: number;
  active: number;
  /** Members by presence; busy counts available members full on every channel they serve. */
  agents: { available: number; away: number; offline: number; busy: number };
}

export interface AgentStat {
  id: string;
  name: string;
  presence: Presence;
  presenceChangedAt: string;
  load: Record<Channel, number>;
  capacity: Record<Channel, number>;
  busy: boolean;
}

/** GET /api/queues/stats */
export interface QueueStats {
  queues: QueueStat[];
  agents: AgentStat[];
}

/** One row of GET /api/conversations. */
export interface ConversationSummary {
  id: string;
  state: ConversationState;
  customerAddress: string;
  numberAddress: string;
  channel: Channel;
  queueId: string | null;
  queueName: string | null;
  agentId: string | null;
  agentName: string | null;
  queuedAt: string | null;
  lastMessageAt: string | null;
  createdAt: string;
  closedAt: string | null;
}
