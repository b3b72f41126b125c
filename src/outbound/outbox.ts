import { randomUUID } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import {
  channelOfKind,
  DEFAULT_SEND_RATE,
  hasServiceWindow,
  type NumberKind,
} from '../addresses.js';
import { contactName } from '../consent/contacts.js';
import { type ResolvedTemplate, resolveTemplate } from '../content/content-templates.js';
import { touchedByParley } from '../conversations/lifecycle.js';
import {
  closedWindowReason,
  type ServiceWindow,
  serviceWindows,
  windowKey,
  windowOf,
} from '../conversations/service-window.js';
import { contacts, flows, media, messages, numbers, outbox, senders } from '../db/schema.js';
import type { Executor, Tx } from '../db/store.js';
import { AppError } from '../errors.js';
import { appendEvents } from '../event-log.js';
import type { AutomatedMessage, OutboundAuthor } from '../events.js';
import type { Attachment } from './attachments.js';
import { countSegments } from './segments.js';

/** Transactions that queued outbound messages, so that their commit can wake the dispatcher. */
const queuing = new WeakSet<Executor>();

/** True when the transaction (the one passed to enqueueOutbound) queued a message. */
export function queuedOutbound(tx: Executor): boolean {
  return queuing.has(tx);
}
export type OutboundMessage = typeof messages.$inferSelect;
/** A message as the API shows it. */
export const messageView = createSelectSchema(messages).meta({ id: 'Message' });

export interface NewOutbound {
  /** Null for an `on-reply` origination, which opens no conversation until the customer answers. */
  conversationId: string | null;
  numberId: string;
  to: string;
  body: string;
  author: OutboundAuthor;
  agentId?: string | null;
  /** Stored uploads, checked by readUploadTokens. */
  attachments?: Attachment[];
  /** Sent as this content template, checked by resolveTemplate; body is its text. */
  template?: ResolvedTemplate;
  /**
   * Which of the flow's messages this is: outside a closed customer-service window it is
   * replaced by the flow's template for it, or not sent. Flow and bot messages only.
   */
  automated?: { kind: AutomatedMessage | null; agentName?: string | null | undefined };
}

/**
 * Records an outbound message and its outbox row in the caller's transaction: the message
 * exists exactly when it will be sent, and a crash before commit sends nothing. Free text
 * outside a closed customer-service window is refused (409).
 */
export async function enqueueOutbound(
  tx: Tx,
  input: Omit<NewOutbound, 'automated'>,
): Promise<OutboundMessage> {
  const [message] = await enqueueOutbounds(tx, [input]);
  return message!;
}

/**
 * enqueueOutbound for one of the flow's messages: outside a closed customer-service window
 * it is replaced by the flow's template for it, or not sent (undefined).
 */
export async function enqueueAutomated(
  tx: Tx,
  input: NewOutbound & { automated: NonNullable<NewOutbound['automated']> },
): Promise<OutboundMessage | undefined> {
  const [message] = await enqueueOutbounds(tx, [input]);
  return message;
}

/**
 * enqueueOutbound for several messages, in the same few statements however many there are
 * (a batch of flow replies). Returns the messages in the order given, undefined for an
 * automated one not sent.
 */
export async function enqueueOutbounds(
  tx: Tx,
  requested: readonly NewOutbound[],
): Promise<(OutboundMessage | undefined)[]> {
  if (requested.length === 0) return [];
  const numberRows = await tx
    .select({
      id: numbers.id,
      address: numbers.address,
      kind: numbers.kind,
      sendRate: numbers.sendRate,
      messagingServiceSid: numbers.messagingServiceSid,
      accountId: numbers.accountId,
      windowTemplates: flows.windowTemplates,
      businessName: flows.businessName,
    })
    .from(numbers)
    .leftJoin(flows, eq(flows.id, numbers.flowId))
    .where(inArray(numbers.id, [...new Set(requested.map((input) => input.numberId))]));
  const numberOf = new Map(numberRows.map((row) => [row.id, row]));
  const allowed = await withinServiceWindows(tx, requested, numberOf);
  const inputs = allowed.flatMap((input) => (input ? [input] : []));
  const sent = await enqueueAllowed(tx, inputs, numberOf);
  let next = 0;
  return allowed.map((input) => (input ? sent[next++] : undefined));
}

