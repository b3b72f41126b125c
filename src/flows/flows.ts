import { asc, eq, isNull } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import { z } from 'zod';
import { assertNotArchived } from '../admin/archiving.js';
import type { ArchivedFilter } from '../api-schemas.js';
import { type AuditActor, recordChange } from '../audit/audit-log.js';
import { templateChoice } from '../content/content-templates.js';
import { announceConfigChange } from '../db/config-cache.js';
import { flowHolidays, flowHours, flows, numbers, queues } from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { AUTOMATED_MESSAGES, SURVEY_SCALES } from '../events.js';
import { isOpen, isValidTimeZone, type OpeningInterval } from './hours.js';
import { FLOW_MESSAGE_KINDS } from './messages.js';

const time = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'times are HH:MM, 00:00 to 23:59' });
const message = z.string().trim().max(1600).nullable().optional();
/** Per automated message, the template sent instead once a WhatsApp window has closed. */
const windowTemplates = z.partialRecord(z.enum(AUTOMATED_MESSAGES), templateChoice);

/** A BCP 47 language tag as flows and contacts name languages: en, es, fr-CA, zh-Hant. */
const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const LANGUAGE_ERROR = 'a language is a BCP 47 tag such as en, es or fr-CA';
const languageTag = z.string().trim().regex(LANGUAGE_TAG, { error: LANGUAGE_ERROR });
/** Per language, the automated messages in it; a message left out falls back to the main text. */
const messageVariants = z
  .record(z.string(), z.partialRecord(z.enum(FLOW_MESSAGE_KINDS), z.string().trim().max(1600)))
  .superRefine((variants, ctx) => {
    // Checked here rather than as the record's key schema, whose error names no language.
    for (const tag of Object.keys(variants)) {
      if (!LANGUAGE_TAG.test(tag)) {
        ctx.addIssue({ code: 'custom', path: [tag], message: `“${tag}”: ${LANGUAGE_ERROR}` });
      }
    }
  });

export const flowInput = z.object({
  name: z.string().trim().min(1, { error: 'name must not be empty' }),
  businessName: z.string().trim().max(100).optional(),
  timeZone: z
    .string()
    .refine(isValidTimeZone, { error: 'timeZone must be an IANA time zone such as Europe/Paris' })
    .optional(),
  queueId: z.uuid().nullable().optional(),
  initialMessage: message,
  outOfHoursMessage: message,
  outOfHoursAction: z.enum(['queue', 'close']).optional(),
  queuePositionMessage: message,
  finalMessage: message,
  helpMessage: message,
  botUrl: z
    .url({ protocol: /^https?$/ })
    .nullable()
    .optional(),
  botRetries: z.number().int().min(0).max(10).optional(),
  botTimeoutMs: z.number().int().min(100).max(30_000).optional(),
  allowAttachments: z.boolean().optional(),
  allowAgentAttachments: z.boolean().optional(),
  attachmentsRefusedMessage: message,
  inactivityCloseMinutes: z.number().int().min(1).max(43_200).nullable().optional(),
  surveyMessage: message,
  surveyScale: z.enum(SURVEY_SCALES).optional(),
  surveyWindowMinutes: z
    .number()
    .int()
    .min(5, { error: 'surveyWindowMinutes must be 5 minutes to 7 days' })
    .max(10_080, { error: 'surveyWindowMinutes must be 5 minutes to 7 days' })
    .optional(),
  surveyCommentPrompt: message,
  surveyThanksMessage: message,
  affinityTtlHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .optional(),
  affinityBeyondCapacity: z.boolean().optional(),
  greetOutreachReplies: z.boolean().optional(),
  language: languageTag.optional(),
  messageVariants: messageVariants.optional(),
  windowTemplates: windowTemplates.optional(),
  hours: z
    .array(
      z
        .object({ weekday: z.number().int().min(0).max(6), opensAt: time, closesAt: time })
        .refine((h) => h.opensAt < h.closesAt, { error: 'an interval must open before it closes' }),
    )
    .optional(),
  holidays: z
    .array(
      z.object({
        day: z.iso.date({ error: 'holidays are YYYY-MM-DD dates' }),
        name: z.string().trim().max(100).optional(),
      }),
    )
    .optional(),
});
export type FlowInput = z.infer<typeof flowInput>;

