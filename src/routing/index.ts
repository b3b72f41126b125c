/**
 * Routing: presence, capacity, queues and their strategies, offers, affinity, transfers.
 * What other modules call; everything else in this folder is routing's own. Its routes and
 * its worker are not here: only the transport (server.ts) and the composition (parley.ts)
 * take those, from their own files.
 */

export { expireAffinities, recordAffinity } from './affinity.js';
export { lockAgentsInOrder } from './agents.js';
export { type AssignScope, assignWaiting } from './assignment.js';
export { deskRefreshMs, recordDesksSeen } from './desks.js';
export {
  type Actor,
  type CloseEnded,
  endConversation,
  reassignConversation,
  type TransferTarget,
  transferConversation,
} from './handover.js';
export { acceptOffer, expireOffers, rejectOffer } from './offer-decisions.js';
export { cancelPendingOffer, listPendingOffers, type PendingOffer } from './offers.js';
export {
  type PresenceView,
  setDesertedAgentsOffline,
  setPresence,
} from './presence.js';
export { type QueuePosition, queueConversation, queuePosition } from './queueing.js';
export { overflowWaiting, type QueueMessage, requeueOfflineAgents } from './timers.js';
export {
  type AgentLoad,
  listMyConversations,
  type MyConversation,
  type QueueStats,
  queueStats,
} from './views.js';
export { ROUTING_CHANNEL, type RoutingHint, wakeRouting } from './wake-ups.js';
