/**
 * How Parley's metrics (metrics.ts) are served, GET /metrics on the main port or on one of
 * its own, and the gauges read when scraped: what the database holds, read by one grouped
 * query each and the whole database's (every instance sharing it reports the same), the
 * live sockets, and the PostgreSQL pool.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { isLoopback, type MetricsConfig } from './config.js';
import { countOpenConversations } from './conversations/views.js';
import type { PoolUsage, Store } from './db/store.js';
import { AppError } from './errors.js';
import type { Metrics } from './metrics.js';
import { pendingOutboxBySender } from './outbound/outbox.js';
import { eventLogLag } from './realtime/sequencer.js';

export const METRICS_PATH = '/metrics';

/**
 * GET /metrics on the main port, behind the metrics token (METRICS_TOKEN without
 * METRICS_PORT). Never registered without a token: an unconfigured Parley answers 404.
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  deps: { metrics: Metrics; token: string },
): void {
  deps.metrics.collectProcessMetrics();
  app.get(
    METRICS_PATH,
    {
      schema: { hide: true },
      onRequest: async (request, reply) => {
        if (!carriesToken(request.headers.authorization, deps.token)) {
          reply.header('www-authenticate', 'Bearer realm="metrics"');
          throw new AppError('unauthorized', 'GET /metrics needs the metrics token as Bearer');
        }
      },
    },
    async (_request, reply) => {
      const { contentType, text } = await deps.metrics.exposition();
      return reply.type(contentType).header('cache-control', 'no-store').send(text);
    },
  );
}

export interface MetricsListener {
  /** http://host:port of the listener. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * /metrics on a port of its own (METRICS_PORT), bound to METRICS_HOST (loopback unless set):
 * for a scraper on a private network, away from the port the internet reaches. With
 * METRICS_TOKEN set it asks for the token there too. It serves nothing else.
 */
export async function startMetricsListener(
  metrics: Metrics,
  config: MetricsConfig & { port: number },
  logger: FastifyBaseLogger,
): Promise<MetricsListener> {
  metrics.collectProcessMetrics();
  const server: Server = createServer((request, response) => {
    const path = request.url?.split('?')[0];
    if (path !== METRICS_PATH || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
      return;
    }
    if (config.token !== undefined && !carriesToken(request.headers.authorization, config.token)) {
      response
        .writeHead(401, {
          'content-type': 'text/plain',
          'www-authenticate': 'Bearer realm="metrics"',
        })
        .end('Unauthorized\n');
      return;
    }
    metrics.exposition().then(
      ({ contentType, text }) => {
        response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'metrics: scrape failed');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const url =
    address && typeof address === 'object'
      ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      : `http://${config.host}:${config.port}`;
  logger.info({ url: `${url}${METRICS_PATH}` }, 'metrics listening');
  if (config.token === undefined && !isLoopback(config.host)) {
    // Sender numbers and queue names are in the figures.
    logger.warn(
      { metricsHost: config.host },
      '/metrics is reachable from the network without a token: set METRICS_TOKEN, or keep the port firewalled',
    );
  }
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * Counts the store's commits into the metrics and adds the gauges read at each scrape.
 * Returns a function that stops counting.
 */
export function watchParley(
  metrics: Metrics,
  sources: { store: Store; logger: FastifyBaseLogger; realtimeConnections: () => number },
): () => void {
  const { store, logger } = sources;
  const registers = [metrics.registry];
  // The gauges of a scrape collect concurrently; those reading the same figures share a read.
  const conversations = duringScrape(() => countOpenConversations(store.db));
  const outbox = duringScrape(() => pendingOutboxBySender(store.db));
  const lag = duringScrape(() => eventLogLag(store.db));
  const warn = (error: unknown) =>
    logger.warn({ err: error }, 'metrics: the database figures could not be read');

  databaseGauge({
    name: 'parley_conversations',
    help: 'Open conversations by queue and state (flow, queued, offered, active), database-wide',
    labelNames: ['queue', 'queue_id', 'state'],
    registers,
    read: async () =>
      (await conversations()).map((row) => ({
        labels: { queue: row.queueName ?? '', queue_id: row.queueId ?? '', state: row.state },
        value: row.count,
      })),
    warn,
  });
  databaseGauge({
    name: 'parley_outbox_pending',
    help: 'Messages waiting to be handed to Twilio (retries included), by sender, database-wide',
    labelNames: ['sender'],
    registers,
    read: async () =>
      (await outbox()).map((row) => ({ labels: { sender: row.sender }, value: row.pending })),
    warn,
  });
  databaseGauge({
    name: 'parley_event_log_unnumbered',
    help: 'Committed events the sequencer has not numbered yet, database-wide',
    labelNames: [],
    registers,
    read: async () => [{ labels: {}, value: (await lag()).unnumbered }],
    warn,
  });
  databaseGauge({
    name: 'parley_event_log_oldest_unnumbered_seconds',
    help: 'Age of the oldest committed event not numbered yet (0: none waits), database-wide',
    labelNames: [],
    registers,
    read: async () => [{ labels: {}, value: (await lag()).oldestMs / 1000 }],
    warn,
  });
  new Gauge({
    name: 'parley_realtime_connections',
    help: 'Live-event sockets (GET /api/events) open on this instance',
    registers,
    collect() {
      this.set(sources.realtimeConnections());
    },
  });
  if (store.poolUsage()) {
    const pool = (name: string, help: string, value: (usage: PoolUsage) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const usage = store.poolUsage();
          if (usage) this.set(value(usage));
        },
      });
    pool('parley_db_pool_connections', 'PostgreSQL connections open in the pool', (u) => u.total);
    pool('parley_db_pool_idle_connections', 'Pool connections idle', (u) => u.idle);
    pool('parley_db_pool_waiting_queries', 'Queries waiting for a connection', (u) => u.waiting);
    pool('parley_db_pool_max_connections', 'Size the pool may grow to', (u) => u.max);
  }
  return metrics.countCommits(store);
}

/** One call of read for all who ask while it runs: the gauges of one scrape share it. */
function duringScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => {
    running ??= read().finally(() => {
      running = undefined;
    });
    return running;
  };
}

/**
 * A gauge set from the database at each scrape. A series seen before and missing now reads
 * 0 (an emptied queue says 0 rather than vanishing); when the database cannot be read the
 * gauge has no series, rather than stale ones, and the rest of the scrape still answers.
 */
function databaseGauge<L extends string>(options: {
  name: string;
  help: string;
  labelNames: L[];
  registers: Registry[];
  read: () => Promise<{ labels: Record<L, string>; value: number }[]>;
  warn: (error: unknown) => void;
}): void {
  const seen = new Map<string, Record<L, string>>();
  new Gauge<L>({
    name: options.name,
    help: options.help,
    labelNames: options.labelNames,
    registers: options.registers,
    async collect() {
      let rows: { labels: Record<L, string>; value: number }[];
      try {
        rows = await options.read();
      } catch (error) {
        this.reset();
        options.warn(error);
        return;
      }
      for (const labels of seen.values()) this.set(labels, 0);
      for (const { labels, value } of rows) {
        seen.set(JSON.stringify(labels), labels);
        this.set(labels, value);
      }
    },
  });
}

/**
 * Whether an Authorization header carries the metrics token, compared in constant time
 * (of equal-length digests, so the token's length is not revealed either).
 */
export function carriesToken(authorization: string | undefined, token: string): boolean {
  const offered = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : '';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(offered), digest(token)) && offered !== '';
}
