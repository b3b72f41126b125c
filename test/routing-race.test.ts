/**
 * Two Parley instances (two stores, each with its routing worker) on one PostgreSQL
 * database, 20 agents changing presence at random, accepting, rejecting, ignoring and ending
 * offers, while 500 conversations are queued at once through both: half one by one, half
 * by customers' texts, which batches open and offer in bulk. Afterwards the event log,
 * replayed in commit order, must show that no agent ever held more than their capacity and
 * that no conversation was ever held by two agents at once.
 *
 * Log order, (xid, id), is not commit order: a transaction that took its xid early (the
 * claim of a routing batch) may read and act on what a later-xid transaction committed
 * meanwhile (an ended conversation freeing its agent). So the test records commit order
 * itself, with a trigger of its own that numbers transactions at commit under a lock.
 */
import { asc, eq, isNotNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertContact } from '../src/consent/contacts.js';
import { openConversation } from '../src/conversations/conversations.js';
import { conversations, events, offers, users } from '../src/db/schema.js';
import { openStore, type Store } from '../src/db/store.js';
import { AppError } from '../src/errors.js';
import type { Presence } from '../src/events.js';
import { closeConversation } from '../src/flows/closing.js';
import { createFlow } from '../src/flows/flows.js';
import { InboundBatcher } from '../src/inbound/batch.js';
import { createLogger } from '../src/logger.js';
import { enqueueAutomated } from '../src/outbound/outbox.js';
import {
  acceptOffer,
  endConversation,
  listMyConversations,
  listPendingOffers,
  queueConversation,
  rejectOffer,
  setPresence,
} from '../src/routing/index.js';
import { type RoutingWorker, startRoutingWorker } from '../src/routing/routing-worker.js';
import { type Agent, buildAgent, buildNumber, buildQueue } from './helpers/factories.js';
import { createTestDatabase, dropTestDatabase, TEST_DATABASE_URL } from './helpers/store.js';

const AGENTS = 20;
const CONVERSATIONS = 500;
const DEADLINE_MS = 45_000;

