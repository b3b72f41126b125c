/**
 * Load of signed incoming-message webhooks, as Twilio sends them, for the benchmarks: every
 * request a fresh MessageSid to one business number, from one of `handsets` customer
 * numbers whose conversations are opened first (`existing`), or from a new customer each
 * time (`new`: every request opens a conversation and runs the flow's hand-over).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import autocannon from 'autocannon';
import twilio from 'twilio';

export interface WebhookLoad {
  /** Where the requests go. */
  url: string;
  /** The URL Twilio signs, as Parley is configured to see itself. */
  publicUrl: string;
  accountSid: string;
  authToken: string;
  businessNumber: string;
  connections: number;
  seconds: number;
  handsets: number;
  workload: 'existing' | 'new';
  /** Requests per second offered in all, whatever the answers' pace; unset: as fast as answered. */
  rate?: number | undefined;
  /** The customers' area code; unset: a random one. */
  areaCode?: string | undefined;
  /**
   * Awaited after the `existing` workload has opened its conversations and before anything
   * is measured, so that routing their burst is not measured as texts into open ones.
   */
  opened?: (() => Promise<void>) | undefined;
}

export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const PATH = '/webhooks/twilio/messages';

export async function sendSignedWebhooks(load: WebhookLoad): Promise<LoadFigures> {
  // Each run's customers are its own, so runs against one store never share conversations:
  // runs against one server name an area code each (two random ones meet one time in 900).
  const prefix = load.areaCode ?? String(Math.floor(Math.random() * 800) + 200);
  const handset = (i: number) => `+1${prefix}${String(i).padStart(7, '0')}`;
  const signed = (from: string) => {
    const params = {
      MessageSid: `SM${randomBytes(16).toString('hex')}`,
      AccountSid: load.accountSid,
      From: from,
      To: load.businessNumber,
      Body: 'Hi, is my order on its way?',
      NumMedia: '0',
    };
    return {
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(
          load.authToken,
          `${load.publicUrl}${PATH}`,
          params,
        ),
      },
      body: new URLSearchParams(params).toString(),
    };
  };
  const request = (from: () => string) => ({
    method: 'POST' as const,
    path: PATH,
    setupRequest: (req: autocannon.Request) => ({ ...req, ...signed(from()) }),
  });
  let n = 0;
  if (load.workload === 'existing') {
    // Opens each handset's conversation, one text each, before anything is measured.
    const warm = await autocannon({
      url: load.url,
      connections: Math.min(load.connections, load.handsets, 20),
      amount: load.handsets,
      requests: [request(() => handset(n++))],
    });
    if (warm.non2xx + warm.errors > 0) {
      throw new Error(
        `opening ${load.handsets} conversations failed ${warm.non2xx + warm.errors} times`,
      );
    }
    await load.opened?.();
  }
  const next = () =>
    load.workload === 'existing' ? handset(n++ % load.handsets) : handset(1_000_000 + n++);
  if (load.rate) return sendPaced(load, () => signed(next()));
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    requests: [request(next)],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
  };
}

/**
 * A fixed rate, as texts reach Twilio: request i is due at i / rate seconds, whatever the
 * answers' pace (autocannon's rate sends each connection's share for the second at once,
 * at the start of every second: bursts, not a rate). Latency counts from when a request
 * was due, so time spent waiting for a free connection counts too.
 */
async function sendPaced(
  load: WebhookLoad,
  next: () => { headers: Record<string, string>; body: string },
): Promise<LoadFigures> {
  const rate = load.rate!;
  const agent = new Agent({ keepAlive: true, maxSockets: load.connections });
  const target = new URL(PATH, load.url);
  const latencies: number[] = [];
  let errors = 0;
  const send = (due: number) =>
    new Promise<void>((resolve) => {
      const { headers, body } = next();
      const req = httpRequest(
        target,
        {
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 300) errors += 1;
            latencies.push(performance.now() - due);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end(body);
    });
  // The connections are opened before anything is measured, as a reverse proxy in front of
  // Parley keeps its own open: Node accepts one new connection per turn of its event loop,
  // so an empty pool meeting a slow moment would open dozens at once, each waiting for the
  // turns before it (see bench/README.md).
  await Promise.all(
    Array.from(
      { length: load.connections },
      () =>
        new Promise<void>((resolve, reject) => {
          httpRequest(new URL('/healthz', load.url), { agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
            .on('error', reject)
            .end();
        }),
    ),
  );
  const started = performance.now();
  const total = Math.round(rate * load.seconds);
  const sent: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await delay(wait);
    sent.push(send(due));
  }
  await Promise.all(sent);
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  return { rps: total / elapsed, p50: at(0.5), p99: at(0.99), errors };
}
