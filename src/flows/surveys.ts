/**
 * Post-conversation surveys (CSAT). When a conversation ends, the flow's survey question is
 * sent and the conversation's survey is asked (`askSurvey`). The customer's next text within
 * the flow's window, when it is an answer (a score from 1 to 5, or yes / no), is recorded
 * against the closed conversation instead of opening a new one (`surveyReplyOf`, `recordSurveyReply`); a flow
 * with a comment prompt then asks for a comment, and keeps the next text within the hour.
 * Anything that is not an answer ends the wait and opens a conversation as any text does.
 * Owns the survey_responses table.
 */
import { and, desc, eq, gt, isNotNull, sql } from 'drizzle-orm';
import { contactLanguages } from '../consent/contacts.js';
import { pairKey } from '../conversations/conversations.js';
import { jsonRecords } from '../db/json-params.js';
import { surveyResponses } from '../db/schema.js';
import { type Executor, queryPrepared, type Tx } from '../db/store.js';
import { appendEvent } from '../event-log.js';
import type { SurveyScale } from '../events.js';
import { enqueueAutomated } from '../outbound/outbox.js';
import type { Flow } from './flows.js';
import { customerLanguage, messageFor } from './messages.js';
import { renderTemplate } from './templates.js';

/**
 * SQL on a survey_responses row (the table, not aliased): an agent has texted the
 * customer from the number since the survey was asked, outside any conversation (an
 * `on-reply` origination, email-to-SMS): the customer's next text answers the agent, not
 * the survey. (An `assign-now` origination opens a conversation, which the texts join.)
 */
const AGENT_WROTE_SINCE = sql`EXISTS (
  SELECT 1 FROM messages m
   WHERE m.conversation_id IS NULL AND m.number_id = survey_responses.number_id
     AND m.to_address = survey_responses.customer_address AND m.author = 'agent'
     AND m.created_at > survey_responses.asked_at)`;

/** How long after the score the customer's next text is kept as their comment. */
export const COMMENT_WINDOW_MS = 60 * 60 * 1000;

export type SurveyResponse = typeof surveyResponses.$inferSelect;

/** The survey of a conversation just ended: its question has been queued to the customer. */
export async function askSurvey(
  tx: Tx,
  survey: {
    conversationId: string;
    numberId: string;
    customerAddress: string;
    scale: SurveyScale;
    windowMinutes: number;
  },
): Promise<void> {
  // The latest survey is the one a reply answers: an earlier one waits on nothing more.
  await tx
    .update(surveyResponses)
    .set({ awaitingUntil: null })
    .where(
      and(
        eq(surveyResponses.numberId, survey.numberId),
        eq(surveyResponses.customerAddress, survey.customerAddress),
        isNotNull(surveyResponses.awaitingUntil),
      ),
    );
  await tx
    .insert(surveyResponses)
    .values({
      conversationId: survey.conversationId,
      numberId: survey.numberId,
      customerAddress: survey.customerAddress,
      scale: survey.scale,
      awaitingUntil: sql`now() + make_interval(mins => ${survey.windowMinutes})`,
    })
    .onConflictDoNothing();
}

const SCORE_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5 };
const YES = new Set(['yes', 'y', 'yeah', 'yep', 'yup', 'sure', 'si', 'sí', 'oui', '👍']);
const NO = new Set(['no', 'n', 'nope', 'nah', 'non', '👎']);

/**
 * The score a text gives on the scale, or undefined when it is not clearly an answer: only
 * the answer itself counts ("4", "4/5", "4 stars", "four", "⭐⭐⭐⭐", "yes", "no"), so a
 * text like "5 items are missing" opens a conversation instead of being taken as a score.
 */
export function parseSurveyAnswer(scale: SurveyScale, text: string): number | undefined {
  const answer = text
    .trim()
    .toLowerCase()
    .replace(/[.!]+$/u, '')
    .trim();
  if (scale === 'yes-no') {
    if (YES.has(answer)) return 1;
    if (NO.has(answer)) return 0;
    return undefined;
  }
  const stars = answer.replace(/\uFE0F/gu, '');
  if (/^(⭐|★){1,5}$/u.test(stars)) return [...stars].length;
  const match = /^([1-5]|one|two|three|four|five)(?:\s*(?:\/\s*5|out of 5|stars?))?$/u.exec(answer);
  if (!match) return undefined;
  return SCORE_WORDS[match[1]!] ?? Number(match[1]);
}

/**
 * Of these senders (by `pairKey` of number and address), those a survey waits on now: their
 * texts must take the per-message path, where surveyReplyOf reads them.
 */
