import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { credentialOf } from '../auth/guard.js';
import { authenticateToken } from '../auth/sessions.js';
import type { Store } from '../db/store.js';
import { AppError } from '../errors.js';
import { CLOSE_CODES } from '../events.js';
import type { GatewaySocket } from './connection.js';
import { createRealtimeGateway, type RealtimeGateway } from './gateway.js';

export interface RealtimeRoutesDeps {
  store: Store;
  logger: FastifyBaseLogger;
  /** The process's gateway (a worker of startParley); absent: one stopped with the server. */
  gateway?: RealtimeGateway | undefined;
}

const eventsQuery = z.object({
  after: z.coerce
    .number({ error: 'after must be the seq of the last event handled' })
    .int({ error: 'after must be the seq of the last event handled' })
    .min(0, { error: 'after must be the seq of the last event handled' })
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
  /** An API token, for clients that can set neither a header nor a cookie. */
  token: z.string().min(1).optional(),
});

/**
 * GET /api/events: the live event stream over a WebSocket (protocol in protocol.ts).
 * Authenticated like the REST API, by session cookie or Bearer token, or `?token=`; an
 * unauthenticated upgrade is answered 401 and never becomes a socket. Returns the gateway
 * that serves the sockets.
 */
export function registerRealtimeRoutes(
  parent: FastifyInstance,
  deps: RealtimeRoutesDeps,
): RealtimeGateway {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  // A server built without startParley (tests, tools) gets a gateway of its own; its tail
  // starts only when a client connects.
  const gateway = deps.gateway ?? createRealtimeGateway({ store: deps.store, logger: deps.logger });
  if (!deps.gateway) parent.addHook('onClose', () => gateway.stop());
  // The token each upgraded request signed in with, for the connection to check again.
  const tokens = new WeakMap<FastifyRequest, string>();

  app.get(
    '/api/events',
    {
      websocket: true,
      // The query may carry a token: keep it out of the request log.
      logSerializers: { req: requestWithoutToken },
      // On request, before the query is validated: an anonymous caller gets 401 whatever
      // it sends. The query is still the raw parsed one here.
      onRequest: async (request) => {
        let token = credentialOf(request)?.token;
        const queryToken = (request.query as { token?: unknown }).token;
        if (!request.user && typeof queryToken === 'string' && queryToken) {
          token = queryToken;
          request.user = (await authenticateToken(deps.store.db, token, 'api-token')) ?? null;
        }
        if (!request.user || !token) throw new AppError('unauthorized', 'sign in first');
        tokens.set(request, token);
      },
      schema: { querystring: eventsQuery },
    },
    (socket: GatewaySocket, request) => {
      const token = tokens.get(request);
      if (!request.user || !token) {
        // onRequest refused these before the upgrade; never serve a socket without a user.
        socket.close(CLOSE_CODES.unauthorized, 'sign in first');
        return;
      }
      gateway.accept(socket, {
        user: request.user,
        token,
        after: request.query.after,
        log: request.log,
      });
    },
  );
  return gateway;
}

function requestWithoutToken(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url.replace(/([?&]token=)[^&]*/g, '$1[redacted]'),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket.remotePort,
  };
}

/**
 * The WebSocket plugin's preClose: closes every socket with 1001 (going away), so that live
 * clients know to resume, from their last seq, on another instance or after the restart;
 * the plugin's default closes them without a code. New upgrades meanwhile get Fastify's 503.
 */
export async function closeWebSockets(this: FastifyInstance): Promise<void> {
  const clients: Iterable<{ close(code: number, reason: string): void }> =
    this.websocketServer.clients;
  for (const client of clients) client.close(CLOSE_CODES.goingAway, 'server shutting down');
}
