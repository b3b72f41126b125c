import { eq } from 'drizzle-orm';
import type { NumberRow } from '../admin/numbers.js';
import type { InboundMessage } from '../channels/twilio/webhooks.js';
import {
  type ConsentKeyword,
  classifyKeyword,
  consentSender,
  recordConsent,
  twilioAnswersKeywords,
} from '../consent/consent.js';
import { upsertContact } from '../consent/contacts.js';
import {
  findOpenConversation,
  openConversationIn,
  openConversationsForSender,
} from '../conversations/conversations.js';
import { touchedByCustomer } from '../conversations/lifecycle.js';
import { media, messages, numbers } from '../db/schema.js';
import type { Db, Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { appendEvent } from '../event-log.js';
import { closeConversation, closeConversations } from '../flows/closing.js';
import { type Flow, isFlowOpen } from '../flows/flows.js';
import { customerLanguage, type FlowMessageKind, messageFor } from '../flows/messages.js';
import {
  awaitingSurvey,
  endSurveyWait,
  recordSurveyReply,
  type SurveyReply,
  surveyReplyOf,
} from '../flows/surveys.js';
import { renderTemplate } from '../flows/templates.js';
import { enqueueAutomated } from '../outbound/outbox.js';
import { greets, joinOutreach } from './outreach-replies.js';

export type InboundOutcome =
  /** Stored before; `sameAccount` false: the SID is another account's message, nothing changed. */
  | { duplicate: true; sameAccount: boolean }
  | {
      duplicate: false;
      messageId: string;
      conversationId: string | null;
      /** The flow has work to do after the response (bot step or hand-over to routing). */
      flowDue: boolean;
      mediaPending: boolean;
      /** The conversation was handed to routing in this queue (null: none, or not now). */
      queuedIn: string | null;
    };

/**
 * Work a received message leaves due for after Twilio's answer (InboundOutcome's flowDue,
 * mediaPending, queuedIn); each kick is only a hint to a worker.
 */
export interface InboundKicks {
  flowDue(conversationId: string): void;
  mediaDue(): void;
  /** A conversation entered this queue: this instance's routing can place it now. */
  queued(queueId: string): void;
}

/**
 * Stores one inbound message exactly once and applies what must happen before Twilio gets
 * its answer, in one transaction: consent keywords, the conversation (found or opened),
 * the hours check and the initial or out-of-hours response, the attachment policy. Slow
 * work — media downloads, the bot, routing — is left due on rows for after the response.
 */
export async function receiveInbound(
  db: Db,
  number: NumberRow,
  flow: Flow | undefined,
  inbound: InboundMessage,
  now = new Date(),
): Promise<InboundOutcome> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await inTransaction(db, async (tx) => {
        const outcome = await receiveIn(tx, number, flow, inbound, now);
        // Rolled back, not committed: a message stored without its conversation would be
        // answered as a duplicate by the next attempt, and never reach an agent.
        if (!outcome) throw new ConversationClosedMeanwhile();
        return outcome;
      });
    } catch (error) {
      if (!(error instanceof ConversationClosedMeanwhile)) throw error;
    }
  }
  throw new Error(`could not place message ${inbound.messageSid} in a conversation`);
}

/** The open conversation a text met closed before the text could join it: place it again. */
class ConversationClosedMeanwhile extends Error {}

