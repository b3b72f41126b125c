import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { desks, events, users } from '../src/db/schema.js';
import { type Executor, openStore, type Store } from '../src/db/store.js';
import { createLogger } from '../src/logger.js';
import { enqueueAutomated } from '../src/outbound/outbox.js';
import { type RunningParley, startParley } from '../src/parley.js';
import { createRealtimeGateway, type RealtimeGateway } from '../src/realtime/gateway.js';
import { deskRefreshMs, queueConversation, setPresence } from '../src/routing/index.js';
import { type RoutingWorker, startRoutingWorker } from '../src/routing/routing-worker.js';
import { buildServer } from '../src/server.js';
import { type SignedIn, serverDeps, signIn } from './helpers/app.js';
import {
  buildAgent,
  buildNumber,
  buildQueue,
  conversationInFlow,
  pendingOffer,
} from './helpers/factories.js';
import { eventually } from './helpers/stack.js';
import {
  createTestDatabase,
  dropTestDatabase,
  openTestStore,
  TEST_DATABASE_URL,
} from './helpers/store.js';
import { WebSocket, type WsClient } from './helpers/ws.js';

const GRACE_SECONDS = 3;
const silent = createLogger('silent');

/** An agent's desk: their live-event socket, open once the gateway says it is live. */
class Desk {
  private constructor(
    private readonly socket: WsClient,
    private readonly closed: Promise<void>,
  ) {}

