import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AccountView, createAccount } from '../../src/admin/accounts.js';
import { createNumber, type NumberRow } from '../../src/admin/numbers.js';
import { WEBHOOK_PATH } from '../../src/channels/twilio/webhooks.js';
import { type Config, loadConfig } from '../../src/config.js';
import { startEmulator } from '../../src/emulator/index.js';
import { createFlow, type Flow, type FlowInput } from '../../src/flows/flows.js';
import { createLogger } from '../../src/logger.js';
import { enqueueOutbound } from '../../src/outbound/outbox.js';
import { type RunningParley, startParley } from '../../src/parley.js';
import { phoneNumber } from './factories.js';
import { spawnTs, waitForOutput } from './processes.js';
import { createTestDatabase, dropTestDatabase, TEST_DATABASE_URL } from './store.js';

/** A port nobody listens on now, so PUBLIC_URL can be known before Parley listens. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface HandsetMessage {
  sid: string;
  from: string;
  to: string;
  body: string;
  media: { url: string; contentType: string }[];
}

/** The emulator as Parley's tests use it: a base URL, in this process or another. */
export interface Emulator {
  url: string;
  close(): Promise<void>;
}

/**
 * The emulator in a process of its own (`parley emulator`), for tests that time what
 * reaches Twilio: in this process it would share an event loop with Parley and its store.
 */
