/**
 * Closing a conversation, with what the flow says at the end: a use case over the
 * conversation's lifecycle, routing (its pending offer) and the outbox (the final response
 * and survey). Above routing, which is given it where an agent ends a conversation
 * (routing's endConversation), by the composition.
 */
import { eq } from 'drizzle-orm';
import { contactLanguages } from '../consent/contacts.js';
import { type Closed, markClosed, type WrapUp } from '../conversations/lifecycle.js';
import { flows, numbers, users } from '../db/schema.js';
import type { Tx } from '../db/store.js';
import type { CloseReason } from '../events.js';
import { enqueueAutomated } from '../outbound/outbox.js';
import { cancelPendingOffer, lockAgentsInOrder, wakeRouting } from '../routing/index.js';
import { customerLanguage, messageFor } from './messages.js';
import { askSurvey } from './surveys.js';
import { renderTemplate } from './templates.js';

/**
 * Closes an open conversation in the caller's transaction, withdraws its pending offer, and
 * queues the flow's final response and survey. The customer's next text answers the survey
 * when it is an answer (see flows/surveys.ts), else opens a new conversation.
 * Returns false when the conversation was not open (already closed by someone else).
 */
export async function closeConversation(
  tx: Tx,
  conversationId: string,
  close: {
    reason: CloseReason;
    byUserId?: string | null;
    sendFinalResponse?: boolean;
    /** What the agent who ended it picked and wrote; automatic closes have none. */
    wrapUp?: WrapUp;
  },
): Promise<boolean> {
  const closing = { reason: close.reason, byUserId: close.byUserId ?? null, wrapUp: close.wrapUp };
  const wasOpen = await markClosed(tx, conversationId, closing, async (closed) => {
    // A pending offer (a new conversation's, or a transfer's while active) would otherwise
    // hold its agent's capacity until it expired.
    const offeredTo = await cancelPendingOffer(tx, conversationId, 'conversation-closed', {
      requeue: false,
    });
    if (offeredTo) await wakeRouting(tx, { agentId: offeredTo });
    if (close.sendFinalResponse ?? true) await sendFinalResponse(tx, conversationId, closed);
  });
  return wasOpen !== undefined;
}

/**
 * Closes several open conversations in the caller's transaction (gone quiet, opted out, on a
 * number archived): their agents' rows locked first in routing's order, as each close lowers
 * an agent's load, and routing woken for each agent, who has room again.
 */
export async function closeConversations(
  tx: Tx,
  due: readonly { id: string; agentId: string | null }[],
  close: { reason: CloseReason; byUserId?: string | null; sendFinalResponse?: boolean },
): Promise<void> {
  await lockAgentsInOrder(
    tx,
    due.map((c) => c.agentId),
  );
  for (const { id } of due) await closeConversation(tx, id, close);
  for (const agentId of new Set(due.map((c) => c.agentId))) {
    if (agentId) await wakeRouting(tx, { agentId });
  }
}

/** Queues the flow's final response and survey, in the agent's name where they use it. */
async function sendFinalResponse(tx: Tx, conversationId: string, closed: Closed): Promise<void> {
  const [row] = await tx
    .select({ flow: flows })
    .from(numbers)
    .innerJoin(flows, eq(flows.id, numbers.flowId))
    .where(eq(numbers.id, closed.numberId));
  if (!row) return;
  const { flow } = row;
  const languages = await contactLanguages(tx, [closed.customerAddress]);
  const language = customerLanguage(flow, languages.get(closed.customerAddress));
  const [agent] = closed.agentId
    ? await tx.select({ name: users.name }).from(users).where(eq(users.id, closed.agentId))
    : [];
  const values = { businessName: flow.businessName, agentName: agent?.name };
  for (const kind of ['final', 'survey'] as const) {
    const text = messageFor(flow, kind, language);
    if (!text) continue;
    const queued = await enqueueAutomated(tx, {
      conversationId,
      numberId: closed.numberId,
      to: closed.customerAddress,
      body: renderTemplate(text, values),
      author: 'flow',
      automated: { kind, agentName: agent?.name },
    });
    // A survey not sent (a closed WhatsApp window without its template) waits on nothing.
    if (kind === 'survey' && queued) {
      await askSurvey(tx, {
        conversationId,
        numberId: closed.numberId,
        customerAddress: closed.customerAddress,
        scale: flow.surveyScale,
        windowMinutes: flow.surveyWindowMinutes,
      });
    }
  }
}
