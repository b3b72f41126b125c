import { randomUUID } from 'node:crypto';
import { inArray, sql } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import { DEFAULT_SEND_RATE } from '../addresses.js';
import { touchedByParley } from '../conversations/lifecycle.js';
import { media, messages, numbers, outbox, senders } from '../db/schema.js';
import type { Executor, Tx } from '../db/store.js';
import { appendEvents } from '../event-log.js';
import type { OutboundAuthor } from '../events.js';
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
}

/**
 * Records an outbound message and its outbox row in the caller's transaction: the message
 * exists exactly when it will be sent, and a crash before commit sends nothing.
 */
export async function enqueueOutbound(tx: Tx, input: NewOutbound): Promise<OutboundMessage> {
  const [message] = await enqueueOutbounds(tx, [input]);
  return message!;
}

/**
 * enqueueOutbound for several messages, in the same few statements however many there are
 * (a batch of flow replies). Returns the messages in the order given.
 */
export async function enqueueOutbounds(
  tx: Tx,
  inputs: readonly NewOutbound[],
): Promise<OutboundMessage[]> {
  if (inputs.length === 0) return [];
  const numberRows = await tx
    .select({
      id: numbers.id,
      address: numbers.address,
      kind: numbers.kind,
      sendRate: numbers.sendRate,
      messagingServiceSid: numbers.messagingServiceSid,
    })
    .from(numbers)
    .where(inArray(numbers.id, [...new Set(inputs.map((input) => input.numberId))]));
  const numberOf = new Map(numberRows.map((row) => [row.id, row]));
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
    body: input.body,
    status: 'queued' as const,
    segments: countSegments(input.body).segments,
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
        body: input.body,
        author: input.author,
        attachments: input.attachments?.length ?? 0,
      },
    })),
  );
  return rows;
}