/** The sending numbers of a batch, with their flow's window templates. */
type Senders = ReadonlyMap<
  string,
  {
    address: string;
    kind: NumberKind;
    sendRate: number | null;
    messagingServiceSid: string | null;
    accountId: string;
    windowTemplates: typeof flows.$inferSelect.windowTemplates | null;
    businessName: string | null;
  }
>;

async function enqueueAllowed(
  tx: Tx,
  inputs: readonly NewOutbound[],
  numberOf: Senders,
): Promise<OutboundMessage[]> {
  if (inputs.length === 0) return [];
  const senderOf = (numberId: string) => {
    const number = numberOf.get(numberId);
    if (!number) throw new Error(`number ${numberId} does not exist`);
    return {
      address: number.address,
      sender: number.messagingServiceSid ?? number.address,
      rate: number.sendRate ?? DEFAULT_SEND_RATE[number.kind],
    };
  };
  // Ids chosen here, so that the rows can be matched to the inputs whatever order RETURNING has.
  const values = inputs.map((input) => ({
    id: randomUUID(),
    conversationId: input.conversationId,
    numberId: input.numberId,
    direction: 'outbound' as const,
    author: input.author,
    agentId: input.agentId ?? null,
    fromAddress: senderOf(input.numberId).address,
    toAddress: input.to,
    body: input.template?.body ?? input.body,
    status: 'queued' as const,
    segments: countSegments(input.template?.body ?? input.body).segments,
    contentSid: input.template?.contentSid ?? null,
    contentVariables: input.template?.variables ?? null,
  }));
  const stored = new Map(
    (await tx.insert(messages).values(values).returning()).map((row) => [row.id, row]),
  );
  const rows = values.map((value) => stored.get(value.id)!);

  const attachments = inputs.flatMap((input, i) =>
    (input.attachments ?? []).map((a, position) => ({
      messageId: rows[i]!.id,
      position,
      contentType: a.contentType,
      status: 'stored' as const,
      sha256: a.sha256,
      size: a.size,
    })),
  );
  if (attachments.length > 0) await tx.insert(media).values(attachments);

  const rates = new Map(
    inputs.map((input) => {
      const { sender, rate } = senderOf(input.numberId);
      return [sender, rate] as const;
    }),
  );
  // Written only when new or changed: an upsert would lock the sender's row until commit,
  // and the dispatcher skips a locked sender. In sender order, so writers cannot deadlock.
  const known = await tx
    .select({ sender: senders.sender, rate: senders.rate })
    .from(senders)
    .where(inArray(senders.sender, [...rates.keys()]));
  const knownRate = new Map(known.map((row) => [row.sender, row.rate]));
  const changed = [...rates]
    .filter(([sender, rate]) => knownRate.get(sender) !== rate)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  if (changed.length > 0) {
    await tx
      .insert(senders)
      .values(changed.map(([sender, rate]) => ({ sender, rate })))
      .onConflictDoUpdate({
        target: senders.sender,
        set: { rate: sql`excluded.rate` },
        setWhere: sql`${senders.rate} <> excluded.rate`,
      });
  }
  await tx.insert(outbox).values(
    inputs.map((input, i) => ({
      messageId: rows[i]!.id,
      sender: senderOf(input.numberId).sender,
    })),
  );
  queuing.add(tx);
  const active = [
    ...new Set(inputs.flatMap((input) => (input.conversationId ? [input.conversationId] : []))),
  ];
  // Replies count as activity for the flow's inactivity timer.
  await touchedByParley(tx, active, rows[0]!.createdAt);
  await appendEvents(
    tx,
    'message.queued',
    inputs.map((input, i) => ({
      refs: { conversationId: input.conversationId, agentId: input.agentId ?? null },
      payload: {
        messageId: rows[i]!.id,
        numberId: input.numberId,
        to: input.to,
        body: input.template?.body ?? input.body,
        author: input.author,
        attachments: input.attachments?.length ?? 0,
        contentSid: input.template?.contentSid ?? null,
      },
    })),
  );
  return rows;
}

