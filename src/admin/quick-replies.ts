/**
 * Quick replies: canned texts an agent drops into the composer. Admins keep them; one with
 * no queue is for every agent, one with a queue for that queue's members only (supervisors
 * and admins see all, since they may work any conversation).
 */
import { asc, eq, inArray, isNull, or } from 'drizzle-orm';
import { z } from 'zod';
import type { Role } from '../auth/users.js';
import { queueMembers, queues, quickReplies } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import { AppError } from '../errors.js';

export const quickReplyInput = z.object({
  title: z
    .string()
    .trim()
    .min(1, { error: 'title must not be empty' })
    .max(100, { error: 'title has at most 100 characters' }),
  body: z
    .string()
    .min(1, { error: 'body must not be empty' })
    .max(1600, { error: 'body has at most 1600 characters' })
    .refine((body) => body.trim() !== '', { error: 'body must not be blank' }),
  queueId: z.uuid({ error: 'queueId must be the id of a queue' }).nullable().optional(),
});
export type QuickReplyInput = z.infer<typeof quickReplyInput>;
export type QuickReply = typeof quickReplies.$inferSelect;

export async function listQuickReplies(db: Executor): Promise<QuickReply[]> {
  return db.select().from(quickReplies).orderBy(asc(quickReplies.title), asc(quickReplies.id));
}

export async function createQuickReply(db: Executor, input: QuickReplyInput): Promise<QuickReply> {
  await assertQueueExists(db, input.queueId);
  const [row] = await db
    .insert(quickReplies)
    .values({ title: input.title, body: input.body, queueId: input.queueId ?? null })
    .returning();
  return row!;
}

export async function updateQuickReply(
  db: Executor,
  id: string,
  patch: Partial<QuickReplyInput>,
): Promise<QuickReply> {
  await assertQueueExists(db, patch.queueId);
  const fields = {
    ...(patch.title !== undefined && { title: patch.title }),
    ...(patch.body !== undefined && { body: patch.body }),
    ...(patch.queueId !== undefined && { queueId: patch.queueId }),
  };
  const [row] = Object.keys(fields).length
    ? await db.update(quickReplies).set(fields).where(eq(quickReplies.id, id)).returning()
    : await db.select().from(quickReplies).where(eq(quickReplies.id, id));
  if (!row) throw new AppError('not_found', `quick reply ${id} does not exist`);
  return row;
}

export async function deleteQuickReply(db: Executor, id: string): Promise<void> {
  const [row] = await db
    .delete(quickReplies)
    .where(eq(quickReplies.id, id))
    .returning({ id: quickReplies.id });
  if (!row) throw new AppError('not_found', `quick reply ${id} does not exist`);
}

/** The quick replies a user may use, by title: for everyone, and for the user's queues. */
export async function quickRepliesFor(
  db: Executor,
  user: { id: string; role: Role },
): Promise<Pick<QuickReply, 'id' | 'title' | 'body' | 'queueId'>[]> {
  const columns = {
    id: quickReplies.id,
    title: quickReplies.title,
    body: quickReplies.body,
    queueId: quickReplies.queueId,
  };
  const order = [asc(quickReplies.title), asc(quickReplies.id)];
  if (user.role !== 'agent') {
    return db
      .select(columns)
      .from(quickReplies)
      .orderBy(...order);
  }
  const myQueues = db
    .select({ queueId: queueMembers.queueId })
    .from(queueMembers)
    .where(eq(queueMembers.userId, user.id));
  return db
    .select(columns)
    .from(quickReplies)
    .where(or(isNull(quickReplies.queueId), inArray(quickReplies.queueId, myQueues)))
    .orderBy(...order);
}

async function assertQueueExists(db: Executor, queueId: string | null | undefined) {
  if (!queueId) return;
  const [queue] = await db.select({ id: queues.id }).from(queues).where(eq(queues.id, queueId));
  if (!queue) throw new AppError('bad_request', `queue ${queueId} does not exist`, 'queueId');
}
