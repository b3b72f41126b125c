import { and, eq } from 'drizzle-orm';
import { consents, contacts } from '../db/schema.js';
import type { Executor, Tx } from '../db/store.js';
import { appendEvent } from '../event-log.js';
import { upsertContact } from './contacts.js';

/** Twilio's default opt-out, opt-in and help keywords, matched on the whole trimmed body. */
const OPT_OUT = new Set([
  'STOP',
  'STOPALL',
  'UNSUBSCRIBE',
  'CANCEL',
  'END',
  'QUIT',
  'REVOKE',
  'OPTOUT',
]);
const OPT_IN = new Set(['START', 'UNSTOP', 'YES']);
const HELP = new Set(['HELP', 'INFO']);

export type ConsentKeyword = 'opt-out' | 'opt-in' | 'help';

/**
 * What a customer's text to a number of this kind means for consent. Twilio's advanced
 * opt-out sends OptOutType (STOP / START / HELP) with the custom keywords it matched; when
 * present, it decides. On a toll-free number the opt-out is the carrier's, and only START
 * and UNSTOP lift it: a YES there re-subscribes nobody. Twilio applies no keywords on
 * Messenger and leaves a page to stop messaging whoever asks it to, so Parley's own list
 * does it there; YES, an everyday chat answer, re-subscribes nobody there either.
 */
export function classifyKeyword(
  body: string,
  optOutType: string | undefined,
  numberKind: string,
): ConsentKeyword | undefined {
  switch (optOutType?.toUpperCase()) {
    case 'STOP':
      return 'opt-out';
    case 'START':
      return 'opt-in';
    case 'HELP':
      return 'help';
  }
  const word = body.trim().toUpperCase();
  if (OPT_OUT.has(word)) return 'opt-out';
  const yesIgnored = numberKind === 'toll-free' || numberKind === 'messenger';
  if (OPT_IN.has(word) && !(yesIgnored && word === 'YES')) return 'opt-in';
  if (HELP.has(word)) return 'help';
  return undefined;
}

/**
 * Consent is per sender, as Twilio keeps it: the number's address, or its Messaging Service
 * SID when the number belongs to one (an opt-out then covers every number of the service).
 */
/**
 * Whether Twilio answers STOP / START / HELP from this number itself: a number in a
 * Messaging Service (its Advanced Opt-Out), a long code or toll-free number; not a short
 * code of its own, a WhatsApp sender of its own, or a Messenger page, where the business
 * answers. Parley sends its help message only where Twilio does not, so the customer gets
 * one answer.
 */
export function twilioAnswersKeywords(number: {
  kind: string;
  messagingServiceSid: string | null;
}): boolean {
  if (number.kind === 'messenger') return false;
  if (number.messagingServiceSid !== null) return true;
  return number.kind !== 'short-code' && number.kind !== 'whatsapp';
}

export function consentSender(number: {
  address: string;
  messagingServiceSid: string | null;
}): string {
  return number.messagingServiceSid ?? number.address;
}

export async function recordConsent(
  tx: Tx,
  change: {
    contactId: string;
    sender: string;
    optedOut: boolean;
    keyword: string;
    conversationId: string | null;
  },
): Promise<void> {
  const now = new Date();
  await tx
    .insert(consents)
    .values({
      contactId: change.contactId,
      sender: change.sender,
      optedOut: change.optedOut,
      changedAt: now,
    })
    .onConflictDoUpdate({
      target: [consents.contactId, consents.sender],
      set: { optedOut: change.optedOut, changedAt: now },
    });
  await appendEvent(
    tx,
    'consent.changed',
    { conversationId: change.conversationId },
    {
      contactId: change.contactId,
      sender: change.sender,
      optedOut: change.optedOut,
      keyword: change.keyword,
    },
  );
}

/**
 * Records an opt-out that Twilio reported instead of the customer's text: a send refused
 * with 21610, at once or (from a Messaging Service) in a status callback, means the
 * recipient opted out of that sender by a keyword Parley never saw. Changes nothing, and
 * announces nothing, when Parley already knew.
 */
export async function learnOptOut(
  tx: Tx,
  optOut: { customerAddress: string; sender: string; conversationId: string | null },
): Promise<void> {
  const contact = await upsertContact(tx, optOut.customerAddress);
  const now = new Date();
  const [changed] = await tx
    .insert(consents)
    .values({ contactId: contact.id, sender: optOut.sender, optedOut: true, changedAt: now })
    .onConflictDoUpdate({
      target: [consents.contactId, consents.sender],
      set: { optedOut: true, changedAt: now },
      setWhere: eq(consents.optedOut, false),
    })
    .returning({ contactId: consents.contactId });
  if (!changed) return;
  await appendEvent(
    tx,
    'consent.changed',
    { conversationId: optOut.conversationId },
    { contactId: contact.id, sender: optOut.sender, optedOut: true, keyword: 'STOP' },
  );
}

export async function isOptedOut(
  db: Executor,
  customerAddress: string,
  sender: string,
): Promise<boolean> {
  const [row] = await db
    .select({ optedOut: consents.optedOut })
    .from(consents)
    .innerJoin(contacts, eq(contacts.id, consents.contactId))
    .where(and(eq(contacts.address, customerAddress), eq(consents.sender, sender)));
  return row?.optedOut ?? false;
}
