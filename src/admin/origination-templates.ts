/**
 * Origination task templates: texts an admin prepares for outreach ("Your order {{orderId}}
 * is ready"), each sent from a fixed number with a fixed strategy. Agents and API clients
 * pick one and give a value for each placeholder; the syntax is the `{{name}}` of quick
 * replies and content templates, and `{{agentName}}` is filled with the sending agent's name.
 */
import { asc, eq } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import { z } from 'zod';
import { businessMayStart, channelOfKind } from '../addresses.js';
import { type AuditActor, recordChange } from '../audit/audit-log.js';
import { fillPlaceholders, placeholdersOf } from '../content/content-templates.js';
import { numbers, originationTemplates } from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError, isUniqueViolation } from '../errors.js';
import { ORIGINATION_STRATEGIES } from '../events.js';

/** Filled by Parley, never asked of the sender. */
const AGENT_NAME = 'agentName';
const MAX_TEXT = 1600;

export const originationTemplateInput = z.object({
  name: z
    .string()
    .trim()
    .min(1, { error: 'name must not be empty' })
    .max(100, { error: 'name has at most 100 characters' }),
  numberId: z.uuid({ error: 'numberId must be the id of a number' }),
  strategy: z.enum(ORIGINATION_STRATEGIES, {
    error: `strategy must be ${ORIGINATION_STRATEGIES.join(' or ')}`,
  }),
  body: z
    .string()
    .max(MAX_TEXT, { error: `body has at most ${MAX_TEXT} characters` })
    .refine((body) => body.trim() !== '', { error: 'body must not be empty' }),
});
export type OriginationTemplateInput = z.infer<typeof originationTemplateInput>;
export type OriginationTemplate = typeof originationTemplates.$inferSelect;

export const originationTemplateView = createSelectSchema(originationTemplates)
  .extend({
    createdAt: z.iso.datetime(),
    /** The placeholders the sender fills in, in order of first use ({{agentName}} excluded). */
    variables: z.array(z.string()),
  })
  .meta({ id: 'OriginationTemplate' });
export type OriginationTemplateView = z.output<typeof originationTemplateView>;

export function presentOriginationTemplate(row: OriginationTemplate): OriginationTemplateView {
  return { ...row, createdAt: row.createdAt.toISOString(), variables: variablesOf(row.body) };
}

/** The placeholders a sender must give values for. */
export function variablesOf(body: string): string[] {
  return placeholdersOf(body).filter((name) => name !== AGENT_NAME);
}

export async function listOriginationTemplates(db: Executor): Promise<OriginationTemplate[]> {
  return db
    .select()
    .from(originationTemplates)
    .orderBy(asc(originationTemplates.name), asc(originationTemplates.id));
}

export async function getOriginationTemplate(
  db: Executor,
  id: string,
  field?: string,
): Promise<OriginationTemplate> {
  const [row] = await db.select().from(originationTemplates).where(eq(originationTemplates.id, id));
  if (!row) {
    const message = `origination template ${id} does not exist`;
    throw field ? new AppError('bad_request', message, field) : new AppError('not_found', message);
  }
  return row;
}

/** Each change takes `by`: the admin to record in the audit trail (absent: not recorded). */
export async function createOriginationTemplate(
  db: Db,
  input: OriginationTemplateInput,
  by?: AuditActor,
): Promise<OriginationTemplate> {
  await assertSenderNumber(db, input.numberId);
  return named(input.name, () =>
    inTransaction(db, async (tx) => {
      const [row] = await tx.insert(originationTemplates).values(input).returning();
      if (by) await recordTemplateChange(tx, by, 'origination-template.created', null, row!);
      return row!;
    }),
  );
}

