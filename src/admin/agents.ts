import { asc, eq } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import { z } from 'zod';
import { type AuditActor, recordChange } from '../audit/audit-log.js';
import { createUser, newUserSchema } from '../auth/users.js';
import { users } from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { wakeRouting } from '../routing/wake-ups.js';

const agentProfile = z.object({
  capacitySms: z.number().int().min(0).max(50).optional(),
  capacityWhatsapp: z.number().int().min(0).max(50).optional(),
  capacityMessenger: z.number().int().min(0).max(50).optional(),
  skills: z.record(z.string(), z.number().int().min(0).max(10)).optional(),
  languages: z.array(z.string().trim().min(2).max(10)).optional(),
});

export const agentInput = newUserSchema.extend(agentProfile.shape);
export const agentPatch = agentProfile.extend({
  name: z.string().trim().min(1).optional(),
  role: newUserSchema.shape.role.optional(),
  disabled: z.boolean().optional(),
});
export type AgentInput = z.infer<typeof agentInput>;

const view = {
  id: users.id,
  email: users.email,
  name: users.name,
  role: users.role,
  presence: users.presence,
  capacitySms: users.capacitySms,
  capacityWhatsapp: users.capacityWhatsapp,
  capacityMessenger: users.capacityMessenger,
  skills: users.skills,
  languages: users.languages,
  disabledAt: users.disabledAt,
};

/** A user with an agent's routing profile, as admins see it; never the password hash. */
export const agentView = createSelectSchema(users, { skills: z.record(z.string(), z.number()) })
  .pick({
    id: true,
    email: true,
    name: true,
    role: true,
    presence: true,
    capacitySms: true,
    capacityWhatsapp: true,
    capacityMessenger: true,
    skills: true,
    languages: true,
    disabledAt: true,
  })
  .meta({ id: 'Agent' });
export type AgentView = z.output<typeof agentView>;

/**
 * A user as the audit trail compares them: their profile and whether they are disabled;
 * presence is the agent's own business, and the password never appears.
 */
function audited(agent: AgentView): Record<string, unknown> {
  const { presence: _presence, disabledAt, ...profile } = agent;
  return { ...profile, disabled: disabledAt !== null };
}

/**
 * A user with an agent's routing profile; `by`: the admin to record in the audit trail
 * (absent: Parley seeding itself, not recorded).
 */
export async function createAgent(db: Db, input: AgentInput, by?: AuditActor): Promise<AgentView> {
  const { capacitySms, capacityWhatsapp, capacityMessenger, skills, languages, ...user } = input;
  return inTransaction(db, async (tx) => {
    const created = await createUser(tx, user);
    const profile = {
      ...(capacitySms !== undefined && { capacitySms }),
      ...(capacityWhatsapp !== undefined && { capacityWhatsapp }),
      ...(capacityMessenger !== undefined && { capacityMessenger }),
      ...(skills !== undefined && { skills }),
      ...(languages !== undefined && { languages }),
    };
    // Without a profile the column defaults stand (an UPDATE needs something to set).
    if (Object.keys(profile).length > 0) {
      await tx.update(users).set(profile).where(eq(users.id, created.id));
    }
    const [agent] = await tx.select(view).from(users).where(eq(users.id, created.id));
    if (by) {
      await recordChange(tx, {
        actor: by,
        action: 'user.created',
        target: { type: 'user', id: agent!.id },
        before: null,
        after: audited(agent!),
      });
    }
    return agent!;
  });
}

/**
 * Changes a user's profile, role or whether they are disabled; `by`: the admin to record in
 * the audit trail (`user.disabled`, `user.enabled`, else `user.updated`).
 */
export async function updateAgent(
  db: Db,
  id: string,
  patch: z.infer<typeof agentPatch>,
  by?: AuditActor,
): Promise<AgentView> {
  const { disabled, ...fields } = patch;
  const set = {
    ...fields,
    ...(disabled !== undefined && { disabledAt: disabled ? new Date() : null }),
  };
  return inTransaction(db, async (tx) => {
    // Locked: another admin's change of this user waits, so `before` is what this one replaces.
    const [before] = by
      ? await tx.select(view).from(users).where(eq(users.id, id)).for('update')
      : [];
    const [row] = Object.keys(set).length
      ? await tx.update(users).set(set).where(eq(users.id, id)).returning(view)
      : await tx.select(view).from(users).where(eq(users.id, id));
    if (!row) throw new AppError('not_found', `user ${id} does not exist`);
    if (by && before) {
      const action =
        (before.disabledAt === null) === (row.disabledAt === null)
          ? 'user.updated'
          : row.disabledAt
            ? 'user.disabled'
            : 'user.enabled';
      await recordChange(tx, {
        actor: by,
        action,
        target: { type: 'user', id },
        before: audited(before),
        after: audited(row),
      });
    }
    // More capacity, other skills or an agent enabled again may let a waiting conversation in
    // now rather than at routing's next sweep.
    await wakeRouting(tx, { agentId: id });
    return row;
  });
}

export async function listAgents(db: Executor) {
  return db.select(view).from(users).orderBy(asc(users.name));
}
