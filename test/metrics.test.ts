import { Writable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/channels/twilio/webhooks.js';
import { loadConfig } from '../src/config.js';
import { conversations } from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import { createLogger, traceIdOf } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { startMetricsListener } from '../src/metrics.routes.js';
import { acceptOffer, rejectOffer } from '../src/routing/index.js';
import { buildServer } from '../src/server.js';
import { serverDeps, signIn } from './helpers/app.js';
import {
  buildAgent,
  buildQueue,
  expireOfferNow,
  hex,
  pendingOffer,
  phoneNumber,
} from './helpers/factories.js';
import { type Exposition, parseExposition, total, typeOf } from './helpers/prometheus.js';
import { eventually, Stack } from './helpers/stack.js';
import { openTestStore } from './helpers/store.js';
import { WebSocket } from './helpers/ws.js';

const TOKEN = `metrics-${hex(16)}`;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

async function scrape(url: string, token: string | undefined = TOKEN): Promise<Exposition> {
  const response = await fetch(`${url}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

/** Scrapes until the figures satisfy check (counters move once answers are sent). */
async function scrapeUntil(
  url: string,
  check: (samples: Exposition) => boolean,
): Promise<Exposition> {
  let last: Exposition | undefined;
  try {
    return await eventually(async () => {
      last = await scrape(url);
      return check(last) && last;
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last scrape: ${JSON.stringify(last?.samples)}`);
  }
}

