// Helpers for tests that drive the emulator from outside: the official twilio client pointed at
// it, a webhook receiver, and the control API. Only node builtins and twilio, like a real client.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { type EmulatorOptions, type RunningEmulator, startEmulator } from './index.js';

const TWILIO_HOSTS = /^https:\/\/(api|messaging|content)\.twilio\.com(?=\/)/;

/** The official RequestClient, with Twilio's hosts rewritten to the emulator's base URL. */
export class EmulatorRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super();
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    return super.request({ ...opts, uri: opts.uri.replace(TWILIO_HOSTS, this.baseUrl) });
  }
}

export function emulatorClient(
  baseUrl: string,
  username: string,
  password: string,
  accountSid?: string,
): twilio.Twilio {
  return twilio(username, password, { accountSid, httpClient: new EmulatorRequestClient(baseUrl) });
}

export async function control<T>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface ReceivedRequest {
  method: string;
  /** The full URL the request was made to, as Twilio signs it. */
  url: string;
  headers: IncomingHttpHeaders;
  params: Record<string, string>;
  signature: string;
}

export interface ReceiverAnswer {
  status?: number;
  body?: string;
  contentType?: string;
  /** Hold the answer this long (to provoke the emulator's webhook timeout). */
  delayMs?: number;
  /** Close the connection without answering. */
  reset?: boolean;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Resolves with the first `count` requests matching `predicate`, once they have arrived. */
  waitFor(
    predicate: (r: ReceivedRequest) => boolean,
    count?: number,
    timeoutMs?: number,
  ): Promise<ReceivedRequest[]>;
  answer(fn: (r: ReceivedRequest) => ReceiverAnswer): void;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1 that records form posts and answers as told (default 200, empty). */
export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const listeners = new Set<() => void>();
  let answerFn: (r: ReceivedRequest) => ReceiverAnswer = () => ({});
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const address = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${address.port}${req.url ?? '/'}`;
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const received: ReceivedRequest = {
        method: req.method ?? 'GET',
        url,
        headers: req.headers,
        params: Object.fromEntries(form.entries()),
        signature: String(req.headers['x-twilio-signature'] ?? ''),
      };
      requests.push(received);
      for (const l of listeners) l();
      const a = answerFn(received);
      if (a.reset) {
        req.socket.destroy();
        return;
      }
      const respond = (): void => {
        res.writeHead(a.status ?? 200, { 'Content-Type': a.contentType ?? 'text/xml' });
        res.end(a.body ?? '');
      };
      if (a.delayMs) setTimeout(respond, a.delayMs);
      else respond();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer(fn) {
      answerFn = fn;
    },
    waitFor(predicate, count = 1, timeoutMs = 10_000) {
      const matches = (): ReceivedRequest[] => requests.filter(predicate);
      if (matches().length >= count) return Promise.resolve(matches().slice(0, count));
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (matches().length < count) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(matches().slice(0, count));
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `receiver: ${matches().length}/${count} matching requests after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        listeners.add(check);
      });
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface MessageView {
  seq: number;
  sid: string;
  direction: string;
  from: string | null;
  to: string;
  body: string;
  channel: string;
  contentSid: string | null;
  status: string;
  errorCode: number | null;
  sentAtMs: number | null;
  media: { sid: string; contentType: string; url: string }[];
  history: { status: string; atMs: number }[];
}

/** Long-polls the control API until the message satisfies `done`. */
export async function waitForMessage(
  baseUrl: string,
  sid: string,
  done: (m: MessageView) => boolean,
  timeoutMs = 15_000,
): Promise<MessageView> {
  const deadline = performance.now() + timeoutMs;
  let after = 0;
  while (performance.now() < deadline) {
    const wait = Math.max(1, Math.min(5000, Math.ceil(deadline - performance.now())));
    const page = await control<{ messages: MessageView[]; cursor: number }>(
      baseUrl,
      'GET',
      `/_emulator/messages?sid=${sid}&after=${after}&wait=${wait}`,
    );
    after = page.cursor;
    const latest = page.messages.at(-1);
    if (latest && done(latest)) return latest;
  }
  throw new Error(`message ${sid} did not reach the expected state within ${timeoutMs} ms`);
}

export interface InboxMessage {
  id: number;
  sid: string | null;
  from: string;
  to: string;
  kind: string;
  channel: string;
  body: string;
  media: { sid: string; contentType: string; url: string }[];
}

/** Long-polls a handset's inbox until `count` messages after `after` have arrived. */
export async function waitForInbox(
  baseUrl: string,
  handset: string,
  count: number,
  after = 0,
  timeoutMs = 15_000,
): Promise<InboxMessage[]> {
  const deadline = performance.now() + timeoutMs;
  const got: InboxMessage[] = [];
  let cursor = after;
  while (got.length < count && performance.now() < deadline) {
    const wait = Math.max(1, Math.min(5000, Math.ceil(deadline - performance.now())));
    const page = await control<{ messages: InboxMessage[]; cursor: number }>(
      baseUrl,
      'GET',
      `/_emulator/handsets/${encodeURIComponent(handset)}/inbox?after=${cursor}&wait=${wait}`,
    );
    got.push(...page.messages);
    cursor = page.cursor;
  }
  if (got.length < count) throw new Error(`inbox of ${handset}: ${got.length}/${count} messages`);
  return got;
}

export interface Fixture {
  emulator: RunningEmulator;
  url: string;
  account: { sid: string; authToken: string };
  client: twilio.Twilio;
  /** Registers a number on the fixture's account through the control API. */
  addNumber(
    phoneNumber: string,
    extra?: Record<string, unknown>,
  ): Promise<{ sid: string; phone_number: string }>;
  close(): Promise<void>;
}

/** An emulator with fast status delays, one account and a twilio client for it. */
export async function startFixture(opts: EmulatorOptions = {}): Promise<Fixture> {
  const emulator = await startEmulator({
    statusDelaysMs: { sending: 5, sent: 10, delivered: 10 },
    ...opts,
  });
  const account = await control<{ sid: string; authToken: string }>(
    emulator.url,
    'POST',
    '/_emulator/accounts',
    {},
  );
  return {
    emulator,
    url: emulator.url,
    account,
    client: emulatorClient(emulator.url, account.sid, account.authToken),
    addNumber: (phoneNumber, extra = {}) =>
      control(emulator.url, 'POST', '/_emulator/numbers', {
        accountSid: account.sid,
        phoneNumber,
        ...extra,
      }),
    close: () => emulator.close(),
  };
}

/** Sends a handset message through the control API. */
export function handsetSends(
  baseUrl: string,
  handset: string,
  body: Record<string, unknown>,
): Promise<{
  sid: string;
  replies: string[];
  autoReply: string | null;
  optOutType: string | null;
  webhook: {
    url: string;
    status: number | null;
    error: string | null;
    fallbackUsed: boolean;
    fallback: { url: string; status: number | null } | null;
  } | null;
}> {
  return control(
    baseUrl,
    'POST',
    `/_emulator/handsets/${encodeURIComponent(handset)}/messages`,
    body,
  );
}