async function emulatorProcess(): Promise<Emulator> {
  const child = spawnTs('src/cli.ts', ['emulator', '--port', String(await freePort())], {});
  const [, url] = await waitForOutput(child, /listening on (\S+)/);
  return {
    url: url!,
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Parley running against the Twilio emulator, on a fresh store (PGlite or PostgreSQL). */
const FAST_STATUSES = { sending: 5, sent: 5, delivered: 5 };
/**
 * Status callbacks as Twilio sometimes sends them — a fifth of `sending` / `sent` never, a
 * fifth twice, each up to 30 ms late so that they overtake one another — seeded, so a
 * failure can be replayed.
 */
const REALISTIC_CALLBACKS = {
  seed: 20_261_130,
  skipRatio: 0.2,
  duplicateRatio: 0.2,
  reorderMs: 30,
};

export class Stack {
  private constructor(
    readonly emulator: Emulator,
    readonly parley: RunningParley,
    readonly config: Config,
    readonly twilio: { sid: string; authToken: string },
    readonly account: AccountView,
    private readonly databaseUrl: string | undefined,
  ) {}

  static async start(
    env: Record<string, string> = {},
    options: { emulatorProcess?: boolean } = {},
  ): Promise<Stack> {
    const emulator = options.emulatorProcess
      ? await emulatorProcess()
      : await startEmulator({
          statusDelaysMs: FAST_STATUSES,
          callbackDisorder: REALISTIC_CALLBACKS,
        });
    if (options.emulatorProcess) {
      await call(emulator, 'POST', '/_emulator/settings', {
        statusDelaysMs: FAST_STATUSES,
        callbackDisorder: REALISTIC_CALLBACKS,
      });
    }
    const port = await freePort();
    const databaseUrl = TEST_DATABASE_URL ? await createTestDatabase() : undefined;
    const config = loadConfig({
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-stack-')),
      LOG_LEVEL: 'silent',
      TWILIO_API_URL: emulator.url,
      ...(databaseUrl && { DATABASE_URL: databaseUrl, APP_SECRET: 's'.repeat(64) }),
      ...env,
    });
    const parley = await startParley(config, createLogger(config.logLevel));
    const twilio = (await call(emulator, 'POST', '/_emulator/accounts', {})) as {
      sid: string;
      authToken: string;
    };
    const account = await createAccount(parley.store.db, parley.secretBox, {
      name: 'Test account',
      accountSid: twilio.sid,
      authToken: twilio.authToken,
    });
    return new Stack(emulator, parley, config, twilio, account, databaseUrl);
  }

  get db() {
    return this.parley.store.db;
  }

  /** A business number on both sides: in Parley with its flow, in the emulator pointing at Parley. */
  async addNumber(
    options: {
      flow?: FlowInput;
      kind?: NumberRow['kind'];
      address?: string;
      messagingServiceSid?: string;
      emulator?: Record<string, unknown>;
    } = {},
  ): Promise<{ number: NumberRow; flow: Flow | undefined }> {
    const flow = options.flow ? await createFlow(this.db, options.flow) : undefined;
    const address = options.address ?? phoneNumber();
    const number = await createNumber(this.db, {
      accountId: this.account.id,
      address,
      kind: options.kind,
      flowId: flow?.id ?? null,
      messagingServiceSid: options.messagingServiceSid ?? null,
    });
    await this.control('POST', '/_emulator/numbers', {
      accountSid: this.twilio.sid,
      phoneNumber: address,
      kind: number.kind,
      smsUrl: `${this.config.publicUrl}${WEBHOOK_PATH}`,
      ...options.emulator,
    });
    return { number, flow };
  }

  /**
   * Puts one flow message per entry of `senders` into the outbox, in one transaction, to a
   * new handset each, with bodies `${prefix} ${i}`: the dispatcher then works alone.
   */
  async fillOutbox(senders: NumberRow[], prefix: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const [i, number] of senders.entries()) {
        await enqueueOutbound(tx, {
          conversationId: null,
          numberId: number.id,
          to: phoneNumber(),
          body: `${prefix} ${i}`,
          author: 'flow',
        });
      }
    });
  }

  /** A handset texts a number; resolves once the webhook was answered. */
  async text(
    from: string,
    to: string,
    body: string,
    media: { contentType: string; base64: string }[] = [],
  ): Promise<{ sid: string; webhook: { status: number; fallbackUsed: boolean } }> {
    return (await this.control('POST', `/_emulator/handsets/${encodeURIComponent(from)}/messages`, {
      to,
      body,
      media,
    })) as { sid: string; webhook: { status: number; fallbackUsed: boolean } };
  }

  /** Waits (long-poll, no sleeping) until the handset's inbox holds `count` messages. */
  inbox(phone: string, count: number, timeoutMs = 15_000): Promise<HandsetMessage[]> {
    return this.inboxUntil(phone, (seen) => seen.length >= count, timeoutMs);
  }

  /** Waits until the handset's inbox holds a message with exactly this text. */
  async received(phone: string, body: string, timeoutMs = 15_000): Promise<HandsetMessage> {
    const seen = await this.inboxUntil(phone, (all) => all.some((m) => m.body === body), timeoutMs);
    const found = seen.find((m) => m.body === body);
    if (!found)
      throw new Error(
        `${phone} never received ${JSON.stringify(body)}; got ${JSON.stringify(seen.map((m) => m.body))}`,
      );
    return found;
  }

  private async inboxUntil(
    phone: string,
    done: (seen: HandsetMessage[]) => boolean,
    timeoutMs: number,
  ): Promise<HandsetMessage[]> {
    const deadline = performance.now() + timeoutMs;
    let cursor = 0;
    const seen: HandsetMessage[] = [];
    while (!done(seen) && performance.now() < deadline) {
      const page = (await this.control(
        'GET',
        `/_emulator/handsets/${encodeURIComponent(phone)}/inbox?after=${cursor}&wait=${Math.max(1, Math.ceil(deadline - performance.now()))}`,
      )) as { messages: HandsetMessage[]; cursor: number };
      seen.push(...page.messages);
      cursor = page.cursor;
    }
    return seen;
  }

  control(method: string, path: string, body?: unknown): Promise<unknown> {
    return call(this.emulator, method, path, body);
  }

  async close(): Promise<void> {
    await this.parley.close();
    await this.emulator.close();
    if (this.databaseUrl) await dropTestDatabase(this.databaseUrl);
  }
}

/** A control-API call to the emulator: JSON in, JSON (or nothing) out; a non-2xx throws. */
export async function call(
  emulator: Emulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(`${emulator.url}${path}`, {
    method,
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Polls a condition on the database until it holds; for state no event announces. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
