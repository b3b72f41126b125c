import { AppError } from '../../errors.js';
import type { MessageStatus } from '../../events.js';
import { fromTwilioStatus } from './message-status.js';

/** Where Twilio posts incoming messages: the route listens here, and numbers are pointed here. */
export const WEBHOOK_PATH = '/webhooks/twilio/messages';
/** Where Twilio posts a sent message's status callbacks. */
export const STATUS_CALLBACK_PATH = '/webhooks/twilio/status';

/** The URLs Twilio is told to call, under Parley's public URL and its fallback URL. */
export interface WebhookUrls {
  webhookUrl: string;
  /** Where Twilio posts an incoming message when webhookUrl fails or times out. */
  fallbackUrl: string;
  statusCallbackUrl: string;
}

export function webhookUrls(publicUrl: string, fallbackBaseUrl = publicUrl): WebhookUrls {
  return {
    webhookUrl: `${publicUrl}${WEBHOOK_PATH}`,
    fallbackUrl: `${fallbackBaseUrl}${WEBHOOK_PATH}`,
    statusCallbackUrl: `${publicUrl}${STATUS_CALLBACK_PATH}`,
  };
}

/** Twilio's answer to an incoming message that Parley replies to later, if at all. */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

const MESSAGE_SID = /^(SM|MM)[0-9a-f]{32}$/;
const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;
/** Twilio's error codes are five digits; anything that is not a small number is dropped. */
const ERROR_CODE = /^\d{1,9}$/;
/** Longer than any address Twilio sends (E.164, `whatsapp:+…`, `messenger:<page id>`). */
const MAX_ADDRESS_LENGTH = 256;

/** A webhook's form parameters, read but not yet authenticated. */
export interface WebhookForm {
  /** The parameters exactly as Twilio signed them. */
  signed: Record<string, string>;
  /** The same parameters with what PostgreSQL cannot store replaced: the only ones to use. */
  params: Record<string, string>;
  /** The fields whose text was replaced (see storableText), for the log. */
  replaced: string[];
}

/** Twilio's form parameters as a flat map; a repeated or non-text field is malformed. */
export function readWebhookForm(body: unknown): WebhookForm {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('bad_request', 'body is not a form');
  }
  // No prototype: a field named `__proto__` or `constructor` is a field like any other.
  const signed: Record<string, string> = Object.create(null);
  const params: Record<string, string> = Object.create(null);
  const replaced: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (typeof value !== 'string')
      throw new AppError('bad_request', `field ${key} is not a single value`);
    signed[key] = value;
    params[key] = storableText(value);
    if (params[key] !== value) replaced.push(key);
  }
  return { signed, params, replaced };
}

/**
 * The text with U+0000 (refused in text and jsonb) and unpaired UTF-16 surrogates (refused in
 * jsonb) replaced by U+FFFD. A handset can send either; the message must be kept all the same.
 */
export function storableText(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD').replace(/\p{Cs}/gu, '\uFFFD');
}

/**
 * Whom an incoming message says it is for, before its signature is checked: what finds the
 * number, hence the account whose auth token must have signed it.
 */
export function addresseeOf(form: WebhookForm): {
  to: string;
  messagingServiceSid: string | undefined;
} {
  return { to: form.params.To ?? '', messagingServiceSid: form.params.MessagingServiceSid };
}

/**
 * The account a status callback says it is about, before its signature is checked; undefined
 * when AccountSid is not an Account SID at all.
 */
export function accountSidOf(form: WebhookForm): string | undefined {
  const accountSid = form.params.AccountSid ?? '';
  return ACCOUNT_SID.test(accountSid) ? accountSid : undefined;
}

/** What Parley takes from Twilio's incoming-message webhook. */
export interface InboundMessage {
  messageSid: string;
  from: string;
  to: string;
  body: string;
  media: { url: string; contentType: string }[];
  optOutType?: string | undefined;
  /** FromCity, FromState, FromZip, FromCountry, as Twilio knows them. */
  location: Record<string, string>;
}

/** An authenticated incoming-message webhook as Parley's message; a 400 names the bad field. */
export function parseInboundMessage(form: WebhookForm): InboundMessage {
  const { params } = form;
  const from = address(params, 'From');
  return {
    messageSid: required(params, 'MessageSid', MESSAGE_SID),
    from,
    to: address(params, 'To'),
    body: params.Body ?? '',
    media: mediaOf(params),
    optOutType: params.OptOutType,
    location: locationOf(params),
  };
}

/** A status callback's news, in Parley's words, for the account whose token signed it. */
export interface StatusCallback {
  messageSid: string;
  status: MessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
  /**
   * What carried the message, from its From: an RCS sender (`rcs:…`) or a phone number (on
   * a service with an RCS sender, the SMS/MMS fallback); null for other channels.
   */
  carrier: MessageCarrier | null;
}

export type MessageCarrier = 'rcs' | 'phone';

function carrierOf(from: string | undefined): MessageCarrier | null {
  if (!from) return null;
  if (/^rcs:/i.test(from)) return 'rcs';
  return /^\+?\d+$/.test(from) ? 'phone' : null;
}

/** An authenticated status callback as Parley's status; a 400 names the bad field. */
export function parseStatusCallback(form: WebhookForm): StatusCallback {
  const { params } = form;
  const messageSid = required(params, 'MessageSid', MESSAGE_SID);
  const twilioStatus = params.MessageStatus ?? params.SmsStatus;
  const status = twilioStatus ? fromTwilioStatus(twilioStatus) : undefined;
  if (!status) throw new AppError('bad_request', 'field MessageStatus is missing or unknown');
  return {
    messageSid,
    status,
    errorCode:
      params.ErrorCode && ERROR_CODE.test(params.ErrorCode) ? Number(params.ErrorCode) : null,
    errorMessage: params.ErrorMessage ?? null,
    carrier: carrierOf(params.From),
  };
}

function required(params: Record<string, string>, field: string, pattern?: RegExp): string {
  const value = params[field];
  if (!value || (pattern && !pattern.test(value))) {
    throw new AppError('bad_request', `field ${field} is missing or malformed`);
  }
  return value;
}

function address(params: Record<string, string>, field: 'From' | 'To'): string {
  const value = required(params, field);
  if (value.length > MAX_ADDRESS_LENGTH) {
    throw new AppError(
      'bad_request',
      `field ${field} is longer than ${MAX_ADDRESS_LENGTH} characters`,
    );
  }
  return value;
}

function mediaOf(params: Record<string, string>): InboundMessage['media'] {
  const count = Number.parseInt(params.NumMedia ?? '0', 10);
  if (!Number.isInteger(count) || count < 0 || count > 10) {
    throw new AppError('bad_request', 'field NumMedia is malformed');
  }
  return Array.from({ length: count }, (_, i) => ({
    url: required(params, `MediaUrl${i}`),
    contentType: params[`MediaContentType${i}`] ?? 'application/octet-stream',
  }));
}

/**
 * What Twilio tells of the customer, for their contact: where the carrier places them, their
 * profile name (WhatsApp's; Messenger's too, should Twilio send one), and the ad or post a
 * WhatsApp conversation started from.
 */
function locationOf(params: Record<string, string>): Record<string, string> {
  const location: Record<string, string> = {};
  for (const field of [
    'FromCity',
    'FromState',
    'FromZip',
    'FromCountry',
    'ProfileName',
    'ReferralHeadline',
    'ReferralSourceType',
    'ReferralSourceUrl',
  ]) {
    const value = params[field];
    if (value) location[field.replace(/^From/, '').replace(/^./, (c) => c.toLowerCase())] = value;
  }
  return location;
}
