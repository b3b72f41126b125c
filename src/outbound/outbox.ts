import { eq } from 'drizzle-orm';
import { messages, numbers, outbox } from '../db/schema.js';
import type { Tx } from '../db/store.js';
import { appendEvent } from '../realtime/event-log.js';

declare module '../realtime/event-log.js' {
  interface EventPayloads {
    'message.queued': {
      messageId: string;
      numberId: string;
      to: string;
      body: string;
      author: OutboundAuthor;
    };
  }
}

export type OutboundAuthor = 'agent' | 'flow' | 'bot';
export type OutboundMessage = typeof messages.$inferSelect;

export interface NewOutbound {
  /** Null for an `on-reply` origination, which opens no conversation until the customer answers. */
  conversationId: string | null;
  numberId: string;
  to: string;
  body: string;
  author: OutboundAuthor;
  agentId?: string | null;
}

/**
 * Records an outbound message and its outbox row in the caller's transaction: the message
 * exists exactly when it will be sent, and a crash before commit sends nothing.
 */
export async function enqueueOutbound(tx: Tx, input: NewOutbound): Promise<OutboundMessage> {
  const [number] = await tx
    .select({ address: numbers.address, messagingServiceSid: numbers.messagingServiceSid })
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
    })
    .returning();
  await tx
    .insert(outbox)
    .values({ messageId: message!.id, sender: number.messagingServiceSid ?? number.address });
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
    },
  );
  return message!;
}
