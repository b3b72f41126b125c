/**
 * The realtime gateway of one process: the log tail and the live-event sockets it feeds.
 * A Worker, so graceful shutdown stops the tail and closes the sockets with a code that
 * tells clients to resume, from where they were, on another instance or after the restart.
 * Each socket is its user's desk: the gateway records in the database, on connect, on close
 * and every deskRefreshMs while open, that it was seen (routing/desks.ts), which keeps
 * their presence.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AuthUser } from '../auth/sessions.js';
import { DEFAULT_PRESENCE_GRACE_SECONDS } from '../config.js';
import type { Store } from '../db/store.js';
import { CLOSE_CODES } from '../events.js';
import { deskRefreshMs, recordDesksSeen } from '../routing/desks.js';
import type { Worker } from '../worker-loop.js';
import { startLoopWorker } from '../worker-loop.js';
import { Connection, type GatewaySocket } from './connection.js';
import { LogTail } from './tailer.js';

export interface RealtimeGatewayOptions {
  store: Store;
  logger: FastifyBaseLogger;
  /** How often the log is read without a notification. */
  pollIntervalMs?: number;
  /** Events per read of the log, live and while catching up. */
  batchSize?: number;
  /** Bytes waiting to go out to one client beyond which it is closed as lagging. */
  maxBufferedBytes?: number;
  heartbeatMs?: number;
  reauthenticateMs?: number;
  /** False: rely on the poll alone (tests). */
  listen?: boolean;
  /** How often the users with a socket here are recorded as having their desk open. */
  deskRefreshMs?: number;
}

/** An authenticated client of GET /api/events. */
export interface RealtimeClient {
  user: AuthUser;
  /** The session or API token it signed in with, checked again while connected. */
  token: string;
  /** Resume after this seq; undefined: from now. */
  after: number | undefined;
  /** The upgrade request's logger: the socket's lines carry its request and trace ids. */
  log?: FastifyBaseLogger;
}

export interface RealtimeGateway extends Worker {
  /** Serves an upgraded socket until it closes. */
  accept(socket: GatewaySocket, client: RealtimeClient): void;
  /** Open connections, catching up or live. */
  readonly connections: number;
}

export function createRealtimeGateway(options: RealtimeGatewayOptions): RealtimeGateway {
  const logger = options.logger.child({ worker: 'realtime' });
  const batchSize = options.batchSize ?? 500;
  const tail = new LogTail({
    store: options.store,
    logger,
    pollIntervalMs: options.pollIntervalMs ?? 500,
    batchSize,
    listen: options.listen ?? true,
  });
  const connections = new Set<Connection>();
  let stopped = false;

  // Users whose socket here closed since the last record: recorded once more, so their grace
  // period counts from the close.
  const closed = new Set<string>();
  const recordDesks = async () => {
    const userIds = new Set([...connections].map((connection) => connection.viewer.id));
    for (const userId of closed) userIds.add(userId);
    const recorded = [...closed];
    await recordDesksSeen(options.store.db, [...userIds]);
    for (const userId of recorded) closed.delete(userId);
  };
  const desks = startLoopWorker({
    name: 'desks',
    intervalMs: options.deskRefreshMs ?? deskRefreshMs(DEFAULT_PRESENCE_GRACE_SECONDS),
    logger,
    tick: async () => {
      await recordDesks();
      return false;
    },
  });

  return {
    name: 'realtime',
    get connections() {
      return connections.size;
    },
    accept(socket, client) {
      if (stopped) {
        socket.close(
          CLOSE_CODES.goingAway,
          'server shutting down; reconnect with after=<last seq>',
        );
        return;
      }
      const connection = new Connection(socket, client.user, client.token, {
        db: options.store.db,
        tail,
        logger: client.log?.child({ worker: 'realtime' }) ?? logger,
        pageSize: batchSize,
        maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
        heartbeatMs: options.heartbeatMs ?? 30_000,
        reauthenticateMs: options.reauthenticateMs ?? 60_000,
        onEnd: (ended) => {
          connections.delete(ended);
          closed.add(ended.viewer.id);
          desks.wake();
        },
      });
      connections.add(connection);
      desks.wake();
      // start() reports its own failures on the socket.
      void connection.start(client.after);
    },
    stop: async () => {
      stopped = true;
      for (const connection of [...connections]) {
        connection.close(
          CLOSE_CODES.goingAway,
          'server shutting down; reconnect with after=<last seq>',
        );
      }
      await Promise.all([tail.stop(), desks.stop()]);
      // What closed while the last record ran: stamped now, before the store closes.
      await recordDesks().catch((error: unknown) =>
        logger.warn({ err: error }, 'could not record the desks closed at shutdown'),
      );
    },
  };
}