  static open(baseUrl: string, who: SignedIn): Promise<Desk> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/events`, {
      headers: who.headers,
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    return new Promise((resolve, reject) => {
      socket.on('message', (data) => {
        if ((JSON.parse(data.toString()) as { type: string }).type === 'ready') {
          resolve(new Desk(socket, closed));
        }
      });
      socket.on('error', reject);
    });
  }

  /** Resolves when the socket has closed, by the browser or the server. */
  async close(): Promise<void> {
    this.socket.close();
    await this.closed;
  }
}

async function presenceOf(db: Executor, agentId: string) {
  const [row] = await db
    .select({ presence: users.presence })
    .from(users)
    .where(eq(users.id, agentId));
  return row!.presence;
}

async function presenceEvents(db: Executor, agentId: string) {
  return db
    .select({ payload: events.payload, createdAt: events.createdAt })
    .from(events)
    .where(and(eq(events.type, 'agent.presence-changed'), eq(events.agentId, agentId)))
    .orderBy(asc(events.id));
}

async function deskSeenAt(db: Executor, userId: string) {
  const [row] = await db
    .select({ seenAt: desks.seenAt })
    .from(desks)
    .where(eq(desks.userId, userId));
  return row?.seenAt;
}

/** Waits until the timer has set the agent offline; returns the event that says so. */
async function wentOffline(db: Executor, agentId: string) {
  return eventually(async () => {
    const offline = (await presenceEvents(db, agentId)).filter(
      (event) => event.payload.presence === 'offline',
    );
    return offline[0];
  }, 15_000);
}

/** Where a running Parley keeps its data: a PostgreSQL database or a PGlite directory. */
async function storeEnv(): Promise<Record<string, string>> {
  return TEST_DATABASE_URL
    ? { DATABASE_URL: await createTestDatabase(), APP_SECRET: 's'.repeat(64) }
    : { DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-presence-')) };
}

function startInstance(env: Record<string, string>): Promise<RunningParley> {
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: 'silent',
    PRESENCE_GRACE_SECONDS: String(GRACE_SECONDS),
    ...env,
  });
  return startParley(config, silent);
}

describe('presence follows the desk', () => {
  let env: Record<string, string>;
  let parley: RunningParley;
  let db: Store['db'];

  beforeAll(async () => {
    env = await storeEnv();
    parley = await startInstance(env);
    db = parley.store.db;
  });
  afterAll(async () => {
    await parley?.close();
    if (env?.DATABASE_URL) await dropTestDatabase(env.DATABASE_URL);
  });

  it('sets an available agent offline once their desk has been closed for the grace period, and their pending offer goes to another agent at once', async () => {
    const ada = await signIn(parley.store, 'agent');
    const bob = await signIn(parley.store, 'agent');
    // A long offer timeout: only the withdrawal can move the offer on within the test.
    const queue = await buildQueue(db, [ada.user, bob.user], { offerTimeoutSeconds: 600 });
    const [adaDesk, bobDesk] = await Promise.all([
      Desk.open(parley.url, ada),
      Desk.open(parley.url, bob),
    ]);
    await setPresence(db, ada.user.id, 'available', ada.user.id);
    const conversation = await conversationInFlow(db, (await buildNumber(db)).id);
    await queueConversation(db, conversation.id, queue.id);
    const offered = await pendingOffer(db, conversation.id);
    expect(offered?.agentId).toBe(ada.user.id);
    await setPresence(db, bob.user.id, 'available', bob.user.id);

    await adaDesk.close();
    const offline = await wentOffline(db, ada.user.id);
    expect(offline.payload).toEqual({
      presence: 'offline',
      previous: 'available',
      byUserId: null,
      reason: 'no-desk-connection',
    });
    const closedAt = await deskSeenAt(db, ada.user.id);
    expect(offline.createdAt.getTime() - closedAt!.getTime()).toBeGreaterThanOrEqual(
      GRACE_SECONDS * 1000,
    );

    const next = await eventually(async () => {
      const offer = await pendingOffer(db, conversation.id);
      return offer?.agentId === bob.user.id && offer;
    });
    // Long before the offer would have timed out.
    expect(next.createdAt.getTime() - offline.createdAt.getTime()).toBeLessThan(60_000);
    expect(await presenceOf(db, bob.user.id)).toBe('available');
    await bobDesk.close();
  });

  it('sets an away agent who never opened a desk offline a grace period after their presence was set', async () => {
    const cy = await signIn(parley.store, 'agent');
    const set = await setPresence(db, cy.user.id, 'away', cy.user.id);
    const offline = await wentOffline(db, cy.user.id);
    expect(offline.payload).toMatchObject({ previous: 'away', reason: 'no-desk-connection' });
    expect(offline.createdAt.getTime() - set.presenceChangedAt.getTime()).toBeGreaterThanOrEqual(
      GRACE_SECONDS * 1000,
    );
  });

  it('keeps an agent who reconnects within the grace period available, with no event', async () => {
    const ada = await signIn(parley.store, 'agent');
    const first = await Desk.open(parley.url, ada);
    await setPresence(db, ada.user.id, 'available', ada.user.id);
    await first.close();
    const again = await Desk.open(parley.url, ada);
    // Without a desk from now on, so offline a grace period later than Ada would have been.
    const witness = await buildAgent(db, { presence: 'offline' });
    await setPresence(db, witness.id, 'available', witness.id);

    await wentOffline(db, witness.id);
    expect(await presenceOf(db, ada.user.id)).toBe('available');
    expect((await presenceEvents(db, ada.user.id)).map((e) => e.payload.presence)).toEqual([
      'available',
    ]);
    await again.close();
  });
});

describe('presence across a restart', () => {
  let env: Record<string, string>;
  let parley: RunningParley | undefined;

  beforeAll(async () => {
    env = await storeEnv();
  });
  afterAll(async () => {
    await parley?.close();
    if (env?.DATABASE_URL) await dropTestDatabase(env.DATABASE_URL);
  });

  it('sets an agent whose desk the shutdown closed offline a grace period later, on the new instance', async () => {
    const before = await startInstance(env);
    const ada = await signIn(before.store, 'agent');
    await Desk.open(before.url, ada);
    await setPresence(before.store.db, ada.user.id, 'available', ada.user.id);
    await before.close();

    parley = await startInstance(env);
    const db = parley.store.db;
    const offline = await wentOffline(db, ada.user.id);
    expect(offline.payload).toMatchObject({ previous: 'available', reason: 'no-desk-connection' });
    const closedAt = await deskSeenAt(db, ada.user.id);
    expect(offline.createdAt.getTime() - closedAt!.getTime()).toBeGreaterThanOrEqual(
      GRACE_SECONDS * 1000,
    );
  });
});

describe('presence with two instances on one store', () => {
  // Instance A serves the desk and runs no routing timers; instance B runs them.
  let storeA: Store & { databaseUrl?: string };
  let storeB: Store;
  let serverA: FastifyInstance;
  let gatewayA: RealtimeGateway;
  let urlA: string;
  let routingB: RoutingWorker;

  beforeAll(async () => {
    storeA = await openTestStore();
    // PGlite belongs to one process: there the instances share it, as they share a server.
    storeB = storeA.databaseUrl ? await openStore({ databaseUrl: storeA.databaseUrl }) : storeA;
    const config = loadConfig({ LOG_LEVEL: 'silent', PUBLIC_URL: 'http://127.0.0.1' });
    gatewayA = createRealtimeGateway({
      store: storeA,
      logger: silent,
      deskRefreshMs: deskRefreshMs(GRACE_SECONDS),
    });
    serverA = await buildServer({ ...serverDeps(storeA, config), realtime: gatewayA });
    urlA = await serverA.listen({ port: 0, host: '127.0.0.1' });
    routingB = startRoutingWorker({
      store: storeB,
      logger: silent,
      queueMessage: enqueueAutomated,
      presenceGraceSeconds: GRACE_SECONDS,
      timerIntervalMs: 100,
    });
  });
  afterAll(async () => {
    await routingB?.stop();
    await serverA?.close();
    await gatewayA?.stop();
    if (storeB !== storeA) await storeB?.close();
    await storeA?.close();
  });

  it('keeps available an agent whose desk is open on A while B runs the timer', async () => {
    const ada = await signIn(storeA, 'agent');
    const desk = await Desk.open(urlA, ada);
    await setPresence(storeA.db, ada.user.id, 'available', ada.user.id);
    // Set available after Ada and never at a desk: B has judged Ada once it sets this one offline.
    const witness = await buildAgent(storeB.db, { presence: 'offline' });
    await setPresence(storeB.db, witness.id, 'available', witness.id);

    await wentOffline(storeB.db, witness.id);
    expect(await presenceOf(storeB.db, ada.user.id)).toBe('available');
    await desk.close();
  });
});
