import { SESSION_WINDOW_MS, sessionKey } from './channels.js';
import { nowMs } from './clock.js';
import { FaultSwitch } from './faults.js';
import { newSid } from './format.js';
import type {
  Account,
  ApiKey,
  ContentTemplate,
  HandsetMessage,
  MediaItem,
  Message,
  MessageStatus,
  MessagingService,
  PhoneNumber,
  Settings,
} from './types.js';

export interface RequestLogEntry {
  id: number;
  at: string;
  method: string;
  path: string;
  endpoint: string | null;
  status: number;
  accountSid: string | null;
  /** Which credential authenticated the request. */
  credential: 'account' | 'api-key' | null;
  errorCode: number | null;
}

export type EmulatorEvent =
  | { type: 'message'; id: number; data: Message }
  | { type: 'handset'; id: number; data: HandsetMessage };

interface HandsetSettings {
  /** When set, messages to this handset end `undelivered` with this error code after `sent`. */
  deliveryErrorCode: number | null;
  /** A WhatsApp handset that reports reading: delivered messages move on to `read`. */
  readReceipts: boolean;
  /** The handset takes an MMS with several pictures only in part: `partially_delivered`. */
  partialMms: boolean;
  /** The handset takes RCS: a Messaging Service with an RCS sender reaches it over RCS. */
  rcsCapable: boolean;
}

export const DEFAULT_HANDSET_SETTINGS: HandsetSettings = {
  deliveryErrorCode: null,
  readReceipts: true,
  partialMms: false,
  rcsCapable: false,
};

const REQUEST_LOG_LIMIT = 1000;

/** A new Messaging Service with Twilio's defaults: no URLs, webhooks of its numbers off. */
export function newMessagingService(accountSid: string, friendlyName: string): MessagingService {
  const now = nowMs();
  return {
    sid: newSid('MG'),
    accountSid,
    friendlyName,
    inboundRequestUrl: null,
    inboundMethod: 'POST',
    fallbackUrl: null,
    fallbackMethod: 'POST',
    statusCallback: null,
    useInboundWebhookOnNumber: false,
    advancedOptOut: false,
    keywords: null,
    numberSids: [],
    dateCreated: now,
    dateUpdated: now,
  };
}

export function defaultSettings(): Settings {
  return {
    statusDelaysMs: { sending: 50, sent: 100, delivered: 200 },
    webhookTimeoutMs: 15_000,
    queueBoundSeconds: 10 * 60 * 60,
    callbackDisorder: null,
  };
}

/** Everything the emulator knows, in memory, plus the plumbing to wait for and stream changes. */
export class EmulatorState {
  settings: Settings;
  readonly accounts = new Map<string, Account>();
  readonly apiKeys = new Map<string, ApiKey>();
  readonly numbers = new Map<string, PhoneNumber>();
  readonly services = new Map<string, MessagingService>();
  readonly messages = new Map<string, Message>();
  readonly media = new Map<string, MediaItem>();
  /** Content API templates by HX SID. */
  readonly contents = new Map<string, ContentTemplate>();
  /** When a handset last wrote to a business sender (epoch ms), by `sender|handset`. */
  readonly lastInbound = new Map<string, number>();
  /** `${scope}|${handset}` where scope is a Messaging Service SID or the business number. */
  readonly optOuts = new Set<string>();
  /** Sticky Sender: the number a Messaging Service last sent from to a recipient, by `service|to`. */
  readonly stickySenders = new Map<string, string>();
  readonly handsetMessages: HandsetMessage[] = [];
  readonly handsetSettings = new Map<string, HandsetSettings>();
  readonly requestLog: RequestLogEntry[] = [];
  readonly faults = new FaultSwitch();
  /** Bumped by reset so work started before it (timers, webhook answers) does not land after. */
  generation = 0;
  closed = false;

