/**
 * Quick replies: canned texts an agent drops into the composer. Admins keep them; one with
 * no queue is for every agent, one with a queue for that queue's members only (supervisors
 * and admins see all, since they may work any conversation).
 */
import { asc, eq, inArray, isNull, or } from 'drizzle-orm';
import { z } from 'zod';
import { type AuditActor, recordChange } from '../audit/audit-log.js';
import type { Role } from '../auth/users.js';
import { queueMembers, queues, quickReplies } from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
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

/** Each change takes `by`: the admin to record in the audit trail (absent: not recorded). */
export async function createQuickReply(
  db: Db,
  input: QuickReplyInput,
  by?: AuditActor,
): Promise<QuickReply> {
  await assertQueueExists(db, input.queueId);
  return inTransaction(db, async (tx) => {
    const [row] = await tx
      .insert(quickReplies)
      .values({ title: input.title, body: input.body, queueId: input.queueId ?? null })
      .returning();
    if (by) await recordQuickReplyChange(tx, by, 'quick-reply.created', null, row!);
    return row!;
  });
}

export async function updateQuickReply(
  db: Db,
  id: string,
  patch: Partial<QuickReplyInput>,
  by?: AuditActor,
): Promise<QuickReply> {
  await assertQueueExists(db, patch.queueId);
  const fields = {
    ...(patch.title !== undefined && { title: patch.title }),
    ...(patch.body !== undefined && { body: patch.body }),
    ...(patch.queueId !== undefined && { queueId: patch.queueId }),
  };
  return inTransaction(db, async (tx) => {
    // Locked: another admin's change of this reply waits, so `before` is what this one replaces.
    const [before] = await tx
      .select()
      .from(quickReplies)
      .where(eq(quickReplies.id, id))
      .for('update');
    if (!before) throw new AppError('not_found', `quick reply ${id} does not exist`);
    const [row] = Object.keys(fields).length
      ? await tx.update(quickReplies).set(fields).where(eq(quickReplies.id, id)).returning()
      : [before];
    if (by) await recordQuickReplyChange(tx, by, 'quick-reply.updated', before, row!);
    return row!;
  });
}

export async function deleteQuickReply(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const [row] = await tx.delete(quickReplies).where(eq(quickReplies.id, id)).returning();
    if (!row) throw new AppError('not_found', `quick reply ${id} does not exist`);
    if (by) await recordQuickReplyChange(tx, by, 'quick-reply.deleted', row, null);
  });
}

async function recordQuickReplyChange(
  tx: Executor,
  by: AuditActor,
  action: string,
  before: QuickReply | null,
  after: QuickReply | null,
): Promise<void> {
  const audited = (reply: QuickReply | null) =>
    reply && { title: reply.title, body: reply.body, queueId: reply.queueId };
  await recordChange(tx, {
    actor: by,
    action,
    target: { type: 'quick-reply', id: (after ?? before)!.id },
    before: audited(before),
    after: audited(after),
  });
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
