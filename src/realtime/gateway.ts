/**
 * The realtime gateway of one process: the log tail and the live-event sockets it feeds.
 * A Worker, so graceful shutdown stops the tail and closes the sockets with a code that
 * tells clients to resume, from where they were, on another instance or after the restart.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AuthUser } from '../auth/sessions.js';
import type { Store } from '../db/store.js';
import type { Worker } from '../parley.js';
import { Connection, type GatewaySocket } from './connection.js';
import { CLOSE_CODES } from './protocol.js';
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
}

/** An authenticated client of GET /api/events. */
export interface RealtimeClient {
  user: AuthUser;
  /** The session or API token it signed in with, checked again while connected. */
  token: string;
  /** Resume after this seq; undefined: from now. */
  after: number | undefined;
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
        logger,
        pageSize: batchSize,
        maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
        heartbeatMs: options.heartbeatMs ?? 30_000,
        reauthenticateMs: options.reauthenticateMs ?? 60_000,
        onEnd: (ended) => connections.delete(ended),
      });
      connections.add(connection);
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
      await tail.stop();
    },
  };
}