  private seq = 0;
  private readonly waiters = new Set<() => void>();
  private readonly subscribers = new Set<(event: EmulatorEvent) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly initialSettings: Settings,
    readonly publicUrl: () => string,
  ) {
    this.settings = structuredClone(initialSettings);
  }

  get cursor(): number {
    return this.seq;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /** Whether the handset wrote to the sender within the last 24 hours. */
  sessionOpen(sender: string, handset: string, now = nowMs()): boolean {
    const last = this.lastInbound.get(sessionKey(sender, handset));
    return last !== undefined && now - last < SESSION_WINDOW_MS;
  }

  recordInbound(sender: string, handset: string, at: number): void {
    this.lastInbound.set(sessionKey(sender, handset), at);
  }

  numberByPhone(phoneNumber: string): PhoneNumber | undefined {
    for (const n of this.numbers.values()) if (n.phoneNumber === phoneNumber) return n;
    return undefined;
  }

  addToService(service: MessagingService, number: PhoneNumber): void {
    service.numberSids.push(number.sid);
    number.serviceSid = service.sid;
    number.dateUpdated = nowMs();
  }

  /** Records a new or changed message and tells waiters and event subscribers. */
  touchMessage(message: Message): void {
    message.seq = this.nextSeq();
    this.publish({ type: 'message', id: message.seq, data: message });
  }

  setStatus(message: Message, status: MessageStatus, at = nowMs()): void {
    message.status = status;
    message.dateUpdated = at;
    message.history.push({ status, at });
    this.touchMessage(message);
  }

  addHandsetMessage(entry: Omit<HandsetMessage, 'id' | 'from' | 'to'>): HandsetMessage {
    const [from, to] =
      entry.direction === 'to-handset'
        ? [entry.business, entry.handset]
        : [entry.handset, entry.business];
    const full: HandsetMessage = { id: this.nextSeq(), from, to, ...entry };
    this.handsetMessages.push(full);
    this.publish({ type: 'handset', id: full.id, data: full });
    return full;
  }

  logRequest(entry: Omit<RequestLogEntry, 'id' | 'at'>): void {
    this.requestLog.push({ id: this.nextSeq(), at: new Date().toISOString(), ...entry });
    if (this.requestLog.length > REQUEST_LOG_LIMIT) this.requestLog.shift();
    this.notify();
  }

  subscribe(listener: (event: EmulatorEvent) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  /**
   * Long-poll: resolves with `compute()` as soon as it is non-empty, or when `waitMs` passes,
   * or when the emulator closes.
   */
  async waitFor<T>(compute: () => T[], waitMs: number): Promise<T[]> {
    const first = compute();
    if (first.length > 0 || waitMs <= 0 || this.closed) return first;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(compute());
      };
      const check = (): void => {
        if (this.closed || compute().length > 0) finish();
      };
      const timer = setTimeout(finish, waitMs);
      this.waiters.add(check);
    });
  }

  /** A timer that reset and close cancel. */
  later(ms: number, fn: () => void): void {
    const generation = this.generation;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (generation === this.generation && !this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  /**
   * Clears traffic (messages, media, inboxes, opt-outs, sessions, faults, logs); with `all`,
   * also configuration (accounts, numbers, services, Content templates, settings).
   */
  reset(all: boolean): void {
    this.generation += 1;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.messages.clear();
    this.media.clear();
    this.optOuts.clear();
    this.lastInbound.clear();
    this.stickySenders.clear();
    this.handsetMessages.length = 0;
    this.handsetSettings.clear();
    this.requestLog.length = 0;
    this.faults.clear();
    if (all) {
      this.accounts.clear();
      this.apiKeys.clear();
      this.numbers.clear();
      this.services.clear();
      this.contents.clear();
      this.settings = structuredClone(this.initialSettings);
    }
    this.notify();
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.notify();
    this.subscribers.clear();
  }

  private publish(event: EmulatorEvent): void {
    for (const s of this.subscribers) s(event);
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
