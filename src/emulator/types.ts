export type SenderKind =
  | 'long-code'
  | 'toll-free'
  | 'short-code'
  | 'whatsapp'
  | 'messenger'
  | 'rcs';

/**
 * Segments per second each kind of sender is allowed to send. Twilio publishes no figure for
 * Messenger or RCS senders; they get WhatsApp's 80, the rate of Twilio's other OTT channel.
 */
export const senderRates: Record<SenderKind, number> = {
  'long-code': 1,
  'toll-free': 3,
  'short-code': 100,
  whatsapp: 80,
  messenger: 80,
  rcs: 80,
};

/** The channel an address belongs to, told by its prefix (`whatsapp:`, `messenger:`, `rcs:`). */
export type Channel = 'sms' | 'whatsapp' | 'messenger' | 'rcs';

export type MessageStatus =
  | 'accepted'
  | 'queued'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'partially_delivered'
  | 'read'
  | 'undelivered'
  | 'failed'
  | 'received'
  | 'canceled';

export type Direction = 'inbound' | 'outbound-api' | 'outbound-reply';

export type HttpMethod = 'GET' | 'POST';

export interface Account {
  sid: string;
  authToken: string;
  friendlyName: string;
  dateCreated: number;
  dateUpdated: number;
}

export interface ApiKey {
  sid: string;
  accountSid: string;
  secret: string;
}

export interface Location {
  city: string;
  state: string;
  zip: string;
  country: string;
}

export interface PhoneNumber {
  sid: string;
  accountSid: string;
  phoneNumber: string;
  kind: SenderKind;
  /** Segments per second; defaults to the kind's rate. */
  mps: number;
  friendlyName: string;
  smsUrl: string;
  smsMethod: HttpMethod;
  smsFallbackUrl: string;
  smsFallbackMethod: HttpMethod;
  statusCallback: string;
  statusCallbackMethod: HttpMethod;
  serviceSid: string | null;
  location: Location;
  dateCreated: number;
  dateUpdated: number;
}

export interface MessagingService {
  sid: string;
  accountSid: string;
  friendlyName: string;
  inboundRequestUrl: string | null;
  inboundMethod: HttpMethod;
  fallbackUrl: string | null;
  fallbackMethod: HttpMethod;
  statusCallback: string | null;
  useInboundWebhookOnNumber: boolean;
  /** Advanced Opt-Out: adds OptOutType to inbound webhooks. */
  advancedOptOut: boolean;
  /**
   * Advanced Opt-Out's own keywords per category, replacing Twilio's defaults for each
   * category given (an empty list removes them all); null: the defaults.
   */
  keywords: Partial<Record<'STOP' | 'START' | 'HELP', string[]>> | null;
  /** Member numbers in the order they were added; the first one sends. */
  numberSids: string[];
  dateCreated: number;
  dateUpdated: number;
}

export interface MediaItem {
  sid: string;
  accountSid: string;
  messageSid: string;
  contentType: string;
  bytes: Buffer;
  dateCreated: number;
}

export interface StatusEntry {
  status: MessageStatus;
  /** Epoch milliseconds. */
  at: number;
}

export interface Message {
  sid: string;
  accountSid: string;
  messagingServiceSid: string | null;
  /** Null while a Messaging Service has not yet picked a sender. */
  from: string | null;
  to: string;
  body: string;
  /** The channel it went (or is going) over; `rcs` for a Messaging Service's RCS sender. */
  channel: Channel;
  /** The Content template it was rendered from, if any. */
  contentSid: string | null;
  direction: Direction;
  status: MessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
  numSegments: number;
  numMedia: number;
  media: MediaItem[];
  statusCallback: string | null;
  dateCreated: number;
  dateUpdated: number;
  /** When the message left its sender's queue (outbound) or was handed to the webhook (inbound). */
  dateSent: number | null;
  history: StatusEntry[];
  /** Position in the emulator's change sequence; bumps on every change. */
  seq: number;
  deleted: boolean;
}

export interface HandsetMedia {
  sid: string;
  contentType: string;
  url: string;
}

/** A message as a handset sees it: what it sent and what it received. */
export interface HandsetMessage {
  id: number;
  /** The Message SID, or null for Twilio's keyword auto-replies, which are not Message resources. */
  sid: string | null;
  from: string;
  to: string;
  /** The handset's address and the business number, whichever way the message went. */
  handset: string;
  business: string;
  direction: 'to-handset' | 'from-handset';
  kind: 'message' | 'auto-reply';
  /** Which channel carried it: an SMS handset receives `rcs` when its service sent over RCS. */
  channel: Channel;
  body: string;
  media: HandsetMedia[];
  date: string;
}

/** WhatsApp approval states of a Content template (Twilio's `approval_requests.status`). */
export type ApprovalStatus =
  | 'unsubmitted'
  | 'received'
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'paused'
  | 'disabled';

export interface WhatsAppApproval {
  name: string;
  category: string;
  status: ApprovalStatus;
  rejectionReason: string;
  allowCategoryChange: boolean;
}

/** A Content API template (HX…): its types as Twilio stores them, snake_case JSON included. */
export interface ContentTemplate {
  sid: string;
  accountSid: string;
  friendlyName: string;
  language: string;
  /** Placeholder name → sample value; also what a placeholder falls back to at send time. */
  variables: Record<string, string>;
  /** Content type (`twilio/text`, `twilio/media`, …) → its definition. */
  types: Record<string, Record<string, unknown>>;
  whatsapp: WhatsAppApproval;
  dateCreated: number;
  dateUpdated: number;
}

export interface StatusDelays {
  sending: number;
  sent: number;
  delivered: number;
}

/**
 * Status callbacks as they sometimes arrive from Twilio: each one independently, so a later
 * status can overtake an earlier one; `sending` / `sent` now and then never at all; some
 * twice. Drawn from a generator seeded with `seed`, so a run can be repeated.
 */
export interface CallbackDisorder {
  seed: number;
  /** Share of `sending` and `sent` callbacks never sent (outcomes always are). */
  skipRatio: number;
  /** Share of callbacks sent twice. */
  duplicateRatio: number;
  /** Each callback leaves after a random delay up to this, so callbacks overtake each other. */
  reorderMs: number;
}

export interface Settings {
  statusDelaysMs: StatusDelays;
  webhookTimeoutMs: number;
  /** A sender refuses new messages (21611) once its queue holds more than this many seconds of traffic. */
  queueBoundSeconds: number;
  /** Null: every callback once, in order, per message. */
  callbackDisorder: CallbackDisorder | null;
}
