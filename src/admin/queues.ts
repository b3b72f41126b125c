import { asc, eq, isNull, sql } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import { z } from 'zod';
import { businessMayStart, channelOfKind } from '../addresses.js';
import { type ArchivedFilter, dispositionCode } from '../api-schemas.js';
import { type AuditActor, recordChange } from '../audit/audit-log.js';
import { contentSid } from '../content/content-templates.js';
import { uuidArray } from '../db/json-params.js';
import { type DispositionCode, numbers, queueMembers, queues, users } from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { wakeRouting } from '../routing/wake-ups.js';
import { assertNotArchived } from './archiving.js';

/** A queue's codes, each once: a repeated code points at its second place. */
const dispositionList = z
  .array(dispositionCode)
  .max(100, { error: 'a queue has at most 100 dispositions' })
  .superRefine((codes, context) => {
    const seen = new Set<string>();
    codes.forEach(({ code }, index) => {
      if (seen.has(code)) {
        context.addIssue({
          code: 'custom',
          message: `code ${code} is already in the list`,
          path: [index, 'code'],
        });
      }
      seen.add(code);
    });
  });

export const queueInput = z.object({
  name: z.string().trim().min(1, { error: 'name must not be empty' }),
  strategy: z.enum(['longest-idle', 'round-robin', 'least-busy']).optional(),
  priority: z.number().int().min(-100).max(100).optional(),
  offerTimeoutSeconds: z.number().int().min(5).max(3600).optional(),
  autoAccept: z.boolean().optional(),
  maxWaitSeconds: z.number().int().min(10).nullable().optional(),
  overflowQueueId: z.uuid().nullable().optional(),
  overflowMessage: z.string().trim().max(1600).nullable().optional(),
  requiredSkills: z.record(z.string(), z.number().int().min(0).max(10)).optional(),
  language: z.string().trim().min(2).max(10).nullable().optional(),
  offlineRequeueSeconds: z.number().int().min(0).nullable().optional(),
  /** Content templates the queue's agents may pick; empty: every approved one. */
  contentSids: z.array(contentSid).max(200).optional(),
  /** Wrap-up codes agents pick from when they end a conversation of the queue. */
  dispositions: dispositionList.optional(),
  /** Ending needs one of the codes; the queue must then have some. */
  dispositionRequired: z.boolean().optional(),
  /** The number members originate from when they name none; null: their first one. */
  defaultSenderNumberId: z
    .uuid({ error: 'defaultSenderNumberId must be the id of a number' })
    .nullable()
    .optional(),
  /** Replaces the members when given. */
  memberIds: z.array(z.uuid()).optional(),
});
export type QueueInput = z.infer<typeof queueInput>;
export type QueueRow = typeof queues.$inferSelect;

/** A queue as listed (round-robin's cursor is routing's business); read one: its members too. */
export const queueSummaryView = createSelectSchema(queues, {
  requiredSkills: z.record(z.string(), z.number()),
  dispositions: z.array(dispositionCode),
})
  .omit({ lastOfferedAgentId: true })
  .meta({ id: 'QueueSummary' });
export const queueView = queueSummaryView
  .extend({ memberIds: z.array(z.string()) })
  .meta({ id: 'Queue' });

/** `by`: the admin to record in the audit trail (absent: Parley seeding itself, not recorded). */
export async function createQueue(
  db: Db,
  input: QueueInput,
  by?: AuditActor,
): Promise<QueueRow & { memberIds: string[] }> {
  const { memberIds, ...fields } = input;
  const id = await inTransaction(db, async (tx) => {
    await checkOverflowQueue(tx, null, fields.overflowQueueId);
    checkMaxWait(fields);
    checkDispositions(fields.dispositions ?? [], fields.dispositionRequired ?? false);
    await checkDefaultSender(tx, fields.defaultSenderNumberId);
    const [row] = await tx.insert(queues).values(fields).returning({ id: queues.id });
    if (memberIds) await replaceMembers(tx, row!.id, memberIds);
    if (by) await recordQueueChange(tx, by, 'queue.created', row!.id, null);
    return row!.id;
  });
  return getQueue(db, id);
}

export async function updateQueue(
  db: Db,
  id: string,
  input: Partial<QueueInput>,
  by?: AuditActor,
): Promise<QueueRow & { memberIds: string[] }> {
  const { memberIds, ...fields } = input;
  await inTransaction(db, async (tx) => {
    // Locked first: another admin's change of this queue waits, so `before` is what this one
    // replaces, not what both read.
    await tx.select({ id: queues.id }).from(queues).where(eq(queues.id, id)).for('update');
    const before = by && (await auditedQueue(tx, id));
    await checkOverflowQueue(tx, id, fields.overflowQueueId);
    await checkDefaultSender(tx, fields.defaultSenderNumberId);
    const [row] = Object.keys(fields).length
      ? await tx.update(queues).set(fields).where(eq(queues.id, id)).returning({ id: queues.id })
      : await tx.select({ id: queues.id }).from(queues).where(eq(queues.id, id));
    if (!row) throw new AppError('not_found', `queue ${id} does not exist`);
    // What the queue has after the change: the wait and its overflow may change apart.
    const [overflow] = await tx
      .select({
        maxWaitSeconds: queues.maxWaitSeconds,
        overflowQueueId: queues.overflowQueueId,
        overflowMessage: queues.overflowMessage,
      })
      .from(queues)
      .where(eq(queues.id, id));
    checkMaxWait(overflow!);
    if (fields.dispositions !== undefined || fields.dispositionRequired !== undefined) {
      // What the queue has after the change: one field may be changed without the other.
      const [after] = await tx
        .select({ dispositions: queues.dispositions, required: queues.dispositionRequired })
        .from(queues)
        .where(eq(queues.id, id));
      checkDispositions(after!.dispositions, after!.required);
    }
    if (memberIds) await replaceMembers(tx, id, memberIds);
    if (by) await recordQueueChange(tx, by, 'queue.updated', id, before ?? null);
    // New members, skills or limits may let a waiting conversation in now, not at the sweep.
    await wakeRouting(tx, { queueId: id });
  });
  return getQueue(db, id);
}

