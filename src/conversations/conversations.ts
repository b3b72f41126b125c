import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import { jsonRecords } from '../db/json-params.js';
import { conversations, numbers } from '../db/schema.js';
import { type Db, type Executor, queryRows, type Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { appendEvent, appendEvents } from '../event-log.js';

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
  // A retry covers the rare case where the conversation we collided with closes before we read it.
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = await inTransaction(db, (tx) => openConversationIn(tx, key));
    if (result) return result;
  }
  throw new Error(
    `could not open a conversation for ${key.customerAddress} on number ${key.numberId}`,
  );
}

/**
 * One attempt of openConversation inside the caller's transaction. Undefined when the open
 * conversation we collided with was closed before we could read it: retry the transaction.
 */
export async function openConversationIn(
  tx: Tx,
  key: ConversationKey,
): Promise<{ conversation: Conversation; created: boolean } | undefined> {
  const origin = key.origin ?? 'customer';
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
  const existing = await findOpenConversation(tx, key.numberId, key.customerAddress);
  return existing ? { conversation: existing, created: false } : undefined;
}

/** A conversation a customer's text opens, with when they wrote. */
export interface NewConversation {
  numberId: string;
  contactId: string;
  customerAddress: string;
  /** The customer's text: their last activity, and the moment its flow work falls due. */
  at: Date;
  /**
   * Set when its flow has nothing to do before routing: it opens waiting in this queue (null:
   * none), from now, with no flow work due. Its conversation.queued event is the caller's
   * to log (markOpenedQueued), after the flow's first step.
   */
  queuedIn?: { queueId: string | null };
}

/**
 * Opens customers' conversations in one statement, as openConversationIn does one: each
 * pair with no open conversation gets one, in its flow with its step due, or already
 * waiting in its queue (`queuedIn`: one row version instead of two). A pair already
 * open, or opened by a transaction still running (the insert waits for it), or whose
 * contact no longer has its address (erased meanwhile), is left out: it is absent from the
 * map returned, of conversation ids by `pairKey`.
 */
export async function openConversations(
  tx: Tx,
  opening: readonly NewConversation[],
): Promise<Map<string, string>> {
  const opened = new Map<string, string>();
  if (opening.length === 0) return opened;
  const pairs = opening.map((key) => ({
    number_id: key.numberId,
    contact_id: key.contactId,
    customer_address: key.customerAddress,
    at: key.at,
    queued: key.queuedIn !== undefined,
    queue_id: key.queuedIn?.queueId ?? null,
  }));
  // Inserted in pair order, so that two transactions opening the same pairs wait for each
  // other in one order and cannot deadlock. The contact is locked as the foreign key would
  // lock it, and read again once free: an erasure committed meanwhile has renamed it to
  // `erased:<id>`, and its customer's text must not land on that anonymous row (the pair is
  // left out, and its text finds or makes their contact on the per-message path).
  const rows = await queryRows<{ id: string; number_id: string; customer_address: string }>(
    tx,
    sql`INSERT INTO conversations (number_id, contact_id, customer_address, origin,
                                   last_message_at, flow_due_at, state, queue_id, queued_at)
        SELECT k.number_id, c.id, k.customer_address, 'customer', k.at,
               CASE WHEN NOT k.queued THEN k.at END,
               CASE WHEN k.queued THEN 'queued' ELSE 'flow' END, k.queue_id,
               CASE WHEN k.queued THEN now() END
          FROM ${jsonRecords(
            pairs,
            `number_id uuid, contact_id uuid, customer_address text, at timestamptz,
             queued boolean, queue_id uuid`,
          )} AS k
          JOIN contacts c ON c.id = k.contact_id AND c.address = k.customer_address
         ORDER BY k.number_id, k.customer_address
           FOR KEY SHARE OF c
        ON CONFLICT (number_id, customer_address) WHERE state <> 'closed' DO NOTHING
        RETURNING id, number_id, customer_address`,
  );
  for (const row of rows) opened.set(pairKey(row.number_id, row.customer_address), row.id);
  await appendEvents(
    tx,
    'conversation.opened',
    opening
      .filter((key) => opened.has(pairKey(key.numberId, key.customerAddress)))
      .map((key) => ({
        refs: { conversationId: opened.get(pairKey(key.numberId, key.customerAddress))! },
        payload: {
          numberId: key.numberId,
          customerAddress: key.customerAddress,
          origin: 'customer' as const,
        },
      })),
  );
  return opened;
}

/**
 * Moves into conversations just opened the agents' messages to their customers that were
 * sent with no conversation (on-reply originations) since the pair's previous conversation,
 * so each transcript starts with what the agent wrote. Returns the conversations that got
 * some.
 */
