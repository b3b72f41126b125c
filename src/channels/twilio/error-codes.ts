/**
 * Twilio error codes Parley meets when sending, with the reason an agent reads. Codes listed
 * as permanent fail a message at once: sending again would be refused again.
 * (https://www.twilio.com/docs/api/errors)
 */
const REASONS: Record<number, string> = {
  20003: 'Twilio refused the account credentials',
  20429: 'Twilio is rate limiting this account',
  21211: 'The recipient number is not a valid phone number',
  21408: 'Sending to this region is not enabled on the Twilio account',
  21606: 'This sender number cannot send messages',
  21610: 'The recipient has opted out (replied STOP)',
  21611: "The sender's queue on Twilio is full",
  21612: 'Twilio cannot route a message from this sender to this recipient',
  21614: 'The recipient number cannot receive text messages',
  21617: 'The message body is too long',
  21619: 'The message has neither text nor attachments',
  21620: 'An attachment URL is invalid',
  21654: 'Template values were sent without a template',
  21655: 'The content template does not exist on this Twilio account',
  21656:
    "The template's values are invalid (empty, or with line breaks, tabs or long runs of spaces)",
  30001: "The message waited too long in the sender's queue on Twilio",
  30002: 'The Twilio account is suspended',
  30003: 'The handset is unreachable',
  30004: 'The message was blocked by the recipient or carrier',
  30005: 'The recipient number is unknown or no longer exists',
  30006: 'The recipient is a landline or unreachable carrier',
  30007: 'The carrier filtered the message',
  30008: 'Delivery failed for an unknown reason',
  30032: 'The toll-free number is not verified',
  30034: 'The sender number is not registered for A2P 10DLC',
  63003: 'The channel could not find the recipient',
  63016:
    'Outside the 24-hour customer-service window: WhatsApp takes only an approved template, Messenger nothing until the customer writes',
  63024: 'The recipient is not a valid address on this channel',
  63034: 'The attachments exceed 5 MB together',
  11200: 'An attachment could not be fetched',
  12300: 'An attachment is of a type text messages cannot carry',
};

/** Twilio's answer for a recipient who opted out of the sender. */
export const OPTED_OUT = 21610;

const PERMANENT = new Set([
  20003, 21211, 21408, 21606, 21610, 21612, 21614, 21617, 21619, 21620, 21621, 21623, 21654, 21655,
  21656, 63003, 63016, 63024,
]);

export function reasonFor(code: number | null, fallback: string): string {
  return (code !== null && REASONS[code]) || fallback;
}

/**
 * Whether a failed send is worth retrying: rate limiting (429 / 20429), Twilio's server
 * errors and network failures are; what Twilio rejected for good is not.
 */
export function isRetryable(failure: { status: number | null; code: number | null }): boolean {
  if (failure.code !== null && PERMANENT.has(failure.code)) return false;
  if (failure.status === null) return true;
  return failure.status === 429 || failure.status >= 500;
}
