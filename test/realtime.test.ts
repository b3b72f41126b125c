import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { and, asc, eq, gt, inArray, lte } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue } from '../src/admin/queues.js';
import { createSession, endSession } from '../src/auth/sessions.js';
import { loadConfig } from '../src/config.js';
import { events } from '../src/db/schema.js';
import { openStore, type Store, type Tx } from '../src/db/store.js';
import { appendEvent } from '../src/event-log.js';
import {
  CLOSE_CODES,
  type EventMessage,
  type EventPayloads,
  type EventType,
  type ServerMessage,
} from '../src/events.js';
import { createLogger } from '../src/logger.js';
import { createRealtimeGateway, type RealtimeGateway } from '../src/realtime/gateway.js';
import { eventLogLag, numberEvents, startEventSequencer } from '../src/realtime/sequencer.js';
import { buildServer } from '../src/server.js';
import type { Worker } from '../src/worker-loop.js';
import { type SignedIn, serverDeps, signIn } from './helpers/app.js';
import { phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';
import { openTestStore, TEST_DATABASE_URL } from './helpers/store.js';
import { WebSocket, type WsClient } from './helpers/ws.js';

const WAIT_MS = 15_000;

/** One client of GET /api/events: everything it received, and ways to wait for more. */
class Feed {
  readonly messages: ServerMessage[] = [];
  /** Highest position handled: the last event's seq or the ready marker's, as a client keeps it. */
  lastSeq: number;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Events that came out of order or again; checked on close. */
  readonly misordered: string[] = [];
  #waiters: { test: (message: ServerMessage) => boolean; resolve: () => void }[] = [];

  private constructor(
    private readonly socket: WsClient,
    after: number | undefined,
  ) {
    this.lastSeq = after ?? 0;
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as ServerMessage;
      // Every event must come after the previous one and after the position resumed from.
      if (message.type !== 'ready' && message.seq <= this.lastSeq) {
        this.misordered.push(`event ${message.seq} arrived after ${this.lastSeq}`);
      }
      this.lastSeq = Math.max(this.lastSeq, message.seq);
      this.messages.push(message);
      this.#waiters = this.#waiters.filter((waiter) => {
        if (!waiter.test(message)) return true;
        waiter.resolve();
        return false;
      });
    });
  }

  /** Connects; rejects with the HTTP status when the upgrade is refused. */
  static open(
    baseUrl: string,
    options: { headers?: Record<string, string>; after?: number; query?: string } = {},
  ): Promise<Feed> {
    const params = new URLSearchParams(options.query);
    if (options.after !== undefined) params.set('after', String(options.after));
    const url = `${baseUrl.replace(/^http/, 'ws')}/api/events${params.size ? `?${params}` : ''}`;
    const socket = new WebSocket(url, { headers: options.headers ?? {} });
    const feed = new Feed(socket, options.after);
    return new Promise((resolve, reject) => {
      socket.on('open', () => resolve(feed));
      socket.on('unexpected-response', (request, response) => {
        request.destroy();
        reject(new Refused(response.statusCode ?? 0));
      });
      socket.on('error', reject);
    });
  }

  events(): EventMessage[] {
    return this.messages.filter((message): message is EventMessage => message.type !== 'ready');
  }

  /** Resolves with the first message (already received or coming) that passes the test. */
  async until<M extends ServerMessage>(
    what: string,
    test: (message: ServerMessage) => message is M,
  ): Promise<M>;
  async until(what: string, test: (message: ServerMessage) => boolean): Promise<ServerMessage>;
  async until(what: string, test: (message: ServerMessage) => boolean): Promise<ServerMessage> {
    const find = () => this.messages.find(test);
    if (!find()) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${what} within ${WAIT_MS} ms; got ${this.describe()}`)),
          WAIT_MS,
        );
        this.#waiters.push({
          test,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    }
    return find()!;
  }

  ready(): Promise<ServerMessage> {
    return this.until('ready marker', (message) => message.type === 'ready');
  }

  /** Waits for an event of this type passing the test. */
  event<T extends EventType>(
    type: T,
    test: (message: Extract<EventMessage, { type: T }>) => boolean = () => true,
  ): Promise<Extract<EventMessage, { type: T }>> {
    return this.until(
      type,
      (message): message is Extract<EventMessage, { type: T }> =>
        message.type === type && test(message as Extract<EventMessage, { type: T }>),
    );
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.closed;
    expect(this.misordered).toEqual([]);
  }

  describe(): string {
    return JSON.stringify(this.messages.map((m) => `${m.seq}:${m.type}`));
  }
}

class Refused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with ${status}`);
  }
}