export async function attachOriginations(
  tx: Tx,
  opened: readonly { conversationId: string; numberId: string; customerAddress: string }[],
): Promise<Set<string>> {
  if (opened.length === 0) return new Set();
  const rows = await queryRows<{ conversation_id: string }>(
    tx,
    sql`UPDATE messages m SET conversation_id = k.conversation_id
          FROM ${jsonRecords(
            opened.map((o) => ({
              conversation_id: o.conversationId,
              number_id: o.numberId,
              customer_address: o.customerAddress,
            })),
            'conversation_id uuid, number_id uuid, customer_address text',
          )} AS k
         WHERE m.conversation_id IS NULL
           AND m.direction = 'outbound' AND m.author = 'agent'
           AND m.number_id = k.number_id AND m.to_address = k.customer_address
           AND m.created_at > coalesce(
                 (SELECT max(c.created_at) FROM conversations c
                   WHERE c.number_id = k.number_id AND c.customer_address = k.customer_address
                     AND c.id <> k.conversation_id),
                 '-infinity')
        RETURNING m.conversation_id`,
  );
  return new Set(rows.map((row) => row.conversation_id));
}

/** A (number, customer) pair as a map key. */
export function pairKey(numberId: string, customerAddress: string): string {
  return `${numberId} ${customerAddress}`;
}

export async function findOpenConversation(
  db: Executor,
  numberId: string,
  customerAddress: string,
): Promise<Conversation | undefined> {
  const [row] = await db
    .select()
    .from(conversations)
    .where(
      and(
        eq(conversations.numberId, numberId),
        eq(conversations.customerAddress, customerAddress),
        ne(conversations.state, 'closed'),
      ),
    );
  return row;
}

/**
 * The customer's open conversations on the numbers one consent sender covers: the number
 * whose address it is, or every number of the Messaging Service whose SID it is.
 */
export async function openConversationsForSender(
  db: Executor,
  customerAddress: string,
  sender: string,
): Promise<{ id: string; agentId: string | null }[]> {
  return db
    .select({ id: conversations.id, agentId: conversations.agentId })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .where(
      and(
        eq(conversations.customerAddress, customerAddress),
        ne(conversations.state, 'closed'),
        sql`coalesce(${numbers.messagingServiceSid}, ${numbers.address}) = ${sender}`,
      ),
    )
    .orderBy(conversations.id);
}

/**
 * The number of a Messaging Service on which the customer has an open conversation, if any.
 * A service's numbers are one sender pool (Twilio may answer from any, and consent is the
 * service's), so a text to any of them belongs to that conversation.
 */
export async function numberWithOpenConversationInService(
  db: Executor,
  messagingServiceSid: string,
  customerAddress: string,
): Promise<string | undefined> {
  const [row] = await db
    .select({ numberId: conversations.numberId })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .where(
      and(
        eq(numbers.messagingServiceSid, messagingServiceSid),
        eq(conversations.customerAddress, customerAddress),
        ne(conversations.state, 'closed'),
      ),
    )
    .limit(1);
  return row?.numberId;
}

/**
 * Marks a conversation read up to now for the user: the customer's messages from here on
 * count as unread for them. False when there is no such conversation.
 */
export async function markConversationRead(
  db: Executor,
  conversationId: string,
  userId: string,
): Promise<boolean> {
  // Insert from a SELECT, so an unknown id is "no row" rather than a foreign-key error.
  const rows = await queryRows<{ conversation_id: string }>(
    db,
    sql`INSERT INTO conversation_reads (conversation_id, user_id, read_at)
        SELECT c.id, ${userId}, now() FROM conversations c WHERE c.id = ${conversationId}
        ON CONFLICT (conversation_id, user_id) DO UPDATE SET read_at = excluded.read_at
        RETURNING conversation_id`,
  );
  return rows.length > 0;
}

/** The open conversations on a number, oldest first (archiving the number must say what happens to them). */
export async function openConversationsOn(
  db: Executor,
  numberId: string,
): Promise<{ id: string; agentId: string | null }[]> {
  return db
    .select({ id: conversations.id, agentId: conversations.agentId })
    .from(conversations)
    .where(and(eq(conversations.numberId, numberId), ne(conversations.state, 'closed')))
    .orderBy(conversations.createdAt, conversations.id);
}

/** How many conversations wait in a queue or are being offered from it. */
export async function countWaitingIn(db: Executor, queueId: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(conversations)
    .where(
      and(eq(conversations.queueId, queueId), inArray(conversations.state, ['queued', 'offered'])),
    );
  return row?.count ?? 0;
}