export async function pairsAwaitingSurvey(
  tx: Executor,
  pairs: readonly { numberId: string; address: string }[],
): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const rows = await queryPrepared<{ number_id: string; customer_address: string }>(
    tx,
    sql`SELECT survey_responses.number_id, survey_responses.customer_address
          FROM survey_responses
          JOIN ${jsonRecords(pairs, '"numberId" uuid, address text')} AS k
            ON survey_responses.number_id = k."numberId"
           AND survey_responses.customer_address = k.address
         WHERE survey_responses.awaiting_until > now() AND NOT (${AGENT_WROTE_SINCE})`,
  );
  return new Set(rows.map((row) => pairKey(row.number_id, row.customer_address)));
}

/**
 * The survey waiting on this sender's reply now, locked until the caller's transaction ends
 * (two texts at once: the second reads what the first made of it).
 */
export async function awaitingSurvey(
  tx: Tx,
  numberId: string,
  customerAddress: string,
): Promise<SurveyResponse | undefined> {
  const [survey] = await tx
    .select()
    .from(surveyResponses)
    .where(
      and(
        eq(surveyResponses.numberId, numberId),
        eq(surveyResponses.customerAddress, customerAddress),
        isNotNull(surveyResponses.awaitingUntil),
        gt(surveyResponses.awaitingUntil, sql`now()`),
        sql`NOT (${AGENT_WROTE_SINCE})`,
      ),
    )
    .orderBy(desc(surveyResponses.askedAt))
    .limit(1)
    .for('update');
  return survey;
}

/** What a text is to the survey waiting on its sender: the answer, or the comment. */
export type SurveyReply =
  | { survey: SurveyResponse; score: number; comment?: undefined }
  | { survey: SurveyResponse; comment: string; score?: undefined };

/**
 * Reads the customer's text as the reply to the survey waiting on them: a score while the
 * answer is awaited, any words while a comment is. Undefined when it is neither; the caller
 * then ends the wait (endSurveyWait) and places the text as any other.
 */
export function surveyReplyOf(
  survey: SurveyResponse,
  text: string,
  hasMedia: boolean,
): SurveyReply | undefined {
  if (hasMedia) return undefined;
  if (survey.score !== null) {
    const comment = text.trim();
    return comment ? { survey, comment } : undefined;
  }
  const score = parseSurveyAnswer(survey.scale, text);
  return score === undefined ? undefined : { survey, score };
}

/**
 * Records the reply (its message already placed in the closed conversation) with its event,
 * and queues what the flow says next: the comment prompt after an answer when the flow has
 * one (the next text within the hour is then the comment), else its thanks.
 */
export async function recordSurveyReply(
  tx: Tx,
  reply: SurveyReply,
  messageId: string,
  flow: Flow | undefined,
): Promise<void> {
  const { survey } = reply;
  const refs = { conversationId: survey.conversationId };
  let next: 'surveyComment' | 'surveyThanks';
  if (reply.score === undefined) {
    await tx
      .update(surveyResponses)
      .set({ comment: reply.comment, commentedAt: sql`now()`, awaitingUntil: null })
      .where(eq(surveyResponses.conversationId, survey.conversationId));
    await appendEvent(tx, 'survey.commented', refs, { messageId, comment: reply.comment });
    next = 'surveyThanks';
  } else {
    const askComment = Boolean(flow?.surveyCommentPrompt);
    await tx
      .update(surveyResponses)
      .set({
        score: reply.score,
        answeredAt: sql`now()`,
        awaitingUntil: askComment
          ? sql`now() + make_interval(secs => ${COMMENT_WINDOW_MS / 1000})`
          : null,
      })
      .where(eq(surveyResponses.conversationId, survey.conversationId));
    await appendEvent(tx, 'survey.answered', refs, {
      messageId,
      scale: survey.scale,
      score: reply.score,
    });
    next = askComment ? 'surveyComment' : 'surveyThanks';
  }
  if (!flow) return;
  const languages = await contactLanguages(tx, [survey.customerAddress]);
  const text = messageFor(
    flow,
    next,
    customerLanguage(flow, languages.get(survey.customerAddress)),
  );
  if (!text) return;
  await enqueueAutomated(tx, {
    conversationId: survey.conversationId,
    numberId: survey.numberId,
    to: survey.customerAddress,
    body: renderTemplate(text, { businessName: flow.businessName }),
    author: 'flow',
    automated: { kind: next },
  });
}

/** The customer moved on: their texts open conversations again. */
export async function endSurveyWait(tx: Tx, survey: SurveyResponse): Promise<void> {
  await tx
    .update(surveyResponses)
    .set({ awaitingUntil: null })
    .where(eq(surveyResponses.conversationId, survey.conversationId));
}