describe('GET /metrics on the main port, behind METRICS_TOKEN', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ METRICS_TOKEN: TOKEN, OUTBOX_RETRY_BASE_MS: '10' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers 401 without the token or with another one, and the figures with it', async () => {
    const url = stack.parley.url;
    const without = await fetch(`${url}/metrics`);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    const wrong = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain(TOKEN);
    const samples = await scrape(url);
    expect(typeOf(samples, 'parley_webhooks_received_total')).toBe('counter');
    expect(typeOf(samples, 'parley_webhook_duration_seconds')).toBe('histogram');
    expect(typeOf(samples, 'parley_conversations')).toBe('gauge');
    expect(typeOf(samples, 'parley_event_log_unnumbered')).toBe('gauge');
    expect(total(samples, 'parley_event_log_oldest_unnumbered_seconds')).toBeGreaterThanOrEqual(0);
    // Node's own figures, event-loop lag among them.
    expect(typeOf(samples, 'nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(total(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // The pool is PostgreSQL's; the embedded store has none to report.
    expect(typeOf(samples, 'parley_db_pool_max_connections')).toBe(
      stack.parley.store.kind === 'postgres' ? 'gauge' : undefined,
    );
    if (stack.parley.store.kind === 'postgres') {
      expect(total(samples, 'parley_db_pool_max_connections')).toBe(10);
      expect(total(samples, 'parley_db_pool_connections')).toBeGreaterThan(0);
    }
  });

  it('moves with real webhooks, offers, sends and sockets', async () => {
    const url = stack.parley.url;
    const [first, second] = [await buildAgent(stack.db), await buildAgent(stack.db)];
    const queue = await buildQueue(stack.db, [first!, second!]);
    const { number } = await stack.addNumber({
      flow: { name: `Metrics ${hex(2)}`, queueId: queue.id, initialMessage: 'Welcome!' },
    });
    const before = await scrape(url);
    const inQueue = (samples: Exposition, state: string) =>
      total(samples, 'parley_conversations', { queue: queue.name, state });
    expect(inQueue(before, 'offered') + inQueue(before, 'active')).toBe(0);

    // Twilio refuses the first welcome once (429); the dispatcher retries it.
    await stack.control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: '429',
      count: 1,
    });
    const handsets = [phoneNumber(), phoneNumber(), phoneNumber()];
    for (const handset of handsets) await stack.text(handset, number.address, 'hello');
    for (const handset of handsets) await stack.received(handset, 'Welcome!');
    const unsigned = await fetch(`${url}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: number.address, From: phoneNumber(), Body: 'x' }).toString(),
    });
    expect(unsigned.status).toBe(403);

    // Each conversation offered: accept one, reject one, let one time out.
    const [accepted, rejected, timedOut] = await eventually(async () => {
      const offers = await Promise.all(
        handsets.map(async (handset) => {
          const [row] = await stack.db
            .select({ id: conversations.id })
            .from(conversations)
            .where(
              and(
                eq(conversations.customerAddress, handset),
                eq(conversations.numberId, number.id),
              ),
            );
          return row && pendingOffer(stack.db, row.id);
        }),
      );
      return offers.every(Boolean) && offers;
    });
    await acceptOffer(stack.db, accepted!.id, accepted!.agentId);
    await rejectOffer(stack.db, rejected!.id, rejected!.agentId);
    await expireOfferNow(stack.db, timedOut!.id);

    const delta = (after: Exposition, name: string, labels: Record<string, string> = {}) =>
      total(after, name, labels) - total(before, name, labels);
    const after = await scrapeUntil(
      url,
      (s) =>
        delta(s, 'parley_webhooks_received_total', { kind: 'message' }) === 4 &&
        delta(s, 'parley_offers_total', { outcome: 'timed_out' }) === 1 &&
        delta(s, 'parley_webhooks_received_total', { kind: 'status' }) > 0,
    );
    expect(delta(after, 'parley_webhooks_refused_total', { kind: 'message' })).toBe(1);
    // The unsigned text names a number Parley has: refused for its signature.
    expect(
      delta(after, 'parley_webhooks_refused_total', { kind: 'message', reason: 'bad_signature' }),
    ).toBe(1);
    expect(delta(after, 'parley_webhook_duration_seconds_count', { kind: 'message' })).toBe(4);
    expect(
      delta(after, 'parley_webhook_duration_seconds_sum', { kind: 'message' }),
    ).toBeGreaterThan(0);
    expect(
      delta(after, 'parley_webhook_duration_seconds_bucket', { kind: 'message', le: '+Inf' }),
    ).toBe(4);
    // Three offered at first, then the rejected and the timed-out one again.
    expect(delta(after, 'parley_offers_total', { outcome: 'created' })).toBeGreaterThanOrEqual(3);
    expect(delta(after, 'parley_offers_total', { outcome: 'accepted' })).toBe(1);
    expect(delta(after, 'parley_offers_total', { outcome: 'rejected' })).toBe(1);
    expect(delta(after, 'parley_offer_wait_seconds_count')).toBeGreaterThanOrEqual(3);
    const sender = { sender: number.address };
    expect(delta(after, 'parley_send_duration_seconds_count', sender)).toBe(4);
    expect(delta(after, 'parley_send_duration_seconds_sum', sender)).toBeGreaterThan(0);
    expect(delta(after, 'parley_twilio_errors_total', { code: '20429' })).toBe(1);
    expect(inQueue(after, 'active')).toBe(1);
    expect(inQueue(after, 'offered') + inQueue(after, 'queued')).toBe(2);

    // The outbox of a long code (1/s) fills, then drains at its pace.
    const { number: slow } = await stack.addNumber();
    await stack.fillOutbox([slow, slow, slow, slow], 'paced');
    const pending = (samples: Exposition) =>
      total(samples, 'parley_outbox_pending', { sender: slow.address });
    await scrapeUntil(url, (s) => pending(s) >= 2);
    await scrapeUntil(url, (s) => pending(s) === 0);

    // A live-events socket open, then closed.
    const agent = await signIn(stack.parley.store, 'agent');
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api/events`, {
      headers: agent.headers,
    });
    await new Promise<void>((resolve, reject) => {
      socket.on('open', resolve);
      socket.on('error', reject);
    });
    await scrapeUntil(url, (s) => total(s, 'parley_realtime_connections') === 1);
    socket.close();
    await scrapeUntil(url, (s) => total(s, 'parley_realtime_connections') === 0);
  });
});

