import { eq, sql } from 'drizzle-orm';
import { DEFAULT_SEND_RATE } from '../admin/addresses.js';
import { conversations, media, messages, numbers, outbox, senders } from '../db/schema.js';
import type { Tx } from '../db/store.js';
import { appendEvent } from '../realtime/event-log.js';
import type { Attachment } from './attachments.js';
import { countSegments } from './segments.js';

declare module '../realtime/event-log.js' {
  interface EventPayloads {
    'message.queued': {
      messageId: string;
      numberId: string;
      to: string;
      body: string;
      author: OutboundAuthor;
      attachments: number;
    };
  }
}

export type OutboundAuthor = 'agent' | 'flow' | 'bot';

/** Transactions that queued outbound messages, so that their commit can wake the dispatcher. */
const queuing = new WeakSet<Tx>();

/** True when the transaction (the one passed to enqueueOutbound) queued a message. */
export function queuedOutbound(tx: Tx): boolean {
  return queuing.has(tx);
}
export type OutboundMessage = typeof messages.$inferSelect;

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
  const [number] = await tx
    .select({
      address: numbers.address,
      kind: numbers.kind,
      sendRate: numbers.sendRate,
      messagingServiceSid: numbers.messagingServiceSid,
    })
    .from(numbers)
    .where(eq(numbers.id, input.numberId));
  if (!number) throw new Error(`number ${input.numberId} does not exist`);
  const [message] = await tx
    .insert(messages)
    .values({
      conversationId: input.conversationId,
      numberId: input.numberId,
      direction: 'outbound',
      author: input.author,
      agentId: input.agentId ?? null,
      fromAddress: number.address,
      toAddress: input.to,
      body: input.body,
      status: 'queued',
      segments: countSegments(input.body).segments,
    })
    .returning();
  if (input.attachments?.length) {
    await tx.insert(media).values(
      input.attachments.map((a, position) => ({
        messageId: message!.id,
        position,
        contentType: a.contentType,
        status: 'stored' as const,
        sha256: a.sha256,
        size: a.size,
      })),
    );
  }
  const sender = number.messagingServiceSid ?? number.address;
  const rate = number.sendRate ?? DEFAULT_SEND_RATE[number.kind];
  await tx
    .insert(senders)
    .values({ sender, rate })
    .onConflictDoUpdate({
      target: senders.sender,
      set: { rate },
      setWhere: sql`${senders.rate} <> excluded.rate`,
    });
  await tx.insert(outbox).values({ messageId: message!.id, sender });
  queuing.add(tx);
  if (input.conversationId) {
    // Replies count as activity for the flow's inactivity timer.
    await tx
      .update(conversations)
      .set({ lastMessageAt: message!.createdAt })
      .where(eq(conversations.id, input.conversationId));
  }
  await appendEvent(
    tx,
    'message.queued',
    { conversationId: input.conversationId, agentId: input.agentId ?? null },
    {
      messageId: message!.id,
      numberId: input.numberId,
      to: input.to,
      body: input.body,
      author: input.author,
      attachments: input.attachments?.length ?? 0,
    },
  );
  return message!;
}
