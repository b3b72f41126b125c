/**
 * Archiving a flow (the rules of archiving: admin/archiving.ts). A flow that numbers use,
 * archived ones included (they still answer texts), cannot be archived: the refusal names them.
 */
import { eq } from 'drizzle-orm';
import { nameList, recordArchiving } from '../admin/archiving.js';
import type { AuditActor } from '../audit/audit-log.js';
import { flows, numbers } from '../db/schema.js';
import type { Db, Tx } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';

/** `by`: the admin to record in the audit trail when something changed. */
export async function archiveFlow(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const flow = await lockFlow(tx, id);
    if (flow.archivedAt) return;
    const usedBy = await tx
      .select({ address: numbers.address, archivedAt: numbers.archivedAt })
      .from(numbers)
      .where(eq(numbers.flowId, id))
      .orderBy(numbers.address);
    if (usedBy.length > 0) {
      const names = usedBy.map((n) => (n.archivedAt ? `${n.address} (archived)` : n.address));
      throw new AppError(
        'conflict',
        `flow ${flow.name} is used by ${usedBy.length === 1 ? 'number' : 'numbers'} ${nameList(names)}: give ${usedBy.length === 1 ? 'it' : 'them'} another flow first`,
        'id',
      );
    }
    const archivedAt = new Date();
    await tx.update(flows).set({ archivedAt }).where(eq(flows.id, id));
    await recordArchiving(tx, by, { type: 'flow', id }, null, archivedAt);
  });
}

export async function restoreFlow(db: Db, id: string, by?: AuditActor): Promise<void> {
  await inTransaction(db, async (tx) => {
    const flow = await lockFlow(tx, id);
    await tx.update(flows).set({ archivedAt: null }).where(eq(flows.id, id));
    await recordArchiving(tx, by, { type: 'flow', id }, flow.archivedAt, null);
  });
}

async function lockFlow(tx: Tx, id: string) {
  const [row] = await tx
    .select({ name: flows.name, archivedAt: flows.archivedAt })
    .from(flows)
    .where(eq(flows.id, id))
    .for('update');
  if (!row) throw new AppError('not_found', `flow ${id} does not exist`);
  return row;
}
