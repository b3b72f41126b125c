import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { registerControlApi } from './control-api.js';
import { Dispatcher } from './outbound.js';
import { registerPhonePage } from './phone-page.js';
import { registerRestApi } from './rest-api.js';
import { defaultSettings, EmulatorState } from './state.js';
import type { CallbackDisorder, StatusDelays } from './types.js';

export type { FaultEndpoint, FaultMode, FaultSpec } from './faults.js';
export { faultEndpoints } from './faults.js';
export type { InboundResult, WebhookOutcome } from './inbound.js';
export type {
  CallbackDisorder,
  HandsetMessage,
  MessageStatus,
  SenderKind,
  Settings,
  StatusDelays,
} from './types.js';
export { senderRates } from './types.js';

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Base of media URLs and the phone page; default http://host:port. */
  publicUrl?: string;
  statusDelaysMs?: StatusDelays;
  webhookTimeoutMs?: number;
  /** Seconds of traffic a sender may have queued before create answers 21611; default 10 hours, as on Twilio. */
  queueBoundSeconds?: number;
  /** Status callbacks skipped, repeated and out of order, as Twilio sometimes sends them. */
  callbackDisorder?: CallbackDisorder;
  logger?: boolean | { level: string };
}

export interface RunningEmulator {
  /** Where the emulator listens, e.g. http://127.0.0.1:4010. */
  url: string;
  /** The base URL the emulator puts in media URLs (publicUrl, or url). */
  publicUrl: string;
  close(): Promise<void>;
}

const BODY_LIMIT = 64 * 1024 * 1024; // ten MMS pictures as base64 fit comfortably

/** Starts the Twilio emulator: REST API, webhooks, control API and phone page on one server. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const settings = defaultSettings();
  if (opts.statusDelaysMs) settings.statusDelaysMs = { ...opts.statusDelaysMs };
  if (opts.webhookTimeoutMs !== undefined) settings.webhookTimeoutMs = opts.webhookTimeoutMs;
  if (opts.queueBoundSeconds !== undefined) settings.queueBoundSeconds = opts.queueBoundSeconds;
  if (opts.callbackDisorder) settings.callbackDisorder = { ...opts.callbackDisorder };

  let publicUrl = opts.publicUrl?.replace(/\/+$/, '') ?? '';
  const state = new EmulatorState(settings, () => publicUrl);
  const dispatcher = new Dispatcher(state);
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
  });
  await app.register(formbody);
  registerRestApi(app, state, dispatcher);
  registerControlApi(app, state, dispatcher);
  registerPhonePage(app);
  app.addHook('preClose', async () => state.close());

  await app.listen({ port: opts.port ?? 0, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const urlHost =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  publicUrl ||= url;
  return {
    url,
    publicUrl,
    close: async () => {
      await app.close();
    },
  };
}
