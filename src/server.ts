import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type PrepareNumberOnTwilio, registerAdminRoutes } from './admin/admin.routes.js';
import { apiErrorSchema } from './api-schemas.js';
import { registerAuditRoutes } from './audit/audit.routes.js';
import { registerAuthRoutes } from './auth/auth.routes.js';
import { registerAuthentication } from './auth/guard.js';
import { registerOidcRoutes } from './auth/oidc.routes.js';
import { registerBackupRoutes } from './backup/backup.routes.js';
import type { TwilioClients } from './channels/twilio/clients.js';
import type { Config } from './config.js';
import { registerContactRoutes } from './contacts/contacts.routes.js';
import { registerContentRoutes } from './content/content.routes.js';
import { registerConversationRoutes } from './conversations/conversations.routes.js';
import { type ConfigCache, followConfigChanges } from './db/config-cache.js';
import type { Store } from './db/store.js';
import { AppError, errorCodeOf } from './errors.js';
import { closeConversation, closeConversations } from './flows/closing.js';
import { registerFlowRoutes } from './flows/flows.routes.js';
import type { InboundKicks } from './inbound/receive.js';
import { registerWebhookRoutes } from './inbound/webhooks.routes.js';
import { requestLoggerWithTrace } from './logger.js';
import { registerMediaRoutes } from './media/media.routes.js';
import type { MediaStore } from './media/media-store.js';
import { Metrics } from './metrics.js';
import { registerMetricsRoute, watchParley } from './metrics.routes.js';
import { registerOutboundRoutes } from './outbound/outbound.routes.js';
import type { RealtimeGateway } from './realtime/gateway.js';
import { closeWebSockets, registerRealtimeRoutes } from './realtime/realtime.routes.js';
import { eventLogLag } from './realtime/sequencer.js';
import { registerReportRoutes } from './reports/reports.routes.js';
import { requestProblems } from './request-problems.js';
import { setPresence } from './routing/index.js';
import { registerRoutingRoutes } from './routing/routing.routes.js';
import { registerSearchRoutes } from './search/search.routes.js';
import type { SecretBox } from './secret-box.js';
import { registerSecurityHeaders } from './security-headers.js';
import { findWebRoot, registerWebApp } from './web-app.js';

export interface ServerDeps {
  config: Config;
  store: Store;
  logger: FastifyBaseLogger;
  secretBox: SecretBox;
  mediaStore: MediaStore;
  clients: TwilioClients;
  /** Lookups the webhooks make, kept until any instance announces a configuration change. */
  configCache: ConfigCache;
  /** Wake-ups for the workers that take over after a webhook's answer. */
  kicks: InboundKicks;
  /** The process's live-event gateway (a worker); absent: the server makes its own. */
  realtime?: RealtimeGateway;
  /** Where the built web app is; absent: found next to the server; '': none. */
  webRoot?: string;
  /** The demo's: numbers an admin adds are made to exist on its emulated Twilio first. */
  prepareNumberOnTwilio?: PrepareNumberOnTwilio | undefined;
  /** The process's metrics, shared with its workers; absent: the server keeps its own. */
  metrics?: Metrics;
}

/**
 * A request id a proxy sent, when it is one: a short token (a UUID, `edge-42`). Anything
 * else (a kilobyte, a list, spaces or quotes meant for a log reader) is replaced by our own,
 * since the id is written into every log line of the request and sent back.
 */
function proxysRequestId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && /^[\w.:@/+=-]{1,128}$/.test(header) ? header : undefined;
}

const storeKind = z.enum(['pglite', 'postgres'] satisfies Store['kind'][]);

