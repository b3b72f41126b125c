import { and, desc, eq, isNotNull, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { contactLanguages } from '../consent/contacts.js';
import {
  endFlowStep,
  flowStepFree,
  leaseFlowStep,
  mergeAttributes,
} from '../conversations/lifecycle.js';
import { conversations, flows, media, messages, numbers } from '../db/schema.js';
import { type Db, queryPrepared } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { appendEvent } from '../event-log.js';
import type { BotAction } from '../events.js';
import { enqueueAutomated } from '../outbound/outbox.js';
import { queueConversation, queuePosition } from '../routing/index.js';
import { type LoopWorker, startLoopWorker } from '../worker-loop.js';
import { closeConversation, closeConversations } from './closing.js';
import { type Flow, flowOfNumber } from './flows.js';
import { customerLanguage, messageFor } from './messages.js';
import { renderTemplate } from './templates.js';

/** What a bot may answer; every field optional. */
interface BotAnswer {
  reply?: unknown;
  attributes?: unknown;
  action?: unknown;
}

export interface FlowDeps {
  db: Db;
  logger: FastifyBaseLogger;
  /** This process's id: a flow step it holds is taken over as soon as it falls silent. */
  instanceId: string;
}

/** How long one instance may hold a conversation's flow work before another may take it. */
const LEASE_MS = 60_000;

/**
 * Runs the flow's steps that follow a customer's message: the bot, if the flow has one,
 * then the hand-over to routing and the queue-position message. Safe to call from several
 * places (the webhook, the sweep, another instance): a lease on flow_due_at admits one.
 */
export async function advanceFlow(deps: FlowDeps, conversationId: string): Promise<void> {
  const claimed = await leaseFlowStep(deps.db, conversationId, deps.instanceId, LEASE_MS);
  if (!claimed) return;
  const flow = await flowOfNumber(deps.db, claimed.numberId);
  const action = flow?.botUrl ? await askBot(deps, flow, claimed) : 'handover';

  if (action === 'continue') {
    await endFlowStep(deps.db, conversationId);
    return;
  }
  if (action === 'close') {
    await inTransaction(deps.db, (tx) => closeConversation(tx, conversationId, { reason: 'bot' }));
    return;
  }
  await endFlowStep(deps.db, conversationId);
  await queueConversation(deps.db, conversationId, flow?.queueId ?? null);
  if (flow?.queuePositionMessage) await sendQueuePosition(deps.db, flow, conversationId);
}

async function sendQueuePosition(db: Db, flow: Flow, conversationId: string): Promise<void> {
  const position = await queuePosition(db, conversationId);
  if (!position) return;
  await inTransaction(db, async (tx) => {
    const [conversation] = await tx
      .select()
      .from(conversations)
      .where(and(eq(conversations.id, conversationId), eq(conversations.state, 'queued')));
    // Offered or taken in the meantime: the customer needs no position.
    if (!conversation) return;
    const languages = await contactLanguages(tx, [conversation.customerAddress]);
    const language = customerLanguage(flow, languages.get(conversation.customerAddress));
    const text = messageFor(flow, 'queuePosition', language);
    if (!text) return;
    await enqueueAutomated(tx, {
      conversationId,
      numberId: conversation.numberId,
      to: conversation.customerAddress,
      body: renderTemplate(text, {
        queuePosition: position.position,
        businessName: flow.businessName,
      }),
      author: 'flow',
      automated: { kind: 'queuePosition' },
    });
  });
}

/**
 * POSTs the latest customer message to the flow's bot as JSON and applies its answer:
 * `{ reply?: string, attributes?: object, action?: 'continue' | 'handover' | 'close' }`.
 * A bot that does not answer after its retries hands the conversation to the queue.
 */
async function askBot(
  deps: FlowDeps,
  flow: Flow,
  conversation: typeof conversations.$inferSelect,
): Promise<BotAction> {
  const [latest] = await deps.db
    .select()
    .from(messages)
    .where(and(eq(messages.conversationId, conversation.id), eq(messages.direction, 'inbound')))
    .orderBy(desc(messages.createdAt))
    .limit(1);
  const [number] = await deps.db
    .select()
    .from(numbers)
    .where(eq(numbers.id, conversation.numberId));
  const mediaRows = latest
    ? await deps.db.select().from(media).where(eq(media.messageId, latest.id))
    : [];
  const request = {
    conversationId: conversation.id,
    number: number?.address,
    customer: conversation.customerAddress,
    message: latest
      ? { body: latest.body, media: mediaRows.map((m) => ({ contentType: m.contentType })) }
      : null,
    attributes: conversation.attributes,
  };

  let answer: BotAnswer | undefined;
  let lastError = '';
  const attempts = flow.botRetries + 1;
  for (let attempt = 1; attempt <= attempts && !answer; attempt++) {
    try {
      const response = await fetch(flow.botUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(flow.botTimeoutMs),
        redirect: 'error',
      });
      if (!response.ok) throw new Error(`bot answered HTTP ${response.status}`);
      const text = await response.text();
      answer = text.trim() ? (JSON.parse(text) as BotAnswer) : {};
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
  }

  if (!answer) {
    deps.logger.warn(
      { conversationId: conversation.id, error: lastError },
      'bot did not answer; handing over',
    );
    await inTransaction(deps.db, (tx) =>
      appendEvent(
        tx,
        'flow.bot-failed',
        { conversationId: conversation.id },
        { error: lastError, attempts },
      ),
    );
    return 'handover';
  }
  const action: BotAction =
    answer.action === 'continue' || answer.action === 'close' ? answer.action : 'handover';
  const reply = typeof answer.reply === 'string' && answer.reply.trim() ? answer.reply : undefined;
  const attributes =
    answer.attributes && typeof answer.attributes === 'object' && !Array.isArray(answer.attributes)
      ? (answer.attributes as Record<string, unknown>)
      : undefined;
  await inTransaction(deps.db, async (tx) => {
    if (attributes) await mergeAttributes(tx, conversation.id, attributes);
    if (reply) {
      await enqueueAutomated(tx, {
        conversationId: conversation.id,
        numberId: conversation.numberId,
        to: conversation.customerAddress,
        body: reply,
        author: 'bot',
        automated: { kind: null },
      });
    }
    await appendEvent(
      tx,
      'flow.bot-answered',
      { conversationId: conversation.id },
      { action, replied: !!reply },
    );
  });
  return action;
}

/** Conversations whose flow work is due (a crashed or missed kick), oldest first. */
export async function dueFlowConversations(
  db: Db,
  instanceId: string,
  limit: number,
): Promise<string[]> {
  const rows = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(
      and(
        eq(conversations.state, 'flow'),
        isNotNull(conversations.flowDueAt),
        flowStepFree(instanceId),
      ),
    )
    .orderBy(conversations.flowDueAt)
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * Closes conversations quiet for longer than their flow's inactivity limit, with the final
 * response. Claims with SKIP LOCKED so instances share the work. Returns how many closed.
 * Runs every second: it reads the open conversations of numbers whose flow has a limit, by
 * number (forced by the lateral join, whatever the statistics say), and nothing when no flow
 * has one; not every open conversation with its number and flow.
 */
export async function closeInactiveConversations(db: Db, limit: number): Promise<number> {
  return inTransaction(db, async (tx) => {
    const due = await queryPrepared<{ id: string; agent_id: string | null }>(
      tx,
      sql`SELECT c.id, c.agent_id
            FROM ${flows} f
            JOIN ${numbers} n ON n.flow_id = f.id
            CROSS JOIN LATERAL (
              SELECT c.id, c.agent_id FROM ${conversations} c
               WHERE c.number_id = n.id AND c.state <> 'closed'
                 AND c.last_message_at < now() - make_interval(mins => f.inactivity_close_minutes)
               LIMIT ${limit}
                 FOR NO KEY UPDATE SKIP LOCKED) c
           WHERE f.inactivity_close_minutes IS NOT NULL
           LIMIT ${limit}`,
    );
    await closeConversations(
      tx,
      due.map((row) => ({ id: row.id, agentId: row.agent_id })),
      { reason: 'inactivity' },
    );
    return due.length;
  });
}

/** Conversations a tick of the flow runner advances, and closes for inactivity, at most. */
const DUE_PER_TICK = 20;
const CLOSED_PER_TICK = 50;

export interface FlowRunner extends LoopWorker {
  /** Advances a conversation's flow now (its message just arrived); stop() waits for it. */
  advance(conversationId: string): void;
}

/**
 * The flow runner of one instance: advances the flows of conversations whose step is due
 * (a kick missed, a crashed instance's lease run out) and closes those quiet past their
 * flow's limit, every second; and advances a conversation at once when asked.
 */
export function startFlowRunner(deps: FlowDeps): FlowRunner {
  const advancing = new Set<Promise<void>>();
  let stopped = false;
  const step = (conversationId: string) =>
    advanceFlow(deps, conversationId).catch((error: unknown) =>
      deps.logger.error({ err: error, conversationId }, 'flow step failed'),
    );
  const worker = startLoopWorker({
    name: 'flow-runner',
    intervalMs: 1000,
    logger: deps.logger,
    tick: async () => {
      const due = await dueFlowConversations(deps.db, deps.instanceId, DUE_PER_TICK);
      // A slow bot holds one step; stopping waits for it, not for the rest of the tick.
      for (const id of due) if (!stopped) await step(id);
      if (stopped) return false;
      const closed = await closeInactiveConversations(deps.db, CLOSED_PER_TICK);
      return due.length === DUE_PER_TICK || closed === CLOSED_PER_TICK;
    },
  });
  return {
    ...worker,
    advance: (conversationId) => {
      // After stop the step stays due: the next sweep, of any instance, takes it.
      if (stopped) return;
      const running: Promise<void> = step(conversationId).finally(() => advancing.delete(running));
      advancing.add(running);
    },
    stop: async () => {
      stopped = true;
      await Promise.all([worker.stop(), ...advancing]);
    },
  };
}