async function receiveIn(
  tx: Tx,
  number: NumberRow,
  flow: Flow | undefined,
  inbound: InboundMessage,
  now: Date,
): Promise<InboundOutcome | undefined> {
  // The MessageSid's unique constraint makes a replayed or fallback delivery a no-op.
  const [message] = await tx
    .insert(messages)
    .values({
      numberId: number.id,
      direction: 'inbound',
      author: 'customer',
      fromAddress: inbound.from,
      toAddress: number.address,
      body: inbound.body,
      twilioSid: inbound.messageSid,
      status: 'received',
      createdAt: now,
    })
    .onConflictDoNothing({ target: messages.twilioSid })
    .returning({ id: messages.id });
  if (!message) {
    const [stored] = await tx
      .select({ accountId: numbers.accountId })
      .from(messages)
      .innerJoin(numbers, eq(numbers.id, messages.numberId))
      .where(eq(messages.twilioSid, inbound.messageSid));
    return { duplicate: true, sameAccount: stored?.accountId === number.accountId };
  }

  const contact = await upsertContact(tx, inbound.from, inbound.location);
  const keyword = classifyKeyword(inbound.body, inbound.optOutType, number.kind);
  const reply = (kind: FlowMessageKind, conversationId: string | null) => {
    const body =
      flow && messageFor(flow, kind, customerLanguage(flow, contact.attributes.language));
    return body
      ? enqueueAutomated(tx, {
          conversationId,
          numberId: number.id,
          to: inbound.from,
          body: renderTemplate(body, { businessName: flow?.businessName }),
          author: 'flow',
          automated: { kind },
        })
      : undefined;
  };

  // The reply to the survey of a conversation just ended belongs to that conversation; a
  // keyword joins the open conversation, if any, so the agent sees it; it opens none.
  const surveyReply = await surveyReplyIn(tx, number.id, inbound, keyword);
  let conversationId: string | null;
  let created = false;
  if (surveyReply) {
    conversationId = surveyReply.survey.conversationId;
  } else if (keyword) {
    conversationId = (await findOpenConversation(tx, number.id, inbound.from))?.id ?? null;
  } else {
    const opened = await openConversationIn(tx, {
      numberId: number.id,
      contactId: contact.id,
      customerAddress: inbound.from,
    });
    if (!opened) return undefined;
    conversationId = opened.conversation.id;
    created = opened.created;
  }
  if (conversationId) {
    await tx.update(messages).set({ conversationId }).where(eq(messages.id, message.id));
  }

  let mediaPending = false;
  if (inbound.media.length > 0) {
    const allowed = flow?.allowAttachments ?? true;
    await tx.insert(media).values(
      inbound.media.map((m, position) => ({
        messageId: message.id,
        position,
        contentType: m.contentType,
        sourceUrl: m.url,
        status: allowed ? ('pending' as const) : ('refused' as const),
        nextAttemptAt: allowed ? now : null,
      })),
    );
    mediaPending = allowed;
    if (!allowed) {
      await reply('attachmentsRefused', conversationId);
      await appendEvent(
        tx,
        'media.refused',
        { conversationId },
        { messageId: message.id, count: inbound.media.length },
      );
    }
  }

  await appendEvent(
    tx,
    'message.received',
    { conversationId },
    {
      messageId: message.id,
      from: inbound.from,
      body: inbound.body,
      numMedia: inbound.media.length,
    },
  );

  if (surveyReply) await recordSurveyReply(tx, surveyReply, message.id, flow);

  if (keyword === 'opt-out' || keyword === 'opt-in') {
    const sender = consentSender(number);
    await recordConsent(tx, {
      contactId: contact.id,
      sender,
      optedOut: keyword === 'opt-out',
      keyword: inbound.body.trim().toUpperCase(),
      conversationId,
    });
    // Nothing more can reach the customer from this sender: no agent should keep typing.
    if (keyword === 'opt-out') {
      await closeConversations(tx, await openConversationsForSender(tx, inbound.from, sender), {
        reason: 'opted-out',
        sendFinalResponse: false,
      });
    }
  } else if (keyword === 'help' && !twilioAnswersKeywords(number)) {
    await reply('help', conversationId);
  }

  let flowDue = false;
  if (conversationId && !keyword && !surveyReply) {
    // A new conversation, or one still with the bot, has flow work due after the answer.
    ({ flowDue } = await touchedByCustomer(tx, conversationId, now));
    const outreachReply =
      created &&
      (
        await joinOutreach(tx, [
          { conversationId, numberId: number.id, customerAddress: inbound.from },
        ])
      ).has(conversationId);
    if (created && flow) {
      const open = isFlowOpen(flow, now);
      await appendEvent(tx, 'flow.hours-checked', { conversationId }, { open });
      if (!open) await reply('outOfHours', conversationId);
      else if (greets(flow, outreachReply)) await reply('initial', conversationId);
      if (!open && flow.outOfHoursAction === 'close') {
        await closeConversation(tx, conversationId, {
          reason: 'out-of-hours',
          sendFinalResponse: false,
        });
      }
    }
  }
  return {
    duplicate: false,
    messageId: message.id,
    conversationId,
    flowDue,
    mediaPending,
    queuedIn: null,
  };
}

/**
 * The text as the reply to a survey waiting on its sender, who has no open conversation on
 * the number; a text that is no reply ends the wait. Never a stop or help keyword.
 */
async function surveyReplyIn(
  tx: Tx,
  numberId: string,
  inbound: InboundMessage,
  keyword: ConsentKeyword | undefined,
): Promise<SurveyReply | undefined> {
  if (keyword === 'opt-out' || keyword === 'help') return undefined;
  const survey = await awaitingSurvey(tx, numberId, inbound.from);
  if (!survey || (await findOpenConversation(tx, numberId, inbound.from))) return undefined;
  const reply = surveyReplyOf(survey, inbound.body, inbound.media.length > 0);
  if (!reply) await endSurveyWait(tx, survey);
  return reply;
}