/** The Fastify app assembled from Parley's modules; listening is the caller's business. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? new Metrics();
  const app = Fastify({
    loggerInstance: deps.logger,
    // A person at a terminal reads what happens, not a line per request; collectors get both.
    logController: new LogController({ disableRequestLogging: deps.config.logFormat === 'pretty' }),
    requestIdHeader: false,
    genReqId: (request) => proxysRequestId(request.headers['x-request-id']) ?? randomUUID(),
    childLoggerFactory: requestLoggerWithTrace,
    // Keep-alive sockets would otherwise hold a graceful shutdown open until they time out.
    forceCloseConnections: 'idle',
    // A URL the router cannot take (malformed, a parameter over its length): the API's shape.
    frameworkErrors: (error, request, reply) => {
      request.log.info({ err: error }, 'request refused');
      const status = error.statusCode ?? 400;
      (reply as FastifyReply)
        .status(status)
        .send({ error: errorCodeOf(status), message: error.message });
    },
  });

  // Responses finished while closing end their connection, so that keep-alive clients
  // cannot hold a graceful shutdown open.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });
  // A response whose headers went before close() began (a picture streaming, say) was
  // neither idle then nor told to close: once it ends, its socket would wait out the
  // keep-alive timeout (72 s) and hold the shutdown with it. Ended, not destroyed, and only
  // this one: its bytes are with the kernel, another's may not be.
  app.addHook('onResponse', async (request) => {
    if (closing) request.raw.socket?.end();
  });
  registerSecurityHeaders(app, deps.config.publicUrl);

  // API routes take JSON only: a form or text body is what a page of another site can make a
  // browser send without asking (CSRF), so those parsers exist in the webhooks' scope alone.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Every documented route answers errors in one shape; declared here once, not per route.
  app.addHook('onRoute', (route) => {
    if (!route.schema || route.schema.hide) return;
    route.schema.response = {
      '4xx': apiErrorSchema,
      '5xx': apiErrorSchema,
      ...(route.schema.response as object | undefined),
    };
  });

  app.setErrorHandler((error, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors = requestProblems(error.validation, error.validationContext);
      const message = errors.map((problem) => problem.message).join(' ');
      const field = errors[0]?.field;
      request.log.info({ field, message }, 'request refused');
      return reply.status(400).send({ error: 'bad_request', message, field, errors });
    }
    if (error instanceof AppError) {
      return reply
        .status(error.status)
        .send({ error: error.code, message: error.message, field: error.field });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      request.log.info({ err: error }, 'request refused');
      return reply
        .status(status)
        .send({ error: errorCodeOf(status), message: (error as Error).message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply
      .status(500)
      .send({ error: 'internal', message: 'Internal error', requestId: request.id });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Parley API', version: '0.1.0' },
      servers: [{ url: deps.config.publicUrl }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'parley_session' },
        },
      },
      security: [{ bearer: [] }, { cookie: [] }],
    },
    transform: jsonSchemaTransform,
    // Schemas with a `.meta({ id })` become components, named in the generated web types.
    transformObject: (document) => withoutUnusedSchemas(jsonSchemaTransformObject(document)),
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is up',
        tags: ['health'],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'The database answers; how many committed events wait for their seq',
        tags: ['health'],
        response: {
          200: z.object({
            status: z.literal('ready'),
            store: storeKind,
            eventLog: z.object({ unnumbered: z.number(), oldestMs: z.number() }),
          }),
          503: z.object({
            status: z.literal('unavailable'),
            store: storeKind,
          }),
        },
      },
    },
    async (request, reply) => {
      try {
        await deps.store.ping();
        // Events wait while a transaction older than theirs runs; see realtime/sequencer.ts.
        const eventLog = await eventLogLag(deps.store.db);
        return { status: 'ready' as const, store: deps.store.kind, eventLog };
      } catch (error) {
        request.log.warn({ err: error }, 'database does not answer');
        return reply.status(503).send({ status: 'unavailable' as const, store: deps.store.kind });
      }
    },
  );

  // Live events; clients send nothing on that socket, so a small message limit.
  await app.register(websocket, { options: { maxPayload: 4096 }, preClose: closeWebSockets });

  registerAuthentication(app, { db: deps.store.db, publicUrl: deps.config.publicUrl });
  // Twilio posts form bodies (the params are needed as they came to check the signature);
  // the webhooks alone parse them.
  await app.register(async (webhooks) => {
    await webhooks.register(formbody);
    registerWebhookRoutes(webhooks, {
      db: deps.store.db,
      secretBox: deps.secretBox,
      publicUrl: deps.config.publicUrl,
      webhookFallbackUrl: deps.config.webhookFallbackUrl,
      kicks: deps.kicks,
      configCache: deps.configCache,
      metrics,
    });
  });
  const stopFollowingConfig = await followConfigChanges(deps.store, deps.configCache, deps.logger);
  app.addHook('onClose', stopFollowingConfig);
  registerMediaRoutes(app, { db: deps.store.db, mediaStore: deps.mediaStore });
  registerBackupRoutes(app, { store: deps.store, dataDir: deps.config.dataDir });
  registerConversationRoutes(app, { db: deps.store.db });
  registerContactRoutes(app, { db: deps.store.db, clients: deps.clients });
  registerRoutingRoutes(app, { db: deps.store.db, closeConversation });
  const realtime = registerRealtimeRoutes(app, {
    store: deps.store,
    logger: deps.logger,
    gateway: deps.realtime,
  });
  const unwatch = watchParley(metrics, {
    store: deps.store,
    logger: deps.logger,
    realtimeConnections: () => realtime.connections,
  });
  app.addHook('onClose', async () => unwatch());
  // With METRICS_PORT, /metrics is served by a listener of its own (startParley), not here.
  if (deps.config.metrics?.token && deps.config.metrics.port === undefined) {
    registerMetricsRoute(app, { metrics, token: deps.config.metrics.token });
  }
  registerOutboundRoutes(app, {
    db: deps.store.db,
    secretBox: deps.secretBox,
    mediaStore: deps.mediaStore,
  });
  registerAdminRoutes(app, {
    db: deps.store.db,
    secretBox: deps.secretBox,
    clients: deps.clients,
    publicUrl: deps.config.publicUrl,
    closeConversations,
    webhookFallbackUrl: deps.config.webhookFallbackUrl,
    prepareNumberOnTwilio: deps.prepareNumberOnTwilio,
  });
  registerFlowRoutes(app, { db: deps.store.db });
  registerSearchRoutes(app, { db: deps.store.db });
  registerContentRoutes(app, { db: deps.store.db, clients: deps.clients });
  registerReportRoutes(app, { db: deps.store.db });
  registerAuditRoutes(app, { db: deps.store.db });
  registerOidcRoutes(app, {
    db: deps.store.db,
    secretBox: deps.secretBox,
    publicUrl: deps.config.publicUrl,
    secureCookies: deps.config.publicUrl.startsWith('https:'),
    oidc: deps.config.oidc,
    passwordSignIn: deps.config.passwordSignIn,
  });
  registerAuthRoutes(app, {
    db: deps.store.db,
    secureCookies: deps.config.publicUrl.startsWith('https:'),
    passwordSignIn: deps.config.passwordSignIn,
    lastSessionEnded: async (userId) => {
      await setPresence(deps.store.db, userId, 'offline', userId);
    },
  });
  await registerWebApp(app, deps.webRoot === undefined ? findWebRoot() : deps.webRoot || undefined);

  return app;
}

/**
 * The transform names each component twice, as read (`X`) and as written (`XInput`); keep
 * those a route refers to (responses are read, bodies written), so the document and the
 * web app's types name each shape once.
 */
function withoutUnusedSchemas<T extends object>(document: T): T {
  const components = (document as { components?: { schemas?: Record<string, unknown> } })
    .components;
  const schemas = components?.schemas;
  if (!schemas) return document;
  const referenced = (value: unknown) => {
    const text = JSON.stringify(value);
    return new Set([...text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]));
  };
  const used = referenced({ ...document, components: { ...components, schemas: {} } });
  // Components may refer to each other.
  for (let grew = true; grew; ) {
    grew = false;
    for (const name of [...used]) {
      for (const inner of referenced(schemas[name as string])) {
        if (!used.has(inner)) {
          used.add(inner);
          grew = true;
        }
      }
    }
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...document, components: { ...components, schemas: kept } };
}