export type FlowRow = typeof flows.$inferSelect;
export interface Flow extends FlowRow {
  hours: OpeningInterval[];
  holidays: { day: string; name: string }[];
}

/** A flow as listed; as read one by one, with its hours and holidays too. */
export const flowSummaryView = createSelectSchema(flows, { windowTemplates, messageVariants }).meta(
  {
    id: 'FlowSummary',
  },
);
export const flowView = flowSummaryView
  .extend({
    hours: z.array(z.object({ weekday: z.number(), opensAt: z.string(), closesAt: z.string() })),
    holidays: z.array(z.object({ day: z.string(), name: z.string() })),
    /** What the flow would do that its admin probably does not want, in sentences. */
    warnings: z.array(z.string()),
  })
  .meta({ id: 'Flow' });

/** A flow as the admin console shows it: with the warnings of flowWarnings. */
export function describeFlow(flow: Flow): Flow & { warnings: string[] } {
  return { ...flow, warnings: flowWarnings(flow) };
}

/**
 * Settings that are valid but leave a customer without an answer, or a message without
 * effect: saved as the admin asked, and said.
 */
export function flowWarnings(flow: Flow): string[] {
  const warnings: string[] = [];
  const hasHours = flow.hours.length > 0 || flow.holidays.length > 0;
  if (hasHours && !flow.outOfHoursMessage) {
    warnings.push(
      flow.outOfHoursAction === 'close'
        ? 'Out of hours, conversations close without a word to the customer: add an out-of-hours message.'
        : 'Out of hours, customers get no answer while they wait in the queue: add an out-of-hours message, or close conversations out of hours with one.',
    );
  }
  if (!flow.surveyMessage && (flow.surveyCommentPrompt || flow.surveyThanksMessage)) {
    warnings.push(
      'The survey comment prompt and thanks message are never sent without a survey question.',
    );
  }
  if (!flow.queueId) {
    warnings.push(
      'Conversations have no target queue: no agent is offered them until a supervisor assigns them.',
    );
  }
  return warnings;
}

/** `by`: the admin to record in the audit trail (absent: Parley seeding itself, not recorded). */
export async function createFlow(db: Db, input: FlowInput, by?: AuditActor): Promise<Flow> {
  await assertQueue(db, input.queueId);
  const { hours, holidays, ...fields } = input;
  const id = await inTransaction(db, async (tx) => {
    const [row] = await tx.insert(flows).values(fields).returning({ id: flows.id });
    await replaceSchedule(tx, row!.id, hours ?? [], holidays ?? []);
    await announceConfigChange(tx);
    if (by) await recordFlowChange(tx, by, 'flow.created', row!.id, null);
    return row!.id;
  });
  return getFlow(db, id);
}

export async function updateFlow(
  db: Db,
  id: string,
  input: Partial<FlowInput>,
  by?: AuditActor,
): Promise<Flow> {
  await assertQueue(db, input.queueId);
  const { hours, holidays, ...fields } = input;
  await inTransaction(db, async (tx) => {
    // Locked first: another admin's change of this flow waits, so `before` is what this one
    // replaces, not what both read.
    await tx.select({ id: flows.id }).from(flows).where(eq(flows.id, id)).for('update');
    const before = by && (await auditedFlow(tx, id));
    const [row] = Object.keys(fields).length
      ? await tx.update(flows).set(fields).where(eq(flows.id, id)).returning({ id: flows.id })
      : await tx.select({ id: flows.id }).from(flows).where(eq(flows.id, id));
    if (!row) throw new AppError('not_found', `flow ${id} does not exist`);
    if (hours !== undefined || holidays !== undefined) {
      const current = await getFlow(tx, id);
      await replaceSchedule(tx, id, hours ?? current.hours, holidays ?? current.holidays);
    }
    await announceConfigChange(tx);
    if (by) await recordFlowChange(tx, by, 'flow.updated', id, before ?? null);
  });
  return getFlow(db, id);
}

