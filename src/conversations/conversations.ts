import { and, eq, ne, sql } from 'drizzle-orm';
import { conversations } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { appendEvent } from '../realtime/event-log.js';

declare module '../realtime/event-log.js' {
  interface EventPayloads {
    'conversation.opened': {
      numberId: string;
      customerAddress: string;
      origin: 'customer' | 'agent';
    };
  }
}

export type Conversation = typeof conversations.$inferSelect;

export interface ConversationKey {
  numberId: string;
  contactId: string;
  customerAddress: string;
  origin?: 'customer' | 'agent';
}

/**
 * The open conversation for (number, customer), created if there is none. Atomic across
 * transactions and instances: the partial unique index admits one open conversation per
 * pair, so of simultaneous callers exactly one inserts and the others read its row.
 */
export async function openConversation(
  db: Db,
  key: ConversationKey,
): Promise<{ conversation: Conversation; created: boolean }> {
  const origin = key.origin ?? 'customer';
  // A retry covers the rare case where the conversation we collided with closes before we read it.
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(conversations)
        .values({
          numberId: key.numberId,
          contactId: key.contactId,
          customerAddress: key.customerAddress,
          origin,
        })
        .onConflictDoNothing({
          target: [conversations.numberId, conversations.customerAddress],
          where: sql`${conversations.state} <> 'closed'`,
        })
        .returning();
      if (inserted) {
        await appendEvent(
          tx,
          'conversation.opened',
          { conversationId: inserted.id },
          { numberId: key.numberId, customerAddress: key.customerAddress, origin },
        );
        return { conversation: inserted, created: true };
      }
      const [existing] = await tx
        .select()
        .from(conversations)
        .where(
          and(
            eq(conversations.numberId, key.numberId),
            eq(conversations.customerAddress, key.customerAddress),
            ne(conversations.state, 'closed'),
          ),
        );
      return existing ? { conversation: existing, created: false } : undefined;
    });
    if (result) return result;
  }
  throw new Error(
    `could not open a conversation for ${key.customerAddress} on number ${key.numberId}`,
  );
}
