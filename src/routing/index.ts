/**
 * Routing: presence, capacity, queues and their strategies, offers, affinity, transfers.
 * What other modules call; everything else in this folder is routing's own.
 */

export { expireAffinities, recordAffinity } from './affinity.js';
export { lockAgentsInOrder } from './agents.js';
export { type AssignScope, assignWaiting } from './assignment.js';
export { deskRefreshMs, recordDesksSeen } from './desks.js';
export type { CancelReason, OfferReason, Presence, PresenceReason } from './events.js';
export {
  type Actor,
  endConversation,
  reassignConversation,
  type TransferTarget,
  transferConversation,
} from './handover.js';
export { acceptOffer, expireOffers, rejectOffer } from './offer-decisions.js';
export { listPendingOffers, type PendingOffer } from './offers.js';
export {
  PRESENCES,
  type PresenceView,
  setDesertedAgentsOffline,
  setPresence,
} from './presence.js';
export { type QueuePosition, queueConversation, queuePosition } from './queueing.js';
export { registerRoutingRoutes } from './routing.routes.js';
export {
  type RoutingWorker,
  type RoutingWorkerOptions,
  startRoutingWorker,
} from './routing-worker.js';
export { overflowWaiting, requeueOfflineAgents } from './timers.js';
export {
  type AgentLoad,
  listMyConversations,
  type MyConversation,
  type QueueStats,
  queueStats,
} from './views.js';
export { ROUTING_CHANNEL, type RoutingHint, wakeRouting } from './wake-ups.js';
