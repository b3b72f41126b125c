import type { PhoneNumber, SenderKind } from './types.js';

export type KeywordType = 'STOP' | 'START' | 'HELP';

const KEYWORDS: Record<string, KeywordType> = {
  STOP: 'STOP',
  STOPALL: 'STOP',
  UNSUBSCRIBE: 'STOP',
  CANCEL: 'STOP',
  END: 'STOP',
  QUIT: 'STOP',
  REVOKE: 'STOP',
  OPTOUT: 'STOP',
  START: 'START',
  UNSTOP: 'START',
  YES: 'START',
  HELP: 'HELP',
  INFO: 'HELP',
};

/**
 * Twilio only reacts to a keyword that is the whole message (trimmed, any case). On a
 * toll-free number the carrier handles opt-out, and only START and UNSTOP opt back in
 * ([Twilio support for opt-out keywords](https://help.twilio.com/hc/en-us/articles/223134027-Twilio-support-for-opt-out-keywords-SMS-STOP-filtering-)).
 */
export function classifyKeyword(
  body: string,
  kind: SenderKind = 'long-code',
  custom: Partial<Record<KeywordType, string[]>> | null = null,
): { type: KeywordType; word: string } | null {
  const word = body.trim().toUpperCase();
  if (kind === 'toll-free' && word === 'YES') return null;
  // Advanced Opt-Out's lists replace the defaults of the categories they name.
  for (const type of ['STOP', 'START', 'HELP'] as const) {
    if (custom?.[type]?.some((keyword) => keyword.trim().toUpperCase() === word)) {
      return { type, word };
    }
  }
  const type = KEYWORDS[word];
  if (!type || custom?.[type] !== undefined) return null;
  return { type, word };
}

/** Twilio's default keyword replies; toll-free numbers answer with the carrier's network texts. */
export function defaultReply(kind: SenderKind, type: KeywordType, word: string): string {
  if (kind === 'toll-free') {
    const said = word.charAt(0) + word.slice(1).toLowerCase();
    switch (type) {
      case 'STOP':
        return 'NETWORK MSG: You replied with the word "stop" which blocks all texts sent from this number. Text back "unstop" to receive messages again.';
      case 'START':
        return `NETWORK MSG: You have replied "${said}" and will begin receiving messages again from this number.`;
      case 'HELP':
        return 'Reply STOP to unsubscribe. Msg&Data Rates May Apply.';
    }
  }
  switch (type) {
    case 'STOP':
      return 'You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe.';
    case 'START':
      return 'You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.';
    case 'HELP':
      return 'Reply STOP to unsubscribe. Msg&Data Rates May Apply.';
  }
}

/** An opt-out applies to the whole Messaging Service when the number is in one. */
export function optOutKey(number: PhoneNumber, handset: string): string {
  return `${number.serviceSid ?? number.phoneNumber}|${handset}`;
}

/**
 * Twilio leaves keyword handling of a short code outside a Messaging Service to the sender,
 * and SMS keywords mean nothing on a WhatsApp sender of its own (WhatsApp users block). On
 * Messenger opt-out is the business's to manage, in or out of a service
 * ([Send a message with Facebook Messenger](https://www.twilio.com/docs/messaging/tutorials/send-message-with-facebook-messenger)).
 */
export function handlesKeywords(number: PhoneNumber): boolean {
  if (number.kind === 'messenger') return false;
  if (number.serviceSid !== null) return true;
  return number.kind !== 'short-code' && number.kind !== 'whatsapp';
}