/** A flow as the audit trail compares it: its settings, hours and holidays. */
async function auditedFlow(tx: Executor, id: string): Promise<Record<string, unknown>> {
  const { createdAt: _created, ...flow } = await getFlow(tx, id);
  return flow;
}

async function recordFlowChange(
  tx: Executor,
  by: AuditActor,
  action: string,
  id: string,
  before: Record<string, unknown> | null,
): Promise<void> {
  const after = await auditedFlow(tx, id);
  await recordChange(tx, { actor: by, action, target: { type: 'flow', id }, before, after });
}

export async function getFlow(db: Executor, id: string): Promise<Flow> {
  const [row] = await db.select().from(flows).where(eq(flows.id, id));
  if (!row) throw new AppError('not_found', `flow ${id} does not exist`);
  const hours = await db
    .select({
      weekday: flowHours.weekday,
      opensAt: flowHours.opensAt,
      closesAt: flowHours.closesAt,
    })
    .from(flowHours)
    .where(eq(flowHours.flowId, id))
    .orderBy(asc(flowHours.weekday), asc(flowHours.opensAt));
  const holidays = await db
    .select({ day: flowHolidays.day, name: flowHolidays.name })
    .from(flowHolidays)
    .where(eq(flowHolidays.flowId, id))
    .orderBy(asc(flowHolidays.day));
  return {
    ...row,
    hours: hours.map((h) => ({
      ...h,
      opensAt: h.opensAt.slice(0, 5),
      closesAt: h.closesAt.slice(0, 5),
    })),
    holidays,
  };
}

export async function listFlows(db: Executor, archived: ArchivedFilter): Promise<FlowRow[]> {
  return db
    .select()
    .from(flows)
    .where(archived === 'include' ? undefined : isNull(flows.archivedAt))
    .orderBy(asc(flows.name));
}

/** The flow of the number a conversation is on, if the number has one. */
export async function flowOfNumber(db: Executor, numberId: string): Promise<Flow | undefined> {
  const [number] = await db
    .select({ flowId: numbers.flowId })
    .from(numbers)
    .where(eq(numbers.id, numberId));
  return number?.flowId ? getFlow(db, number.flowId) : undefined;
}

/** Whether the flow is open at an instant: its weekly hours and holidays in its time zone. */
export function isFlowOpen(flow: Flow, at: Date): boolean {
  return isOpen(at, {
    timeZone: flow.timeZone,
    hours: flow.hours,
    holidays: flow.holidays.map((h) => h.day),
  });
}

async function replaceSchedule(
  tx: Executor,
  flowId: string,
  hours: OpeningInterval[],
  holidays: { day: string; name?: string | undefined }[],
): Promise<void> {
  await tx.delete(flowHours).where(eq(flowHours.flowId, flowId));
  await tx.delete(flowHolidays).where(eq(flowHolidays.flowId, flowId));
  if (hours.length) await tx.insert(flowHours).values(hours.map((h) => ({ ...h, flowId })));
  if (holidays.length) {
    await tx
      .insert(flowHolidays)
      .values(holidays.map((h) => ({ flowId, day: h.day, name: h.name ?? '' })))
      .onConflictDoNothing();
  }
}

async function assertQueue(db: Executor, queueId: string | null | undefined): Promise<void> {
  if (!queueId) return;
  const [queue] = await db.select({ id: queues.id }).from(queues).where(eq(queues.id, queueId));
  if (!queue) throw new AppError('bad_request', `queue ${queueId} does not exist`, 'queueId');
  await assertNotArchived(db, { kind: 'queue', id: queueId, field: 'queueId' });
}
