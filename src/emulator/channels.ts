import type { Channel, SenderKind } from './types.js';

/**
 * Channels and their sessions, in one place: which channel an address or sender belongs to,
 * and the 24-hour customer-service window WhatsApp and Messenger impose on free-form messages.
 */

export function channelOf(address: string): Channel {
  if (address.startsWith('whatsapp:')) return 'whatsapp';
  if (address.startsWith('messenger:')) return 'messenger';
  if (address.startsWith('rcs:')) return 'rcs';
  return 'sms';
}

export function kindChannel(kind: SenderKind): Channel {
  if (kind === 'whatsapp' || kind === 'messenger' || kind === 'rcs') return kind;
  return 'sms';
}

/**
 * A handset's address: E.164, `whatsapp:` + E.164, or `messenger:` + the page-scoped user id
 * (digits) Facebook gives the user.
 */
export const HANDSET_ADDRESS = /^((whatsapp:)?\+[1-9]\d{6,14}|messenger:\d{1,20})$/;

/**
 * WhatsApp's customer-service window and Messenger's response window: free-form messages may
 * go to a user only within 24 hours of the user's last message to that sender
 * ([63016](https://www.twilio.com/docs/api/errors/63016)).
 */
export const SESSION_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Channels whose outbound messages need an open session (or, on WhatsApp, an approved template). */
export function hasSessionWindow(channel: Channel): boolean {
  return channel === 'whatsapp' || channel === 'messenger';
}

/** Key of the session between a business sender and a handset. */
export function sessionKey(sender: string, handset: string): string {
  return `${sender}|${handset}`;
}
