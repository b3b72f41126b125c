/**
 * Routing's background work on each instance: assignment woken by LISTEN/NOTIFY (sent in
 * the transactions that queue a conversation or free an agent's room, on any instance), a
 * periodic sweep in case a wake-up was lost, and the timers (offer timeouts, max wait,
 * offline requeue, agents gone from their desk, affinity expiry) polled at a short interval.
 */
import type { FastifyBaseLogger } from 'fastify';
import { DEFAULT_PRESENCE_GRACE_SECONDS } from '../config.js';
import type { Store } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import type { Worker } from '../worker-loop.js';
import { expireAffinities } from './affinity.js';
import { type AssignScope, assignWaiting } from './assignment.js';
import { expireOffers } from './offer-decisions.js';
import { setDesertedAgentsOffline } from './presence.js';
import { overflowWaiting, type QueueMessage, requeueOfflineAgents } from './timers.js';
import { parseRoutingHint, ROUTING_CHANNEL, type RoutingHint } from './wake-ups.js';

export interface RoutingWorkerOptions {
  store: Store;
  logger: FastifyBaseLogger;
  /** Queues a queue's overflow message (the outbox's enqueueOutbound). */
  queueMessage: QueueMessage;
  /** How often due timers are looked for. */
  timerIntervalMs?: number;
  /** How often every queue is looked at regardless of wake-ups. */
  sweepIntervalMs?: number;
  /** How often expired affinities are deleted. */
  affinityIntervalMs?: number;
  /** How long an available or away agent may be without a desk before going offline. */
  presenceGraceSeconds?: number;
}

export interface RoutingWorker extends Worker {
  /** Looks for assignments now: where the hint says, or everywhere. */
  wake(hint?: RoutingHint): void;
}

const BATCH = 100;
// Beyond this many agents with new room, one pass over the queues is cheaper than one each.
const AGENT_PASSES_MAX = 8;
const LISTEN_RETRY_MS = 5000;
const QUEUE_WAKE_DELAY_MS = 5;

/**
 * Starts routing's background work for this instance; every instance runs one, and they
 * share the work through the database. stop() lets the current transaction finish.
 */