export async function updateOriginationTemplate(
  db: Db,
  id: string,
  patch: Partial<OriginationTemplateInput>,
  by?: AuditActor,
): Promise<OriginationTemplate> {
  if (patch.numberId !== undefined) await assertSenderNumber(db, patch.numberId);
  const fields = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  return named(patch.name ?? '', () =>
    inTransaction(db, async (tx) => {
      // Locked first: another admin's change of this template waits, so `before` is what this
      // one replaces, not what both read.
      await tx
        .select({ id: originationTemplates.id })
        .from(originationTemplates)
        .where(eq(originationTemplates.id, id))
        .for('update');
      const before = await getOriginationTemplate(tx, id);
      const [row] = Object.keys(fields).length
        ? await tx
            .update(originationTemplates)
            .set(fields)
            .where(eq(originationTemplates.id, id))
            .returning()
        : [before];
      if (by) await recordTemplateChange(tx, by, 'origination-template.updated', before, row!);
      return row!;
    }),
  );
}

export async function deleteOriginationTemplate(
  db: Db,
  id: string,
  by?: AuditActor,
): Promise<void> {
  await inTransaction(db, async (tx) => {
    const [row] = await tx
      .delete(originationTemplates)
      .where(eq(originationTemplates.id, id))
      .returning();
    if (!row) throw new AppError('not_found', `origination template ${id} does not exist`);
    if (by) await recordTemplateChange(tx, by, 'origination-template.deleted', row, null);
  });
}

async function recordTemplateChange(
  tx: Executor,
  by: AuditActor,
  action: string,
  before: OriginationTemplate | null,
  after: OriginationTemplate | null,
): Promise<void> {
  const audited = (template: OriginationTemplate | null) =>
    template && {
      name: template.name,
      numberId: template.numberId,
      strategy: template.strategy,
      body: template.body,
    };
  await recordChange(tx, {
    actor: by,
    action,
    target: { type: 'origination-template', id: (after ?? before)!.id },
    before: audited(before),
    after: audited(after),
  });
}

/**
 * The template's text with the sender's values: each placeholder needs one, and a value for
 * a placeholder the template does not have is refused (a misspelt name would be lost).
 */
export function fillOriginationTemplate(
  template: Pick<OriginationTemplate, 'name' | 'body'>,
  variables: Readonly<Record<string, string>>,
  agentName: string,
): string {
  const needed = variablesOf(template.body);
  const unknown = Object.keys(variables).find((name) => !needed.includes(name));
  if (unknown !== undefined) {
    throw new AppError(
      'bad_request',
      `template "${template.name}" has no placeholder {{${unknown}}}`,
      `variables.${unknown}`,
    );
  }
  const values: Record<string, string> = { [AGENT_NAME]: agentName };
  for (const name of needed) {
    const value = variables[name]?.trim() ?? '';
    if (value === '') {
      throw new AppError(
        'bad_request',
        `template "${template.name}" needs a value for {{${name}}}`,
        `variables.${name}`,
      );
    }
    values[name] = value;
  }
  const text = fillPlaceholders(template.body, values);
  if (text.length > MAX_TEXT) {
    throw new AppError(
      'bad_request',
      `the filled-in text has ${text.length} characters; a message has at most ${MAX_TEXT}`,
      'variables',
    );
  }
  return text;
}

/** The template's number exists and is one a business may write first from. */
async function assertSenderNumber(db: Executor, numberId: string): Promise<void> {
  const [number] = await db
    .select({ address: numbers.address, kind: numbers.kind, archivedAt: numbers.archivedAt })
    .from(numbers)
    .where(eq(numbers.id, numberId));
  if (!number) throw new AppError('bad_request', `number ${numberId} does not exist`, 'numberId');
  if (number.archivedAt) {
    throw new AppError(
      'bad_request',
      `number ${number.address} is archived: restore it or pick another sender`,
      'numberId',
    );
  }
  if (!businessMayStart(channelOfKind(number.kind))) {
    throw new AppError(
      'bad_request',
      `number ${number.address} is a Messenger page, where agents cannot start conversations`,
      'numberId',
    );
  }
}

async function named<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error, 'origination_templates_name_key')) {
      throw new AppError('conflict', `a template named "${name}" already exists`, 'name');
    }
    throw error;
  }
}
