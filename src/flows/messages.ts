/**
 * A flow's automated messages in the customer's language: the contact's `language`
 * attribute when known (agents or the contact record set it), else the flow's language;
 * a language the flow has no variant of gets the flow's main text.
 */
import type { flows } from '../db/schema.js';
import type { AutomatedMessage } from '../events.js';

type FlowRow = typeof flows.$inferSelect;

/** Each automated message a flow sends and the flow column holding its main text. */
export const FLOW_MESSAGE_FIELDS = {
  initial: 'initialMessage',
  outOfHours: 'outOfHoursMessage',
  queuePosition: 'queuePositionMessage',
  help: 'helpMessage',
  attachmentsRefused: 'attachmentsRefusedMessage',
  final: 'finalMessage',
  survey: 'surveyMessage',
  surveyComment: 'surveyCommentPrompt',
  surveyThanks: 'surveyThanksMessage',
} as const satisfies Partial<Record<AutomatedMessage, keyof FlowRow>>;
export type FlowMessageKind = keyof typeof FLOW_MESSAGE_FIELDS;
export const FLOW_MESSAGE_KINDS = Object.keys(FLOW_MESSAGE_FIELDS) as FlowMessageKind[];

/** What messageFor reads of a flow. */
export type FlowMessages = Pick<
  FlowRow,
  'language' | 'messageVariants' | (typeof FLOW_MESSAGE_FIELDS)[FlowMessageKind]
>;

/** The language a customer's automated messages are in: theirs if known, else the flow's. */
export function customerLanguage(
  flow: Pick<FlowRow, 'language'>,
  contactLanguage: string | null | undefined,
): string {
  return contactLanguage?.trim() || flow.language;
}

/**
 * The flow's text of one automated message in a language (unrendered: see renderTemplate),
 * or null when the flow sends none. A variant for `es` serves `es-MX` too.
 */
export function messageFor(
  flow: FlowMessages,
  kind: FlowMessageKind,
  language: string,
): string | null {
  const wanted = language.toLowerCase();
  const variants = Object.entries(flow.messageVariants);
  const variant =
    variants.find(([tag]) => tag.toLowerCase() === wanted) ??
    variants.find(([tag]) => tag.toLowerCase() === wanted.split('-')[0]);
  return variant?.[1][kind]?.trim() || flow[FLOW_MESSAGE_FIELDS[kind]] || null;
}