export function startRoutingWorker(options: RoutingWorkerOptions): RoutingWorker {
  const { store, logger } = options;
  const db = store.db;
  const log = logger.child({ worker: 'routing' });
  let stopped = false;

  // ── assignment, on wake-ups ─────────────────────────────────────────────────────────
  // Wake-ups arriving while a pass runs are merged into the next pass.
  let everywhere = false;
  const queueIds = new Set<string>();
  const agentIds = new Set<string>();
  let assigning: Promise<void> | undefined;

  const wake = (hint?: RoutingHint) => {
    if (stopped) return;
    if (!hint) everywhere = true;
    else if ('queueId' in hint) queueIds.add(hint.queueId);
    else agentIds.add(hint.agentId);
    assigning ??= assignUntilQuiet().finally(() => {
      assigning = undefined;
    });
  };

  // A queue's wake-up comes from a conversation its instance could not place at once (no
  // one had room) or one back in the queue; while a backlog builds up they come in bursts,
  // and those of the next few milliseconds are gathered here into one pass (those that
  // arrive while a pass runs join the next). Longer costs every such conversation the
  // delay: 50 ms put queued -> offered p99 at 73-113 ms at 50 new conversations/s on
  // PostgreSQL, 5 ms at 64-66. Wake-ups for agents with room are not delayed.
  const gathered = new Set<string>();
  let gathering: NodeJS.Timeout | undefined;
  const wakeSoon = (queueId: string) => {
    gathered.add(queueId);
    gathering ??= setTimeout(() => {
      gathering = undefined;
      const ids = [...gathered];
      gathered.clear();
      for (const id of ids) wake({ queueId: id });
    }, QUEUE_WAKE_DELAY_MS);
  };
  const onNotify = (payload: string) => {
    const hint = parseRoutingHint(payload);
    if (hint && 'queueId' in hint) wakeSoon(hint.queueId);
    else wake(hint);
  };

  const assignUntilQuiet = async () => {
    while (!stopped && (everywhere || queueIds.size > 0 || agentIds.size > 0)) {
      const scopes: AssignScope[] = [];
      if (everywhere || agentIds.size > AGENT_PASSES_MAX) {
        scopes.push({});
      } else {
        if (queueIds.size > 0) scopes.push({ queueIds: [...queueIds] });
        for (const agentId of agentIds) scopes.push({ agentId });
      }
      everywhere = false;
      queueIds.clear();
      agentIds.clear();
      for (const scope of scopes) {
        try {
          const handed = await assignWaiting(db, scope, { shouldStop: () => stopped });
          if (handed > 0) log.debug({ handed, scope }, 'conversations handed over');
        } catch (error) {
          log.error({ err: error, scope }, 'assignment pass failed');
        }
      }
    }
  };

  // ── timers ──────────────────────────────────────────────────────────────────────────
  const timerIntervalMs = options.timerIntervalMs ?? 500;
  const affinityIntervalMs = options.affinityIntervalMs ?? 30_000;
  const presenceGraceSeconds = options.presenceGraceSeconds ?? DEFAULT_PRESENCE_GRACE_SECONDS;
  let lastAffinitySweep = 0;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;

  const tick = async (): Promise<boolean> => {
    let more = false;
    const offers = await expireOffers(db, BATCH);
    if (offers.expired > 0) log.info({ expired: offers.expired }, 'offers timed out');
    const overflow = await overflowWaiting(db, BATCH, options.queueMessage);
    if (overflow.overflowed > 0) log.info({ overflowed: overflow.overflowed }, 'queues overflowed');
    const offline = await requeueOfflineAgents(db, BATCH);
    if (offline.requeued > 0)
      log.info({ requeued: offline.requeued }, 'offline agents’ conversations requeued');
    const deserted = await setDesertedAgentsOffline(db, presenceGraceSeconds, BATCH);
    if (deserted.offline > 0)
      log.info({ offline: deserted.offline }, 'agents without a desk set offline');
    more =
      offers.expired === BATCH ||
      overflow.overflowed === BATCH ||
      offline.requeued === BATCH ||
      deserted.offline === BATCH;
    // Their transactions sent wake-ups to every instance; this one need not wait for its own.
    for (const queueId of [
      ...offers.queueIds,
      ...overflow.queueIds,
      ...offline.queueIds,
      ...deserted.queueIds,
    ]) {
      wake({ queueId });
    }
    if (Date.now() - lastAffinitySweep >= affinityIntervalMs) {
      const expired = await inTransaction(db, (tx) => expireAffinities(tx, BATCH * 10));
      if (expired > 0) log.info({ expired }, 'affinities expired');
      if (expired < BATCH * 10) lastAffinitySweep = Date.now();
      else more = true;
    }
    return more;
  };

  const runTimers = () => {
    if (stopped) return;
    ticking = tick()
      .catch((error: unknown) => {
        log.error({ err: error }, 'routing timers failed');
        return false;
      })
      .then((more) => {
        ticking = undefined;
        if (!stopped) timer = setTimeout(runTimers, more ? 0 : timerIntervalMs);
      });
  };
  timer = setTimeout(runTimers, 0);

  // ── wake-ups from other instances, and the safety-net sweep ───────────────────────────
  const sweep = setInterval(() => wake(), options.sweepIntervalMs ?? 5000);
  let unlisten: (() => Promise<void>) | undefined;
  let relisten: NodeJS.Timeout | undefined;
  const listen = (): Promise<void> =>
    store.listen(ROUTING_CHANNEL, onNotify).then(
      async (stop) => {
        if (stopped) return stop();
        unlisten = stop;
        // Anything queued before we listened is found now rather than at the first sweep.
        wake();
      },
      (error: unknown) => {
        log.error({ err: error }, 'cannot listen for routing wake-ups; the sweep covers meanwhile');
        if (!stopped) {
          relisten = setTimeout(() => {
            listening = listen();
          }, LISTEN_RETRY_MS);
        }
      },
    );
  let listening = listen();

  return {
    name: 'routing',
    wake,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(sweep);
      clearTimeout(relisten);
      clearTimeout(gathering);
      await listening;
      await unlisten?.();
      await Promise.all([assigning, ticking]);
    },
  };
}