describe('GET /metrics on a port of its own (METRICS_PORT)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ METRICS_PORT: '0' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves the figures there, on loopback, and not on the main port', async () => {
    const listener = stack.parley.metricsListener!;
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const samples = await scrape(listener.url, undefined);
    expect(typeOf(samples, 'parley_webhooks_received_total')).toBe('counter');
    expect(typeOf(samples, 'nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect((await fetch(`${listener.url}/`)).status).toBe(404);
    expect((await fetch(`${listener.url}/api/events`)).status).toBe(404);
    const main = await fetch(`${stack.parley.url}/metrics`);
    expect(main.status).toBe(404);
  });

  it('asks for METRICS_TOKEN there too when it is set', async () => {
    const listener = await startMetricsListener(
      new Metrics(),
      { port: 0, host: '127.0.0.1', token: TOKEN },
      createLogger('silent'),
    );
    try {
      expect((await fetch(`${listener.url}/metrics`)).status).toBe(401);
      const wrong = await fetch(`${listener.url}/metrics`, {
        headers: { authorization: 'Bearer not-the-token-at-all' },
      });
      expect(wrong.status).toBe(401);
      expect(typeOf(await scrape(listener.url), 'parley_offers_total')).toBe('counter');
    } finally {
      await listener.close();
    }
  });
});

describe('a server without METRICS_TOKEN or METRICS_PORT; request and trace ids', () => {
  let store: Store;
  let baseUrl: string;
  let closeServer: () => Promise<void>;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    store = await openTestStore();
    const config = loadConfig({ LOG_LEVEL: 'info', PUBLIC_URL: 'https://parley.test' });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line));
        }
        done();
      },
    });
    const app = await buildServer({
      ...serverDeps(store, config),
      logger: createLogger('info', sink),
    });
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    closeServer = () => app.close();
  });
  afterAll(async () => {
    await closeServer?.();
    await store?.close();
  });

  it('has no /metrics at all', async () => {
    const response = await fetch(`${baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(404);
  });

  /** An unsigned webhook (refused, with a warning) and the log lines of its request. */
  async function refusedWebhook(headers: Record<string, string>) {
    const response = await fetch(`${baseUrl}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ To: phoneNumber(), From: phoneNumber() }).toString(),
    });
    expect(response.status).toBe(403);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const ofRequest = await eventually(async () => {
      const found = lines.filter((line) => line.reqId === requestId);
      return found.some((line) => line.msg === 'request completed') && found;
    });
    const refusal = ofRequest.find((line) => line.msg === 'Twilio webhook refused');
    expect(refusal).toBeDefined();
    return { requestId, lines: ofRequest, refusal: refusal! };
  }

  it("puts the request id and the caller's trace id on every line of the request", async () => {
    const { lines: ofRequest, refusal } = await refusedWebhook({
      traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
    });
    expect(refusal.traceId).toBe(TRACE_ID);
    expect(ofRequest.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['incoming request', 'Twilio webhook refused', 'request completed']),
    );
    expect(ofRequest.every((line) => line.traceId === TRACE_ID)).toBe(true);
  });

  it('gives a request without a valid traceparent a trace id of its own', async () => {
    const a = await refusedWebhook({});
    const b = await refusedWebhook({
      traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    });
    expect(a.refusal.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(b.refusal.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(b.refusal.traceId).not.toBe('00000000000000000000000000000000');
    expect(a.refusal.traceId).not.toBe(b.refusal.traceId);
  });

  it('takes the request id a proxy sends, and answers with it', async () => {
    const { requestId, refusal } = await refusedWebhook({ 'x-request-id': 'edge-42' });
    expect(requestId).toBe('edge-42');
    expect(refusal.reqId).toBe('edge-42');
  });

  it.each([
    ['too long', 'x'.repeat(129)],
    ['with spaces and quotes', 'a" level=admin msg="forged'],
  ])('replaces a request id %s with its own', async (_, sent) => {
    const { requestId, refusal } = await refusedWebhook({ 'x-request-id': sent });
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(refusal.reqId).toBe(requestId);
  });

  it.each([
    [`00-${TRACE_ID}-00f067aa0ba902b7-01`, TRACE_ID],
    [`01-${TRACE_ID}-00f067aa0ba902b7-01-future`, TRACE_ID],
    [`00-${TRACE_ID}-00f067aa0ba902b7-01-extra`, undefined],
    [`ff-${TRACE_ID}-00f067aa0ba902b7-01`, undefined],
    [`00-${TRACE_ID.toUpperCase()}-00f067aa0ba902b7-01`, undefined],
    [`00-${TRACE_ID}-0000000000000000-01`, undefined],
    ['garbage', undefined],
  ])('reads traceparent %s as %s', (header, traceId) => {
    expect(traceIdOf(header)).toBe(traceId);
  });
});