/**
 * The messages as they may go out on WhatsApp and Messenger: free text within the
 * customer-service window; outside it an agent's free text is refused, a template passes
 * where the channel takes one, and an automated message becomes the flow's template for it
 * or is dropped with a `message.skipped` event saying why (undefined in its place).
 */
async function withinServiceWindows(
  tx: Tx,
  inputs: readonly NewOutbound[],
  numberOf: Senders,
): Promise<(NewOutbound | undefined)[]> {
  const windowed = inputs.filter((input) => {
    const kind = numberOf.get(input.numberId)?.kind;
    return kind !== undefined && hasServiceWindow(channelOfKind(kind));
  });
  if (windowed.length === 0) return [...inputs];
  const windows = await serviceWindows(
    tx,
    windowed.map((input) => ({ numberId: input.numberId, customerAddress: input.to })),
  );
  const skipped: { input: NewOutbound; reason: string }[] = [];
  const allowed: (NewOutbound | undefined)[] = [];
  for (const input of inputs) {
    const kind = numberOf.get(input.numberId)?.kind;
    const limited = kind !== undefined && hasServiceWindow(channelOfKind(kind));
    // A windowed pair not found reads as a customer who never wrote: closed.
    const window =
      windows.get(windowKey({ numberId: input.numberId, customerAddress: input.to })) ??
      (limited ? windowOf(kind, null) : undefined);
    if (!window || window.open) {
      allowed.push(input);
      continue;
    }
    const reason = closedWindowReason(window);
    if (input.template) {
      if (!window.templatesAllowed) throw new AppError('conflict', reason, 'template');
      allowed.push(input);
    } else if (!input.automated) {
      throw new AppError('conflict', reason, 'body');
    } else {
      const replaced = await automatedInClosedWindow(
        tx,
        input,
        window,
        numberOf.get(input.numberId)!,
      );
      if (typeof replaced === 'string') {
        skipped.push({ input, reason: `${reason}; ${replaced}` });
        allowed.push(undefined);
      } else {
        allowed.push(replaced);
      }
    }
  }
  await appendEvents(
    tx,
    'message.skipped',
    skipped.map(({ input, reason }) => ({
      refs: { conversationId: input.conversationId },
      payload: {
        numberId: input.numberId,
        to: input.to,
        body: input.body,
        automated: input.automated?.kind ?? null,
        reason,
      },
    })),
  );
  return allowed;
}

/**
 * An automated message outside the window: the flow's template for it, with Parley's
 * values filled in, or why it is not sent.
 */
async function automatedInClosedWindow(
  tx: Tx,
  input: NewOutbound,
  window: ServiceWindow,
  number: NonNullable<ReturnType<Senders['get']>>,
): Promise<NewOutbound | string> {
  const kind = input.automated?.kind;
  const choice = kind ? number.windowTemplates?.[kind] : undefined;
  if (!window.templatesAllowed) return 'not sent';
  if (!choice) return 'not sent: the flow names no template for this message';
  const [contact] = await tx
    .select({ name: contacts.name, attributes: contacts.attributes })
    .from(contacts)
    .where(eq(contacts.address, input.to));
  try {
    const template = await resolveTemplate(
      tx,
      { accountId: number.accountId, channel: window.channel },
      choice,
      {
        customerName: (contact && contactName(contact)) ?? '',
        agentName: input.automated?.agentName ?? '',
        businessName: number.businessName ?? '',
      },
    );
    return { ...input, template, attachments: [] };
  } catch (error) {
    if (error instanceof AppError)
      return `not sent: the flow's template cannot be used (${error.message})`;
    throw error;
  }
}

/**
 * Messages waiting to be handed to Twilio (pending, retries included), by sender, across
 * the database: one grouped read of the pending rows' partial index.
 */
export async function pendingOutboxBySender(
  db: Executor,
): Promise<{ sender: string; pending: number }[]> {
  return db
    .select({ sender: outbox.sender, pending: sql<number>`count(*)::int` })
    .from(outbox)
    .where(eq(outbox.state, 'pending'))
    .groupBy(outbox.sender);
}
