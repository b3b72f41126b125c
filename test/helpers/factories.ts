/** Rows tests build (accounts, numbers, agents, queues, flows, conversations) and read back. */
import { randomBytes } from 'node:crypto';
import { and, asc, eq, type SQL, sql } from 'drizzle-orm';
import { CHANNELS, type Channel, kindOnChannel } from '../../src/addresses.js';
import { upsertContact } from '../../src/consent/contacts.js';
import { openConversation } from '../../src/conversations/conversations.js';
import {
  accounts,
  conversations,
  events,
  flows,
  media,
  messages,
  numbers,
  offers,
  queueMembers,
  queues,
  users,
} from '../../src/db/schema.js';
import { type Db, type Executor, queryRows } from '../../src/db/store.js';

export function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A unique North American number in the 555 range. */
export function phoneNumber(): string {
  return `+1555${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;
}

/** A random US toll-free number. */
export function tollFreeNumber(): string {
  return `+1888${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;
}

/** A random five-digit short code. */
export function shortCodeNumber(): string {
  return String(10_000 + Math.floor(Math.random() * 89_999));
}

export async function buildAccount(
  db: Executor,
  overrides: Partial<typeof accounts.$inferInsert> = {},
) {
  const [row] = await db
    .insert(accounts)
    .values({ name: 'Test', accountSid: `AC${hex(16)}`, authTokenEnc: 'v1.x.y.z', ...overrides })
    .returning();
  return row!;
}

export async function buildNumber(
  db: Executor,
  overrides: Partial<typeof numbers.$inferInsert> = {},
) {
  const accountId = overrides.accountId ?? (await buildAccount(db)).id;
  const [row] = await db
    .insert(numbers)
    .values({ address: phoneNumber(), kind: 'long-code', ...overrides, accountId })
    .returning();
  return row!;
}

export type Agent = typeof users.$inferSelect;
export type Queue = typeof queues.$inferSelect;

/** An available agent with room for 3 conversations on each channel unless told. */
export async function buildAgent(
  db: Executor,
  overrides: Partial<typeof users.$inferInsert> = {},
): Promise<Agent> {
  const name = overrides.name ?? `agent-${hex(4)}`;
  const [row] = await db
    .insert(users)
    .values({
      email: `${name}-${hex(4)}@example.com`,
      name,
      role: 'agent',
      passwordHash: 'unused',
      presence: 'available',
      ...overrides,
    })
    .returning();
  return row!;
}

export async function buildQueue(
  db: Executor,
  members: readonly Pick<Agent, 'id'>[],
  overrides: Partial<typeof queues.$inferInsert> = {},
): Promise<Queue> {
  const [row] = await db
    .insert(queues)
    .values({ name: `queue-${hex(3)}`, ...overrides })
    .returning();
  if (members.length > 0) {
    await db.insert(queueMembers).values(members.map((m) => ({ queueId: row!.id, userId: m.id })));
  }
  return row!;
}

export async function buildFlow(db: Executor, overrides: Partial<typeof flows.$inferInsert> = {}) {
  const [row] = await db
    .insert(flows)
    .values({ name: `flow-${hex(3)}`, ...overrides })
    .returning();
  return row!;
}

/** A customer's text in the conversation carrying one stored picture; returns its media row. */
export async function storedPictureIn(
  db: Executor,
  conversation: { id: string; numberId: string; customerAddress: string },
  toAddress: string,
  stored: { sha256: string; size: number },
  contentType = 'image/png',
) {
  const [message] = await db
    .insert(messages)
    .values({
      conversationId: conversation.id,
      numberId: conversation.numberId,
      direction: 'inbound',
      author: 'customer',
      fromAddress: conversation.customerAddress,
      toAddress,
      status: 'received',
    })
    .returning();
  const [row] = await db
    .insert(media)
    .values({
      messageId: message!.id,
      position: 0,
      contentType,
      status: 'stored',
      sha256: stored.sha256,
      size: stored.size,
    })
    .returning();
  return row!;
}

/** A new conversation from a fresh handset (or the given one), still in its flow. */
export async function conversationInFlow(
  db: Db,
  numberId: string,
  customerAddress = phoneNumber(),
) {
  const contact = await upsertContact(db, customerAddress);
  const { conversation } = await openConversation(db, {
    numberId,
    contactId: contact.id,
    customerAddress,
  });
  return conversation;
}

export async function conversationRow(db: Executor, id: string) {
  const [row] = await db.select().from(conversations).where(eq(conversations.id, id));
  return row!;
}

export async function offersOf(db: Executor, conversationId: string) {
  return db
    .select()
    .from(offers)
    .where(eq(offers.conversationId, conversationId))
    .orderBy(asc(offers.createdAt));
}

export async function pendingOffer(db: Executor, conversationId: string) {
  const [row] = await db
    .select()
    .from(offers)
    .where(and(eq(offers.conversationId, conversationId), eq(offers.state, 'pending')));
  return row;
}

export async function eventTypes(db: Executor, conversationId: string): Promise<string[]> {
  const rows = await db
    .select({ type: events.type })
    .from(events)
    .where(eq(events.conversationId, conversationId))
    .orderBy(asc(events.xid), asc(events.id));
  return rows.map((r) => r.type);
}

/** Moves an offer's deadline into the past, as if its timeout had run out. */
export async function expireOfferNow(db: Executor, offerId: string): Promise<void> {
  await db
    .update(offers)
    .set({ expiresAt: sql`now() - interval '1 second'` })
    .where(eq(offers.id, offerId));
}

/** An agent holding `count` active conversations on the number, as if accepted earlier. */
export async function giveActive(db: Db, agent: Agent, numberId: string, count: number) {
  for (let i = 0; i < count; i++) {
    const conversation = await conversationInFlow(db, numberId);
    await db
      .update(conversations)
      .set({ state: 'active', agentId: agent.id })
      .where(eq(conversations.id, conversation.id));
  }
}

/**
 * Agents whose kept load (users.load_*, maintained by a trigger) differs from a count of
 * their conversations offered or active, per channel: none, whatever happened.
 */
export async function agentsWithWrongLoad(db: Executor) {
  const kept = (channel: Channel) => sql.raw(`u.load_${channel}`);
  const counted = (channel: Channel) =>
    sql`count(c.id) FILTER (WHERE ${kindOnChannel(sql`n.kind`, channel)})`;
  const slashed = (figure: (channel: Channel) => SQL) =>
    sql.join(
      CHANNELS.map((channel) => sql`${figure(channel)}::text`),
      sql` || '/' || `,
    );
  return queryRows<{ id: string; kept: string; counted: string }>(
    db,
    sql`SELECT u.id, ${slashed(kept)} AS kept, ${slashed(counted)} AS counted
        FROM users u
        LEFT JOIN conversations c ON c.agent_id = u.id AND c.state IN ('offered', 'active')
        LEFT JOIN numbers n ON n.id = c.number_id
        GROUP BY u.id
        HAVING ${sql.join(
          CHANNELS.map((channel) => sql`${kept(channel)} <> ${counted(channel)}`),
          sql` OR `,
        )}`,
  );
}

/**
 * Queue members whose kept place in their queue's order (queue_members' ranks) differs
 * from what their agent's row and the queue's strategy say it is.
 */
export async function membersWithWrongRank(db: Executor) {
  const expected = (channel: Channel) => {
    const load = sql.raw(`u.load_${channel}`);
    const capacity = sql.raw(`u.capacity_${channel}`);
    return sql`CASE WHEN r.ready AND ${load} < ${capacity} THEN
      CASE WHEN q.strategy = 'least-busy' THEN ${load} - ${capacity} ELSE 0 END END`;
  };
  return queryRows<{ queue_id: string; user_id: string }>(
    db,
    sql`SELECT qm.queue_id, qm.user_id
        FROM queue_members qm
        JOIN users u ON u.id = qm.user_id
        JOIN queues q ON q.id = qm.queue_id,
        LATERAL (SELECT u.presence = 'available' AND u.disabled_at IS NULL AS ready) r
        WHERE (${sql.raw(CHANNELS.map((channel) => `qm.${channel}_rank`).join(', '))},
               qm.idle_rank, qm.by_load) IS DISTINCT FROM (
          ${sql.join(CHANNELS.map(expected), sql`, `)},
          CASE WHEN q.strategy = 'round-robin' OR u.last_conversation_ended_at IS NULL
            THEN '-infinity'::timestamptz ELSE u.last_conversation_ended_at END,
          q.strategy = 'least-busy')`,
  );
}