export async function getQueue(
  db: Executor,
  id: string,
): Promise<QueueRow & { memberIds: string[] }> {
  const [row] = await db.select().from(queues).where(eq(queues.id, id));
  if (!row) throw new AppError('not_found', `queue ${id} does not exist`);
  const members = await db
    .select({ userId: queueMembers.userId })
    .from(queueMembers)
    .where(eq(queueMembers.queueId, id));
  return { ...row, memberIds: members.map((m) => m.userId) };
}

/** A queue as the audit trail compares it: its settings and members, not routing's cursor. */
async function auditedQueue(tx: Executor, id: string): Promise<Record<string, unknown>> {
  const { lastOfferedAgentId: _cursor, createdAt: _created, ...queue } = await getQueue(tx, id);
  return queue;
}

async function recordQueueChange(
  tx: Executor,
  by: AuditActor,
  action: string,
  id: string,
  before: Record<string, unknown> | null,
): Promise<void> {
  const after = await auditedQueue(tx, id);
  await recordChange(tx, { actor: by, action, target: { type: 'queue', id }, before, after });
}

export async function listQueues(db: Executor, archived: ArchivedFilter): Promise<QueueRow[]> {
  return db
    .select()
    .from(queues)
    .where(archived === 'include' ? undefined : isNull(queues.archivedAt))
    .orderBy(asc(queues.name));
}

/** A queue that requires a disposition must offer some to pick from. */
function checkDispositions(dispositions: readonly DispositionCode[], required: boolean): void {
  if (required && dispositions.length === 0) {
    throw new AppError(
      'bad_request',
      'dispositionRequired: add at least one disposition code before requiring one',
      'dispositionRequired',
    );
  }
}

/**
 * A maximum wait needs something to happen when it is over: an overflow queue, or a message
 * to the customer (or both); without either, the wait would end unnoticed.
 */
function checkMaxWait(queue: {
  maxWaitSeconds?: number | null | undefined;
  overflowQueueId?: string | null | undefined;
  overflowMessage?: string | null | undefined;
}): void {
  if (queue.maxWaitSeconds == null || queue.overflowQueueId || queue.overflowMessage) return;
  throw new AppError(
    'bad_request',
    'maxWaitSeconds: a maximum wait needs an overflow queue or an overflow message (or both), to say what happens when the wait is over',
    'maxWaitSeconds',
  );
}

/**
 * Overflow goes to another queue that exists and is in use: the column has no foreign key
 * to say so.
 */
async function checkOverflowQueue(
  tx: Executor,
  queueId: string | null,
  overflowQueueId: string | null | undefined,
): Promise<void> {
  if (!overflowQueueId) return;
  if (overflowQueueId === queueId) {
    throw new AppError('bad_request', 'a queue cannot overflow into itself', 'overflowQueueId');
  }
  const [target] = await tx
    .select({ id: queues.id })
    .from(queues)
    .where(eq(queues.id, overflowQueueId));
  if (!target) {
    throw new AppError('bad_request', `queue ${overflowQueueId} does not exist`, 'overflowQueueId');
  }
  await assertNotArchived(tx, { kind: 'queue', id: overflowQueueId, field: 'overflowQueueId' });
}

/** A default sender is a number the business may write first from: not a Messenger page. */
async function checkDefaultSender(tx: Executor, numberId: string | null | undefined) {
  if (!numberId) return;
  const [number] = await tx
    .select({ address: numbers.address, kind: numbers.kind })
    .from(numbers)
    .where(eq(numbers.id, numberId));
  if (!number) {
    throw new AppError('bad_request', `number ${numberId} does not exist`, 'defaultSenderNumberId');
  }
  await assertNotArchived(tx, { kind: 'number', id: numberId, field: 'defaultSenderNumberId' });
  if (!businessMayStart(channelOfKind(number.kind))) {
    throw new AppError(
      'bad_request',
      `number ${number.address} is a Messenger page, where agents cannot start conversations: it cannot be a default sender`,
      'defaultSenderNumberId',
    );
  }
}

async function replaceMembers(tx: Executor, queueId: string, memberIds: string[]): Promise<void> {
  for (const userId of memberIds) {
    const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId));
    if (!user) throw new AppError('bad_request', `user ${userId} does not exist`, 'memberIds');
  }
  // A member's rank in the queue follows their agent's row (migration 0019): the agents
  // leaving and joining are share-locked in id order, as routing locks them, so this waits
  // for an assignment in flight instead of deadlocking with it.
  const joining = [...new Set(memberIds)].sort();
  await tx.execute(
    sql`SELECT 1 FROM users
        WHERE id IN (SELECT user_id FROM queue_members WHERE queue_id = ${queueId})
           OR id = ANY(${uuidArray(joining)})
        ORDER BY id FOR SHARE`,
  );
  await tx.delete(queueMembers).where(eq(queueMembers.queueId, queueId));
  if (joining.length) {
    await tx.insert(queueMembers).values(joining.map((userId) => ({ queueId, userId })));
  }
}