describe.skipIf(!TEST_DATABASE_URL)('routing across two instances on one PostgreSQL', () => {
  let databaseUrl: string;
  let stores: Store[] = [];
  let workers: RoutingWorker[] = [];

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const first = await openStore({ databaseUrl, maxConnections: 10 });
    await first.migrate();
    await first.db.execute(sql`CREATE TABLE test_commit_order (xid xid8 PRIMARY KEY, n bigserial)`);
    await first.db.execute(sql`
      CREATE FUNCTION test_record_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock(7331999);
        INSERT INTO test_commit_order (xid) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
        RETURN NULL;
      END;
      $$`);
    await first.db.execute(sql`
      CREATE CONSTRAINT TRIGGER test_record_commit AFTER INSERT ON events
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_record_commit()`);
    stores = [first, await openStore({ databaseUrl, maxConnections: 10 })];
    workers = stores.map((store) =>
      startRoutingWorker({
        store,
        logger: createLogger('silent'),
        queueMessage: enqueueAutomated,
        timerIntervalMs: 100,
        sweepIntervalMs: 1000,
      }),
    );
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await Promise.all(stores.map((store) => store.close()));
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it('never exceeds capacity nor offers a conversation to two agents at once', {
    timeout: 90_000,
  }, async () => {
    const db = stores[0]!.db;
    const number = await buildNumber(db);
    const agents: Agent[] = [];
    for (let i = 0; i < AGENTS; i++) {
      agents.push(await buildAgent(db, { capacitySms: 1 + (i % 3), presence: 'available' }));
    }
    // Two overlapping queues with different strategies; short timers so that offer
    // timeouts and offline requeues happen during the run.
    const queues = [
      await buildQueue(db, agents.slice(0, 14), {
        strategy: 'longest-idle',
        priority: 1,
        offerTimeoutSeconds: 1,
        offlineRequeueSeconds: 1,
      }),
      await buildQueue(db, agents.slice(6), {
        strategy: 'round-robin',
        offerTimeoutSeconds: 1,
        offlineRequeueSeconds: 1,
      }),
    ];

    const flows = await Promise.all(
      queues.map((queue, i) => createFlow(db, { name: `Race ${i}`, queueId: queue.id })),
    );
    const batchers = stores.map((store) => new InboundBatcher(store.db));

    // 500 customers text at once, half through each instance.
    const started = Date.now();
    const queued = Promise.all(
      Array.from({ length: CONVERSATIONS }, async (_, i) => {
        const store = stores[i % 2]!;
        const address = `+1555${String(1_000_000 + i).padStart(7, '0')}`;
        if (i % 4 >= 2) {
          await batchers[i % 2]!.receive(number, flows[i % 2], {
            messageSid: `SMrace${String(i).padStart(26, '0')}`,
            from: address,
            to: number.address,
            body: 'hello',
            media: [],
            location: {},
          });
          return;
        }
        const contact = await upsertContact(store.db, address);
        const { conversation } = await openConversation(store.db, {
          numberId: number.id,
          contactId: contact.id,
          customerAddress: address,
        });
        await queueConversation(store.db, conversation.id, queues[i % 2]!.id);
      }),
    );

    let draining = false;
    let done = false;
    // Each offer is decided once: mostly accepted, sometimes rejected, sometimes left to
    // time out (until the end, when everything is accepted).
    const decisions = new Map<string, 'accept' | 'reject' | 'ignore'>();
    const decide = (offerId: string) => {
      let decision = decisions.get(offerId);
      if (!decision) {
        const roll = Math.random();
        decision = roll < 0.8 ? 'accept' : roll < 0.9 ? 'reject' : 'ignore';
        decisions.set(offerId, decision);
      }
      return draining ? 'accept' : decision;
    };
    const act = async (agent: Agent, index: number) => {
      let step = 0;
      while (!done) {
        step++;
        const store = stores[(index + step) % 2]!;
        const roll = Math.random();
        try {
          if (!draining && roll < 0.04) {
            const presence: Presence = roll < 0.02 ? 'available' : roll < 0.03 ? 'away' : 'offline';
            await setPresence(store.db, agent.id, presence, agent.id);
          } else if (draining && step % 5 === 0) {
            await setPresence(store.db, agent.id, 'available', agent.id);
          }
          for (const offer of await listPendingOffers(store.db, agent.id)) {
            const decision = decide(offer.id);
            if (decision === 'accept') await acceptOffer(store.db, offer.id, agent.id);
            else if (decision === 'reject') await rejectOffer(store.db, offer.id, agent.id);
          }
          for (const mine of await listMyConversations(store.db, agent.id)) {
            if (mine.state === 'active' && Math.random() < 0.5) {
              await endConversation(
                store.db,
                mine.id,
                { id: agent.id, role: 'agent' },
                closeConversation,
              );
            }
          }
        } catch (error) {
          // Losing a race (an offer timed out or withdrawn, a conversation requeued) is
          // the expected answer; anything else fails the test.
          if (!(error instanceof AppError) || !['conflict', 'not_found'].includes(error.code)) {
            throw error;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
      }
    };
    const actors = Promise.all(agents.map((agent, i) => act(agent, i)));

    await queued;
    // Let the agents churn, then have everyone come back and finish the work.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    draining = true;
    try {
      for (;;) {
        const open = await db
          .select({ id: conversations.id })
          .from(conversations)
          .where(eq(conversations.numberId, number.id))
          .then((rows) => rows.length);
        const closed = await db
          .select({ id: conversations.id })
          .from(conversations)
          .where(isNotNull(conversations.closedAt))
          .then((rows) => rows.length);
        if (closed === CONVERSATIONS && open === CONVERSATIONS) break;
        if (Date.now() - started > DEADLINE_MS) {
          throw new Error(`only ${closed} of ${CONVERSATIONS} conversations ended in time`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      done = true;
      await actors;
    }

    // Every conversation was ended exactly once, and nothing is left pending.
    const closedEvents = await db
      .select({ conversationId: events.conversationId })
      .from(events)
      .where(eq(events.type, 'conversation.closed'));
    expect(closedEvents).toHaveLength(CONVERSATIONS);
    expect(new Set(closedEvents.map((e) => e.conversationId)).size).toBe(CONVERSATIONS);
    expect(await db.select().from(offers).where(eq(offers.state, 'pending'))).toEqual([]);

    // Replay the log in commit order.
    const capacity = new Map(
      (await db.select({ id: users.id, capacity: users.capacitySms }).from(users)).map((u) => [
        u.id,
        u.capacity,
      ]),
    );
    const log = await db
      .select({
        seq: sql<number>`c.n::int`,
        type: events.type,
        conversationId: events.conversationId,
        payload: events.payload,
      })
      .from(events)
      .innerJoin(sql`test_commit_order c`, sql`c.xid = ${events.xid}`)
      .orderBy(sql`c.n`, asc(events.id));
    expect(log).toHaveLength(await db.$count(events));
    const holder = new Map<string, string>();
    const load = new Map<string, number>();
    const violations: string[] = [];
    const take = (conversationId: string, agentId: string, seq: number | null) => {
      const current = holder.get(conversationId);
      if (current)
        violations.push(`#${seq}: ${conversationId} given to ${agentId} while ${current} holds it`);
      holder.set(conversationId, agentId);
      const now = (load.get(agentId) ?? 0) + 1;
      load.set(agentId, now);
      if (now > capacity.get(agentId)!) violations.push(`#${seq}: ${agentId} holds ${now}`);
    };
    const release = (conversationId: string) => {
      const current = holder.get(conversationId);
      if (!current) return;
      holder.delete(conversationId);
      load.set(current, load.get(current)! - 1);
    };
    const counts: Record<string, number> = {};
    for (const event of log) {
      counts[event.type] = (counts[event.type] ?? 0) + 1;
      const conversationId = event.conversationId;
      const payload = event.payload as { agentId?: string };
      if (!conversationId) continue;
      switch (event.type) {
        case 'offer.created':
        case 'conversation.assigned':
          if (event.type === 'conversation.assigned') release(conversationId);
          take(conversationId, payload.agentId!, event.seq);
          break;
        case 'offer.accepted':
          if (holder.get(conversationId) !== payload.agentId) {
            violations.push(`#${event.seq}: accepted by ${payload.agentId}, not the holder`);
          }
          break;
        case 'offer.rejected':
        case 'offer.timed-out':
        case 'offer.canceled':
        case 'conversation.requeued':
        case 'conversation.transferred':
        case 'conversation.closed':
          release(conversationId);
          break;
      }
    }
    expect(violations).toEqual([]);
    // The run exercised what it claims to.
    expect(counts['offer.created']).toBeGreaterThanOrEqual(CONVERSATIONS);
    expect(counts['offer.rejected']).toBeGreaterThan(0);
    expect(counts['offer.timed-out']).toBeGreaterThan(0);
    expect(counts['agent.presence-changed']).toBeGreaterThan(0);
  });
});
