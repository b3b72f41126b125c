/**
 * Archiving accounts, numbers and queues (flows: flows/flow-archiving.ts). Nothing is ever
 * deleted: conversations, reports and transcripts point at these rows and keep their names.
 * An archived row leaves pickers and lists (admin lists show it when asked), and nothing new
 * may point at it; restoring puts it back as it was. Archiving is refused while something in
 * use still depends on the row, with a sentence that names it:
 * - an account while it has numbers that are not archived;
 * - a number while it has open conversations, unless the admin says to close them;
 * - a queue while a flow sends to it, another queue overflows into it, or conversations wait
 *   in it (those already with an agent stay with them).
 * An archived number still answers: Twilio keeps posting to it until it is released there,
 * and a text is never lost (see inbound/webhooks.routes.ts).
 */
import { and, eq, isNull, ne } from 'drizzle-orm';
import { type AuditActor, recordAudit, recordChange } from '../audit/audit-log.js';
import { countWaitingIn, openConversationsOn } from '../conversations/conversations.js';
import { announceConfigChange } from '../db/config-cache.js';
import { accounts, flows, numbers, queues } from '../db/schema.js';
import type { Db, Executor, Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';

/** Closes open conversations in the caller's transaction (flows/closing.ts closeConversations). */
export type CloseForArchive = (
  tx: Tx,
  due: readonly { id: string; agentId: string | null }[],
  close: { reason: 'number-archived'; byUserId: string },
) => Promise<unknown>;

/** "a", "a and b", "a, b and c": the things a refusal names. */
export function nameList(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** How a number is named in a sentence: its address, and its name when it has one. */
function numberLabel(number: { address: string; name: string; archivedAt: Date | null }): string {
  const label = number.name ? `${number.address} (${number.name})` : number.address;
  return number.archivedAt ? `${label}, archived` : label;
}

/** Each of these takes `by`: the admin to record in the audit trail when something changed. */
export async function archiveAccount(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const account = await lockAccount(tx, id);
    if (account.archivedAt) return;
    const inUse = await tx
      .select({ address: numbers.address, name: numbers.name, archivedAt: numbers.archivedAt })
      .from(numbers)
      .where(and(eq(numbers.accountId, id), isNull(numbers.archivedAt)))
      .orderBy(numbers.address);
    if (inUse.length > 0) {
      throw new AppError(
        'conflict',
        `account ${account.name} still has ${inUse.length === 1 ? 'number' : 'numbers'} ${nameList(inUse.map(numberLabel))}: archive ${inUse.length === 1 ? 'it' : 'them'} first`,
        'id',
      );
    }
    const archivedAt = new Date();
    await tx.update(accounts).set({ archivedAt }).where(eq(accounts.id, id));
    await announceConfigChange(tx);
    await recordArchiving(tx, by, { type: 'account', id }, null, archivedAt);
  });
}

export async function restoreAccount(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const account = await lockAccount(tx, id);
    await tx.update(accounts).set({ archivedAt: null }).where(eq(accounts.id, id));
    await announceConfigChange(tx);
    await recordArchiving(tx, by, { type: 'account', id }, account.archivedAt, null);
  });
}

/**
 * Archives a number. Its open conversations are closed (reason number-archived, with the
 * flow's final response) when `openConversations` is 'close'; without it they refuse the
 * archive, counted. A text arriving meanwhile is stored all the same: in a conversation
 * counted (and closed) here, or in one opened after, as an archived number still answers.
 */
export async function archiveNumber(
  db: Db,
  id: string,
  request: { openConversations?: 'close' | undefined; byUserId: string; close: CloseForArchive },
  by?: AuditActor,
): Promise<void> {
  await inTransaction(db, async (tx) => {
    const number = await lockNumber(tx, id);
    // Again: nothing changes, unless told to close what texts opened since.
    if (number.archivedAt && request.openConversations !== 'close') return;
    const open = await openConversationsOn(tx, id);
    if (open.length > 0 && request.openConversations !== 'close') {
      throw new AppError(
        'conflict',
        `number ${numberLabel(number)} has ${open.length} open ${open.length === 1 ? 'conversation' : 'conversations'}: end ${open.length === 1 ? 'it' : 'them'} first, or archive with openConversations=close to close ${open.length === 1 ? 'it' : 'them'} now`,
        'openConversations',
      );
    }
    await request.close(tx, open, { reason: 'number-archived', byUserId: request.byUserId });
    const detail = open.length > 0 ? { closedConversations: open.length } : null;
    if (number.archivedAt) {
      // Archived already: what changed is the conversations closed now.
      if (by && detail) {
        await recordAudit(tx, {
          actor: by,
          action: 'number.conversations-closed',
          target: { type: 'number', id },
          detail,
        });
      }
      return;
    }
    const archivedAt = new Date();
    await tx.update(numbers).set({ archivedAt }).where(eq(numbers.id, id));
    await announceConfigChange(tx);
    await recordArchiving(tx, by, { type: 'number', id }, null, archivedAt, detail);
  });
}

