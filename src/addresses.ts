import { type SQL, sql } from 'drizzle-orm';
import type { CountryCode } from 'libphonenumber-js';
import type { NUMBER_KINDS } from './db/schema.js';
import { normalisePhone } from './phone-numbers.js';

export type NumberKind = (typeof NUMBER_KINDS)[number];

/**
 * What carries a conversation: WhatsApp on a WhatsApp sender, Messenger on a Facebook page,
 * SMS on every other number.
 */
export const CHANNELS = ['sms', 'whatsapp', 'messenger'] as const;
export type Channel = (typeof CHANNELS)[number];

/** A value for each channel, as `make` gives it: per-channel loads, capacities, columns. */
export function perChannel<T>(make: (channel: Channel) => T): Record<Channel, T> {
  return { sms: make('sms'), whatsapp: make('whatsapp'), messenger: make('messenger') };
}

/**
 * The channels whose addresses carry a prefix (`whatsapp:+1…`, `messenger:<id>`); each is
 * also the kind of the numbers on it. SMS is every other address and kind.
 */
const PREFIXED_CHANNELS = ['whatsapp', 'messenger'] as const;
type PrefixedChannel = (typeof PREFIXED_CHANNELS)[number];

function prefixedChannelOf(address: string): PrefixedChannel | undefined {
  return PREFIXED_CHANNELS.find((channel) => address.startsWith(`${channel}:`));
}

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

/**
 * Whether the business may write first on the channel. Messenger is user-initiated: a page
 * can only answer a person who wrote to it, so agents cannot originate there.
 */
export function businessMayStart(channel: Channel): boolean {
  return channel !== 'messenger';
}

/** The channel of a number of this kind: the one rule, of which kindOnChannel is the SQL. */
export function channelOfKind(kind: string): Channel {
  return PREFIXED_CHANNELS.find((channel) => channel === kind) ?? 'sms';
}

/**
 * SQL: a number whose kind is `kind` (a column, such as sql`n.kind`) is on the channel;
 * channelOfKind in a query.
 */
export function kindOnChannel(kind: SQL, channel: Channel): SQL {
  if (channel !== 'sms') return sql`${kind} = ${sql.raw(`'${channel}'`)}`;
  return sql`${kind} NOT IN (${sql.raw(PREFIXED_CHANNELS.map((c) => `'${c}'`).join(', '))})`;
}

/** The channel of an address: WhatsApp for `whatsapp:+…`, Messenger for `messenger:…`, else SMS. */
export function channelOfAddress(address: string): Channel {
  return prefixedChannelOf(address) ?? 'sms';
}

/**
 * A customer's address on the channel, for their E.164 phone number (or, on Messenger, the
 * page-scoped id Twilio gives them).
 */
export function addressOnChannel(id: string, channel: Channel): string {
  return channel === 'sms' ? id : `${channel}:${id}`;
}

/** An address as typed, without its `whatsapp:` or `messenger:` prefix, if any. */
export function withoutChannelPrefix(address: string): string {
  const channel = prefixedChannelOf(address);
  return channel ? address.slice(channel.length + 1) : address;
}

const TOLL_FREE_NANP = /^\+18(00|33|44|55|66|77|88)\d{7}$/;

/** A Facebook page id or page-scoped user id: digits, as Twilio writes them after `messenger:`. */
const MESSENGER_ID = /^\d{1,64}$/;

/**
 * A business or customer address as Parley keeps it: E.164 (`+15551234567`), a short code
 * (digits only), `whatsapp:+…` or `messenger:<page or user id>`. Returns undefined when it is
 * none of these.
 */
export function normaliseAddress(input: string, defaultCountry?: CountryCode): string | undefined {
  const trimmed = input.trim();
  const channel = prefixedChannelOf(trimmed.toLowerCase());
  if (channel === 'messenger') {
    const id = trimmed.slice(channel.length + 1).trim();
    return MESSENGER_ID.test(id) ? addressOnChannel(id, channel) : undefined;
  }
  if (channel === 'whatsapp') {
    const phone = normalisePhone(trimmed.slice(channel.length + 1), defaultCountry);
    return phone ? addressOnChannel(phone, channel) : undefined;
  }
  if (/^\d{3,8}$/.test(trimmed)) return trimmed;
  return normalisePhone(trimmed, defaultCountry);
}

export function inferNumberKind(address: string): NumberKind {
  const channel = prefixedChannelOf(address);
  if (channel) return channel;
  if (/^\d+$/.test(address)) return 'short-code';
  if (TOLL_FREE_NANP.test(address)) return 'toll-free';
  return 'long-code';
}

/**
 * Segments per second Twilio allows each kind of sender by default. Twilio publishes no
 * throughput for a Messenger page; its replies are one customer at a time, so Parley paces
 * a page like a WhatsApp sender (80/s, Twilio's default for one), high enough never to hold
 * an agent's reply back, and an admin can lower it per page.
 */
export const DEFAULT_SEND_RATE: Record<NumberKind, number> = {
  'long-code': 1,
  'toll-free': 3,
  'short-code': 100,
  whatsapp: 80,
  messenger: 80,
};