async function refusal(promise: Promise<Feed>): Promise<number> {
  try {
    const feed = await promise;
    await feed.close();
  } catch (error) {
    if (error instanceof Refused) return error.status;
    throw error;
  }
  throw new Error('the upgrade was accepted');
}

/** Resolves once every committed event has its seq. */
async function numbered(store: Store): Promise<void> {
  await eventually(async () => (await eventLogLag(store.db)).unnumbered === 0, 30_000);
}

/** The seqs of the log in (after, upTo], read straight from the table once all are numbered. */
async function seqsBetween(store: Store, after: number, upTo: number): Promise<number[]> {
  await numbered(store);
  const rows = await store.db
    .select({ seq: events.seq })
    .from(events)
    .where(and(gt(events.seq, after), lte(events.seq, upTo)))
    .orderBy(asc(events.seq));
  return rows.map((row) => row.seq!);
}

async function append<T extends EventType>(
  store: Store,
  type: T,
  refs: { conversationId?: string | null; agentId?: string | null },
  payload: EventPayloads[T],
): Promise<void> {
  await store.db.transaction((tx) => appendEvent(tx, type, refs, payload));
}

describe('GET /api/events on a running Parley', () => {
  let stack: Stack;
  let sue: SignedIn;
  let ada: SignedIn;
  let bob: SignedIn;

  beforeAll(async () => {
    stack = await Stack.start();
    sue = await signIn(stack.parley.store, 'supervisor', 'sue');
    ada = await signIn(stack.parley.store, 'agent', 'ada');
    bob = await signIn(stack.parley.store, 'agent', 'bob');
  });
  afterAll(() => stack?.close());

  const open = (who: SignedIn, after?: number) =>
    Feed.open(stack.parley.url, { headers: who.headers, ...(after !== undefined && { after }) });

  const api = async (who: SignedIn, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${stack.parley.url}${path}`, {
      method,
      headers: { ...who.headers, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };

  const setPresence = (who: SignedIn, presence: 'available' | 'away' | 'offline') =>
    api(who, 'PUT', '/api/agents/me/presence', { presence });

  it('refuses an upgrade without valid credentials with 401, and takes cookie, Bearer or ?token=', async () => {
    const url = stack.parley.url;
    expect(await refusal(Feed.open(url))).toBe(401);
    expect(await refusal(Feed.open(url, { query: 'token=not-a-token' }))).toBe(401);
    expect(
      await refusal(Feed.open(url, { headers: { authorization: 'Bearer not-a-token' } })),
    ).toBe(401);
    expect(await refusal(Feed.open(url, { headers: { cookie: 'parley_session=nope' } }))).toBe(401);
    // Who is asking comes first: a malformed query tells an anonymous caller nothing.
    expect(await refusal(Feed.open(url, { query: 'after=-1' }))).toBe(401);
    expect(await refusal(Feed.open(url, { headers: sue.headers, query: 'after=-1' }))).toBe(400);

    const session = await createSession(stack.db, ada.user.id, 'session');
    const byCookie = await Feed.open(url, {
      headers: { cookie: `parley_session=${session.token}` },
    });
    await byCookie.ready();
    await byCookie.close();

    const apiToken = await createSession(stack.db, ada.user.id, 'api-token');
    const byQuery = await Feed.open(url, { query: `token=${apiToken.token}` });
    await byQuery.ready();
    await byQuery.close();

    const byBearer = await open(sue);
    await byBearer.ready();
    await byBearer.close();
  });

  it("sends an agent their conversations and offers but never another agent's; a supervisor gets all", async () => {
    const [sueFeed, adaFeed, bobFeed] = await Promise.all([open(sue), open(ada), open(bob)]);
    await Promise.all([sueFeed.ready(), adaFeed.ready(), bobFeed.ready()]);

    // Each agent starts a conversation of their own, assigned to them at once.
    const { number } = await stack.addNumber();
    const originate = async (who: SignedIn, body: string) =>
      (
        (await api(who, 'POST', '/api/originations', {
          to: phoneNumber(),
          numberId: number.id,
          body,
          strategy: 'assign-now',
        })) as { conversationId: string }
      ).conversationId;
    const adaConversation = await originate(ada, 'Hello from Ada');
    const bobConversation = await originate(bob, 'Hello from Bob');

    // A customer's conversation offered to Ada through her queue.
    const queue = await createQueue(stack.db, { name: 'Desk', memberIds: [ada.user.id] });
    const queued = await stack.addNumber({ flow: { name: 'To the desk', queueId: queue.id } });
    await setPresence(ada, 'available');
    const customer = phoneNumber();
    await stack.text(customer, queued.number.address, 'Is my order ready?');
    const offer = await adaFeed.event('offer.created', (e) => e.agentId === ada.user.id);
    const offered = offer.conversationId!;
    // While offered to her, the conversation's messages reach her live.
    await stack.text(customer, queued.number.address, 'It is order 1234');
    await adaFeed.event(
      'message.received',
      (e) => e.conversationId === offered && e.payload.body === 'It is order 1234',
    );

    await adaFeed.event('conversation.opened', (e) => e.conversationId === adaConversation);
    await adaFeed.event('origination.sent', (e) => e.conversationId === adaConversation);
    await bobFeed.event('conversation.opened', (e) => e.conversationId === bobConversation);
    await bobFeed.event('origination.sent', (e) => e.conversationId === bobConversation);

    // Markers: an event each agent sees, later in the log than everything above. Events come
    // in log order, so once a marker is in, nothing before it can still arrive.
    await setPresence(bob, 'away');
    const bobMarker = await bobFeed.event(
      'agent.presence-changed',
      (e) => e.agentId === bob.user.id,
    );
    await setPresence(ada, 'away');
    const adaMarker = await adaFeed.event(
      'agent.presence-changed',
      (e) => e.agentId === ada.user.id && e.payload.presence === 'away',
    );
    await sueFeed.until('both markers', (m) => m.seq >= Math.max(bobMarker.seq, adaMarker.seq));

    for (const event of adaFeed.events()) {
      expect(event.conversationId).not.toBe(bobConversation);
      expect(event.agentId).not.toBe(bob.user.id);
      expect(
        event.agentId === ada.user.id ||
          event.conversationId === adaConversation ||
          event.conversationId === offered,
      ).toBe(true);
    }
    for (const event of bobFeed.events()) {
      expect([adaConversation, offered]).not.toContain(event.conversationId);
      expect(event.agentId).not.toBe(ada.user.id);
    }
    const seenBySue = new Set(sueFeed.events().map((e) => `${e.type} ${e.conversationId}`));
    for (const conversationId of [adaConversation, bobConversation, offered]) {
      expect(seenBySue).toContain(`conversation.opened ${conversationId}`);
    }
    expect(seenBySue).toContain(`offer.created ${offered}`);
    expect(sueFeed.events().map((e) => e.seq)).toEqual(
      expect.arrayContaining([bobMarker.seq, adaMarker.seq]),
    );
    await Promise.all([sueFeed.close(), adaFeed.close(), bobFeed.close()]);
  });

  it('resumes after the last seq seen with exactly the missed events, in order', async () => {
    const cy = await signIn(stack.parley.store, 'agent', 'cy');
    const [sueFeed, cyFeed] = await Promise.all([open(sue), open(cy)]);
    await Promise.all([sueFeed.ready(), cyFeed.ready()]);
    await setPresence(cy, 'away');
    const seen = await cyFeed.event('agent.presence-changed', (e) => e.agentId === cy.user.id);
    await sueFeed.until('cy going away', (m) => m.seq >= seen.seq);
    await Promise.all([sueFeed.close(), cyFeed.close()]);
    const sueBefore = sueFeed.lastSeq;
    const cyBefore = cyFeed.lastSeq;
    const sueSeenBefore = sueFeed.events().map((e) => e.seq);

    // Missed while disconnected.
    await setPresence(cy, 'available');
    await setPresence(cy, 'offline');
    await setPresence(cy, 'away');

    const [sueAgain, cyAgain] = await Promise.all([open(sue, sueBefore), open(cy, cyBefore)]);
    const [sueReady, cyReady] = await Promise.all([sueAgain.ready(), cyAgain.ready()]);

    // The supervisor gets every event of the log in between, each once: no more, no less.
    const caughtUp = sueAgain.messages
      .slice(0, sueAgain.messages.indexOf(sueReady))
      .map((m) => m.seq);
    expect(caughtUp).toEqual(await seqsBetween(stack.parley.store, sueBefore, sueReady.seq));
    expect(caughtUp.filter((seq) => sueSeenBefore.includes(seq))).toEqual([]);

    // The agent gets the three presence changes, once each, in order, and nothing of others.
    const missed = cyAgain.messages.slice(0, cyAgain.messages.indexOf(cyReady)) as EventMessage[];
    expect(
      missed.flatMap((e) => (e.type === 'agent.presence-changed' ? [e.payload.presence] : [])),
    ).toEqual(['available', 'offline', 'away']);
    for (const event of missed) {
      expect(event.seq).toBeGreaterThan(cyBefore);
      expect(event.agentId).toBe(cy.user.id);
    }
    await Promise.all([sueAgain.close(), cyAgain.close()]);
  });

  it('is closed with 1001 (resume elsewhere) when Parley shuts down gracefully', async () => {
    const other = await Stack.start();
    const supervisor = await signIn(other.parley.store, 'supervisor', 'sam');
    const feed = await Feed.open(other.parley.url, { headers: supervisor.headers });
    await feed.ready();
    await other.close();
    expect((await feed.closed).code).toBe(CLOSE_CODES.goingAway);
  });
});

describe('the gateway on its own server, with only the poll to wake it', () => {
  let store: Store;
  let app: FastifyInstance;
  let gateway: RealtimeGateway;
  let sequencer: Worker;
  let url: string;
  let sue: SignedIn;
  const logLines: string[] = [];

  beforeAll(async () => {
    store = await openTestStore();
    const config = loadConfig({ LOG_LEVEL: 'info', PUBLIC_URL: 'http://127.0.0.1' });
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString());
          done();
        },
      }),
    );
    gateway = createRealtimeGateway({
      store,
      logger,
      listen: false,
      pollIntervalMs: 100,
      // Small pages, so catching up and tailing both take several reads.
      batchSize: 3,
      maxBufferedBytes: 64 * 1024,
      reauthenticateMs: 100,
    });
    sequencer = startEventSequencer({ store, logger });
    app = await buildServer({ ...serverDeps(store, config), logger, realtime: gateway });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    sue = await signIn(store, 'supervisor', 'sue');
  });
  afterAll(async () => {
    await app?.close();
    await gateway?.stop();
    await sequencer?.stop();
    await store?.close();
  });

  const presence = (agentId: string, value: 'available' | 'away') =>
    append(
      store,
      'agent.presence-changed',
      { agentId },
      {
        presence: value,
        previous: value === 'away' ? 'available' : 'away',
        byUserId: null,
      },
    );

  it('delivers events without notifications, live and when resuming, across pages', async () => {
    const live = await Feed.open(url, { headers: sue.headers });
    const start = (await live.ready()).seq;
    for (let i = 0; i < 7; i++) await presence(sue.user.id, i % 2 ? 'available' : 'away');
    const expected = await seqsBetween(store, start, Number.MAX_SAFE_INTEGER);
    expect(expected).toHaveLength(7);
    await live.until('the seventh event', (m) => m.seq === expected.at(-1));
    expect(live.events().map((e) => e.seq)).toEqual(expected);

    const resumed = await Feed.open(url, { headers: sue.headers, after: start });
    const ready = await resumed.ready();
    expect(ready.seq).toBe(expected.at(-1));
    expect(resumed.events().map((e) => e.seq)).toEqual(expected);
    await Promise.all([live.close(), resumed.close()]);
  });

  it('closes with 4400 a resume from beyond the end of the log', async () => {
    const feed = await Feed.open(url, { headers: sue.headers, after: 10_000_000 });
    expect((await feed.closed).code).toBe(CLOSE_CODES.badResume);
    expect(feed.messages).toEqual([]);
  });

  it('closes with 4401 once the session has ended', async () => {
    const session = await createSession(store.db, sue.user.id, 'session');
    const feed = await Feed.open(url, { headers: { cookie: `parley_session=${session.token}` } });
    await feed.ready();
    await endSession(store.db, session.id);
    expect((await feed.closed).code).toBe(CLOSE_CODES.unauthorized);
  });

  it('closes a client that stops reading once its backlog passes the limit; it resumes from its last seq', async () => {
    const slow = await Feed.open(url, { headers: sue.headers });
    const start = (await slow.ready()).seq;
    const connections = gateway.connections;
    slow.pause();
    // Far more than the socket buffers of the kernel and the 64 KiB allowed on top.
    const body = 'x'.repeat(16_000);
    for (let batch = 0; batch < 12; batch++) {
      await store.db.transaction(async (tx) => {
        for (let i = 0; i < 100; i++) {
          await appendEvent(
            tx,
            'message.received',
            {},
            { messageId: randomUUID(), from: '+15550000000', body, numMedia: 0 },
          );
        }
      });
    }
    const all = await seqsBetween(store, start, Number.MAX_SAFE_INTEGER);
    // Nothing announces the server's decision to the paused client: look at the gateway.
    await eventually(async () => gateway.connections < connections, 30_000);
    slow.resume();
    expect((await slow.closed).code).toBe(CLOSE_CODES.lagging);
    expect(slow.misordered).toEqual([]);
    const got = slow.events().map((e) => e.seq);
    expect(got.length).toBeLessThan(all.length);
    expect(got).toEqual(all.slice(0, got.length));

    const resumed = await Feed.open(url, { headers: sue.headers, after: slow.lastSeq });
    await resumed.until('the last event', (m) => m.seq === all.at(-1));
    expect([...got, ...resumed.events().map((e) => e.seq)]).toEqual(all);
    await resumed.close();
  });

  it('keeps a ?token= out of the request log', async () => {
    const { token } = await createSession(store.db, sue.user.id, 'api-token');
    const feed = await Feed.open(url, { query: `token=${token}` });
    await feed.ready();
    await feed.close();
    expect(logLines.some((line) => line.includes('/api/events?token=[redacted]'))).toBe(true);
    expect(logLines.filter((line) => line.includes(token))).toEqual([]);
  });

  // Last: the gateway stays stopped.
  it('closes its sockets with 1001 when stopped, and turns new ones away', async () => {
    const feed = await Feed.open(url, { headers: sue.headers });
    await feed.ready();
    await gateway.stop();
    expect((await feed.closed).code).toBe(CLOSE_CODES.goingAway);
    expect(gateway.connections).toBe(0);
    const late = await Feed.open(url, { headers: sue.headers });
    expect((await late.closed).code).toBe(CLOSE_CODES.goingAway);
    expect(late.messages).toEqual([]);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('two instances numbering one PostgreSQL log', () => {
  interface Instance {
    store: Store;
    app: FastifyInstance;
    gateway: RealtimeGateway;
    sequencer: Worker;
    url: string;
  }
  let first: Store & { databaseUrl?: string };
  const instances: Instance[] = [];
  let sue: SignedIn;

  const startInstance = async (store: Store): Promise<Instance> => {
    const config = loadConfig({ LOG_LEVEL: 'silent', PUBLIC_URL: 'http://127.0.0.1' });
    const logger = createLogger('silent');
    const gateway = createRealtimeGateway({ store, logger });
    const sequencer = startEventSequencer({ store, logger });
    const app = await buildServer({ ...serverDeps(store, config), logger, realtime: gateway });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { store, app, gateway, sequencer, url };
  };

  beforeAll(async () => {
    first = await openTestStore();
    const second = await openStore({ databaseUrl: first.databaseUrl });
    instances.push(await startInstance(first), await startInstance(second));
    sue = await signIn(first, 'supervisor', 'sue');
  });
  afterAll(async () => {
    for (const instance of instances) {
      await instance.app.close();
      await instance.gateway.stop();
      await instance.sequencer.stop();
    }
    await instances[1]?.store.close();
    await first?.close();
  });

  const presence = (tx: Tx, value: 'available' | 'away') =>
    appendEvent(
      tx,
      'agent.presence-changed',
      { agentId: sue.user.id },
      { presence: value, previous: value === 'away' ? 'available' : 'away', byUserId: null },
    );

  it('numbers events with no gap or repeat while both write; each client gets every one once, in order', async () => {
    const feeds = await Promise.all(
      instances.map((instance) => Feed.open(instance.url, { headers: sue.headers })),
    );
    const starts = await Promise.all(feeds.map(async (feed) => (await feed.ready()).seq));
    // Four writers per instance, each committing transactions of one to three events.
    const write = async (store: Store, writer: number) => {
      for (let t = 0; t < 25; t++) {
        await store.db.transaction(async (tx) => {
          for (let e = 0; e <= (t + writer) % 3; e++)
            await presence(tx, e % 2 ? 'away' : 'available');
        });
      }
    };
    await Promise.all(
      instances.flatMap((instance) => [0, 1, 2, 3].map((writer) => write(instance.store, writer))),
    );

    const all = await seqsBetween(first, 0, Number.MAX_SAFE_INTEGER);
    const last = all.at(-1)!;
    expect(all).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    const rows = await first.db
      .select({ id: events.id, xid: events.xid, seq: events.seq })
      .from(events)
      .orderBy(asc(events.seq));
    const logOrder = [...rows].sort((a, b) => Number(BigInt(a.xid) - BigInt(b.xid)) || a.id - b.id);
    expect(logOrder).toEqual(rows);
    for (const [i, feed] of feeds.entries()) {
      await feed.until('the last event', (m) => m.seq === last);
      expect(feed.events().map((e) => e.seq)).toEqual(all.filter((seq) => seq > starts[i]!));
    }
    await Promise.all(feeds.map((feed) => feed.close()));
  });

  it('numbers no event past a transaction still open; once it commits, delivers both in (xid, id) order', async () => {
    const [one, two] = instances as [Instance, Instance];
    const feed = await Feed.open(two.url, { headers: sue.headers });
    await feed.ready();
    let appended!: () => void;
    const inside = new Promise<void>((resolve) => {
      appended = resolve;
    });
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const early = one.store.db.transaction(async (tx) => {
      const id = await presence(tx, 'away');
      appended();
      await committing;
      return id;
    });
    await inside;
    let laterId: number;
    try {
      laterId = await two.store.db.transaction((tx) => presence(tx, 'available'));

      // The sequencer runs here too, once it has the lock: the later event must still wait.
      let run = await numberEvents(two.store.db);
      while (run.busy) run = await numberEvents(two.store.db);
      expect(run).toMatchObject({ busy: false, waiting: 1 });
      const [later] = await two.store.db.select().from(events).where(eq(events.id, laterId));
      expect(later!.seq).toBeNull();
      const readiness = (await (await fetch(`${one.url}/readyz`)).json()) as {
        eventLog: { unnumbered: number };
      };
      expect(readiness.eventLog.unnumbered).toBe(1);
    } finally {
      // Committed whatever happened above, so that closing the store does not wait for it.
      commit();
    }
    const earlyId = await early;
    await feed.event('agent.presence-changed', (e) => e.payload.presence === 'available');
    const rows = await one.store.db
      .select({ id: events.id, seq: events.seq })
      .from(events)
      .where(inArray(events.id, [earlyId, laterId]));
    const seqOf = (id: number) => rows.find((row) => row.id === id)!.seq!;
    expect(seqOf(laterId)).toBe(seqOf(earlyId) + 1);
    expect(feed.events().map((e) => e.seq)).toEqual([seqOf(earlyId), seqOf(laterId)]);
    await feed.close();
  });
});
