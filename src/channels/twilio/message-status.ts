import type { MessageStatus } from '../../events.js';

/**
 * Twilio's message statuses (a send's answer, a status callback's MessageStatus) in Parley's
 * words; undefined for a status Parley does not know.
 */
export function fromTwilioStatus(status: string): MessageStatus | undefined {
  switch (status) {
    case 'accepted':
    case 'scheduled':
    case 'queued':
      return 'queued';
    case 'sending':
    case 'sent':
    case 'delivered':
    case 'partially_delivered':
    case 'undelivered':
    case 'failed':
    case 'read':
      return status;
    case 'canceled':
      return 'failed';
    default:
      return undefined;
  }
}

/** Twilio took the message and has only queued it (or said nothing we know): no status to move. */
export function onlyQueued(twilioStatus: string): boolean {
  const status = fromTwilioStatus(twilioStatus);
  return !status || status === 'queued';
}