/** Restores a number, whose account must be in use (restore the account first). */
export async function restoreNumber(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const number = await lockNumber(tx, id);
    const [account] = await tx
      .select({ name: accounts.name, archivedAt: accounts.archivedAt })
      .from(accounts)
      .where(eq(accounts.id, number.accountId))
      .for('share');
    if (account?.archivedAt) {
      throw new AppError(
        'conflict',
        `number ${number.address} is on account ${account.name}, which is archived: restore the account first`,
        'id',
      );
    }
    await tx.update(numbers).set({ archivedAt: null }).where(eq(numbers.id, id));
    await announceConfigChange(tx);
    await recordArchiving(tx, by, { type: 'number', id }, number.archivedAt, null);
  });
}

export async function archiveQueue(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const queue = await lockQueue(tx, id);
    if (queue.archivedAt) return;
    const targetOf = await tx
      .select({ name: flows.name })
      .from(flows)
      .where(eq(flows.queueId, id))
      .orderBy(flows.name);
    if (targetOf.length > 0) {
      throw new AppError(
        'conflict',
        `queue ${queue.name} is the target of ${targetOf.length === 1 ? 'flow' : 'flows'} ${nameList(targetOf.map((f) => f.name))}: give ${targetOf.length === 1 ? 'it' : 'them'} another queue first`,
        'id',
      );
    }
    const overflowOf = await tx
      .select({ name: queues.name })
      .from(queues)
      .where(and(eq(queues.overflowQueueId, id), ne(queues.id, id)))
      .orderBy(queues.name);
    if (overflowOf.length > 0) {
      throw new AppError(
        'conflict',
        `queue ${queue.name} is the overflow queue of ${overflowOf.length === 1 ? 'queue' : 'queues'} ${nameList(overflowOf.map((q) => q.name))}: change their overflow first`,
        'id',
      );
    }
    const waiting = await countWaitingIn(tx, id);
    if (waiting > 0) {
      throw new AppError(
        'conflict',
        `queue ${queue.name} has ${waiting} waiting ${waiting === 1 ? 'conversation' : 'conversations'}: transfer or end ${waiting === 1 ? 'it' : 'them'} first`,
        'id',
      );
    }
    const archivedAt = new Date();
    await tx.update(queues).set({ archivedAt }).where(eq(queues.id, id));
    await recordArchiving(tx, by, { type: 'queue', id }, null, archivedAt);
  });
}

export async function restoreQueue(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const queue = await lockQueue(tx, id);
    await tx.update(queues).set({ archivedAt: null }).where(eq(queues.id, id));
    await recordArchiving(tx, by, { type: 'queue', id }, queue.archivedAt, null);
  });
}

/**
 * Records `<type>.archived` or `<type>.restored` in the caller's transaction, when the row's
 * archivedAt changed and an admin did it.
 */
export async function recordArchiving(
  tx: Executor,
  by: AuditActor | undefined,
  target: { type: 'account' | 'number' | 'flow' | 'queue'; id: string },
  was: Date | null,
  is: Date | null,
  detail: Record<string, unknown> | null = null,
): Promise<void> {
  if (!by || (was === null) === (is === null)) return;
  await recordChange(tx, {
    actor: by,
    action: `${target.type}.${is ? 'archived' : 'restored'}`,
    target,
    before: { archivedAt: was },
    after: { archivedAt: is },
    detail,
  });
}

/**
 * 400 naming the field when a reference points at an archived row: nothing new may point at
 * one. Share-locks the row, so that archiving it waits for the change that points at it.
 */
export async function assertNotArchived(
  tx: Executor,
  ref: { kind: 'account' | 'number' | 'flow' | 'queue'; id: string; field: string },
): Promise<void> {
  const table = { account: accounts, number: numbers, flow: flows, queue: queues }[ref.kind];
  const [row] = await tx
    .select({ archivedAt: table.archivedAt })
    .from(table)
    .where(eq(table.id, ref.id))
    .for('share');
  if (row?.archivedAt) {
    throw new AppError(
      'bad_request',
      `${ref.field}: ${ref.kind} ${ref.id} is archived; restore it or pick another`,
      ref.field,
    );
  }
}

async function lockAccount(tx: Tx, id: string) {
  const [row] = await tx
    .select({ name: accounts.name, archivedAt: accounts.archivedAt })
    .from(accounts)
    .where(eq(accounts.id, id))
    .for('update');
  if (!row) throw new AppError('not_found', `account ${id} does not exist`);
  return row;
}

async function lockNumber(tx: Tx, id: string) {
  const [row] = await tx
    .select({
      address: numbers.address,
      name: numbers.name,
      accountId: numbers.accountId,
      archivedAt: numbers.archivedAt,
    })
    .from(numbers)
    .where(eq(numbers.id, id))
    .for('update');
  if (!row) throw new AppError('not_found', `number ${id} does not exist`);
  return row;
}

async function lockQueue(tx: Tx, id: string) {
  const [row] = await tx
    .select({ name: queues.name, archivedAt: queues.archivedAt })
    .from(queues)
    .where(eq(queues.id, id))
    .for('update');
  if (!row) throw new AppError('not_found', `queue ${id} does not exist`);
  return row;
}
