import { type SQL, sql } from 'drizzle-orm';
import {
  type CountryCode,
  isPossiblePhoneNumber,
  parsePhoneNumberFromString,
} from 'libphonenumber-js';
import type { NUMBER_KINDS } from './db/schema.js';

export type NumberKind = (typeof NUMBER_KINDS)[number];

/** What carries a conversation: WhatsApp on a WhatsApp sender, SMS on every other number. */
export const CHANNELS = ['sms', 'whatsapp'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * Whether the channel limits a business to the customer-service window: free text only
 * within 24 hours of the customer's last message (WhatsApp's and Messenger's rule).
 */
export function hasServiceWindow(channel: Channel): boolean {
  return channel !== 'sms';
}

/** How long after a customer's last message the channel accepts free text. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Whether an approved content template may be sent on the channel outside the window. */
export function acceptsTemplates(channel: Channel): boolean {
  return channel === 'whatsapp';
}

/** The prefix of a WhatsApp address: `whatsapp:+15551234567`. */
const WHATSAPP_PREFIX = 'whatsapp:';

/** The channel of a number of this kind: the one rule, of which kindOnChannel is the SQL. */
export function channelOfKind(kind: string): Channel {
  return kind === 'whatsapp' ? 'whatsapp' : 'sms';
}

/**
 * SQL: a number whose kind is `kind` (a column, such as sql`n.kind`) is on the channel;
 * channelOfKind in a query.
 */
export function kindOnChannel(kind: SQL, channel: Channel): SQL {
  return channel === 'whatsapp' ? sql`${kind} = 'whatsapp'` : sql`${kind} <> 'whatsapp'`;
}

/** The channel of an address: WhatsApp for `whatsapp:+…`, SMS for any other. */
export function channelOfAddress(address: string): Channel {
  return address.startsWith(WHATSAPP_PREFIX) ? 'whatsapp' : 'sms';
}

/** A customer's address on the channel, for their E.164 phone number. */
export function addressOnChannel(phone: string, channel: Channel): string {
  return channel === 'whatsapp' ? `${WHATSAPP_PREFIX}${phone}` : phone;
}

/** The phone number of an address as typed, without its `whatsapp:` prefix, if any. */
export function withoutChannelPrefix(address: string): string {
  return address.startsWith(WHATSAPP_PREFIX) ? address.slice(WHATSAPP_PREFIX.length) : address;
}

const TOLL_FREE_NANP = /^\+18(00|33|44|55|66|77|88)\d{7}$/;

/**
 * A business or customer address as Parley keeps it: E.164 (`+15551234567`), a short code
 * (digits only) or `whatsapp:+…`. Returns undefined when it is none of these.
 */
export function normaliseAddress(input: string, defaultCountry?: CountryCode): string | undefined {
  const trimmed = input.trim();
  if (/^whatsapp:/i.test(trimmed)) {
    const phone = normalisePhone(trimmed.slice(WHATSAPP_PREFIX.length), defaultCountry);
    return phone ? addressOnChannel(phone, 'whatsapp') : undefined;
  }
  if (/^\d{3,8}$/.test(trimmed)) return trimmed;
  return normalisePhone(trimmed, defaultCountry);
}

/**
 * E.164 for a phone number typed any common way, with a default country for national
 * formats. Numbers only need to be possible, not assigned: test ranges (555, Twilio's magic
 * 500 numbers) must pass.
 */
export function normalisePhone(input: string, defaultCountry?: CountryCode): string | undefined {
  const parsed = parsePhoneNumberFromString(input.trim(), defaultCountry);
  if (!parsed || !isPossiblePhoneNumber(parsed.number)) return undefined;
  return parsed.number;
}

export function inferNumberKind(address: string): NumberKind {
  if (channelOfAddress(address) === 'whatsapp') return 'whatsapp';
  if (/^\d+$/.test(address)) return 'short-code';
  if (TOLL_FREE_NANP.test(address)) return 'toll-free';
  return 'long-code';
}

/** Segments per second Twilio allows each kind of sender by default. */
export const DEFAULT_SEND_RATE: Record<NumberKind, number> = {
  'long-code': 1,
  'toll-free': 3,
  'short-code': 100,
  whatsapp: 80,
};
