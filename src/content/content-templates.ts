/**
 * Content templates: an account's templates as Twilio's Content API last told of them,
 * which of them an agent may send where, and a template choice checked and rendered into the
 * text the customer will read. The only module that writes content_templates.
 */
import { and, asc, eq, inArray, lt, notInArray, sql } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import { z } from 'zod';
import { acceptsTemplates, type Channel, channelOfKind } from '../addresses.js';
import { type AuditActor, auditChanges, recordAudit } from '../audit/audit-log.js';
import { describeTwilioError } from '../channels/twilio/client.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import { listContentTemplates, requestWhatsappApproval } from '../channels/twilio/content.js';
import {
  accounts,
  contentTemplates,
  conversations,
  flows,
  numbers,
  queues,
  type TemplateChoice,
} from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';

export type ContentTemplate = typeof contentTemplates.$inferSelect;

const stringRecord = z.record(z.string(), z.string());
/** A template as admins see it, with its WhatsApp approval. */
export const contentTemplateAdminView = createSelectSchema(contentTemplates, {
  variables: stringRecord,
}).meta({ id: 'AdminContentTemplate' });
/** A template as an agent picks it. */
export const contentTemplateView = z
  .object({
    sid: z.string(),
    friendlyName: z.string(),
    language: z.string(),
    /** The text with its `{{1}}`-style placeholders. */
    body: z.string(),
    /** Placeholder → the sample value defined on Twilio. */
    variables: stringRecord,
    types: z.array(z.string()),
  })
  .meta({ id: 'ContentTemplate' });

export const contentSid = z.string().regex(/^HX[0-9a-fA-F]{32}$/, {
  error: 'a content template SID is HX followed by 32 hex digits',
});
/** A template to send and the values of its placeholders. */
export const templateChoice = z.object({
  contentSid,
  variables: z.record(z.string().max(40), z.string().max(1024)).default({}),
});

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** The placeholders a template's text uses, in order of first use. */
export function placeholdersOf(body: string): string[] {
  return [...new Set([...body.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

/** The text with each placeholder replaced by its value (left as it is when it has none). */
export function fillPlaceholders(body: string, values: Readonly<Record<string, string>>): string {
  return body.replace(PLACEHOLDER, (whole, name: string) => values[name] ?? whole);
}

/**
 * Brings Parley's copy of an account's templates up to date with Twilio: new and changed ones
 * written, those deleted on Twilio removed (messages sent with them keep their SID and text).
 */
export async function syncContentTemplates(
  db: Db,
  clients: Pick<TwilioClients, 'forAccount'>,
  accountId: string,
  by?: AuditActor,
): Promise<{ synced: number; removed: number }> {
  // When this sync read Twilio: of two syncs at once, the one that read later wins, whichever
  // commits last.
  const syncedAt = new Date();
  const [account] = await db
    .select({ id: accounts.id })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  if (!account) throw new AppError('not_found', `account ${accountId} does not exist`);
  let templates: Awaited<ReturnType<typeof listContentTemplates>>;
  try {
    templates = await listContentTemplates(await clients.forAccount(accountId));
  } catch (error) {
    const failure = describeTwilioError(error);
    throw new AppError(
      failure.status === 401 || failure.status === 403 ? 'unprocessable' : 'unavailable',
      `Twilio's Content API did not give the templates: ${failure.message}`,
    );
  }
  // A list read while templates were being created can name one twice.
  templates = [...new Map(templates.map((t) => [t.sid, t])).values()];
  return inTransaction(db, async (tx) => {
    if (templates.length > 0) {
      await tx
        .insert(contentTemplates)
        .values(
          templates.map((t) => ({
            accountId,
            sid: t.sid,
            friendlyName: t.friendlyName,
            language: t.language,
            body: t.body,
            variables: t.variables,
            types: t.types,
            whatsappStatus: t.whatsapp.status,
            whatsappCategory: t.whatsapp.category,
            rejectionReason: t.whatsapp.rejectionReason,
            syncedAt,
          })),
        )
        .onConflictDoUpdate({
          target: [contentTemplates.accountId, contentTemplates.sid],
          set: {
            friendlyName: sqlExcluded('friendly_name'),
            language: sqlExcluded('language'),
            body: sqlExcluded('body'),
            variables: sqlExcluded('variables'),
            types: sqlExcluded('types'),
            whatsappStatus: sqlExcluded('whatsapp_status'),
            whatsappCategory: sqlExcluded('whatsapp_category'),
            rejectionReason: sqlExcluded('rejection_reason'),
            syncedAt,
          },
          setWhere: sql`${contentTemplates.syncedAt} <= excluded.synced_at`,
        });
    }
    const kept = templates.map((t) => t.sid);
    const removed = await tx
      .delete(contentTemplates)
      .where(
        and(
          eq(contentTemplates.accountId, accountId),
          lt(contentTemplates.syncedAt, syncedAt),
          kept.length > 0 ? notInArray(contentTemplates.sid, kept) : undefined,
        ),
      )
      .returning({ id: contentTemplates.id });
    const result = { synced: templates.length, removed: removed.length };
    if (by) {
      await recordAudit(tx, {
        actor: by,
        action: 'content-template.synced',
        target: { type: 'account', id: accountId },
        detail: result,
      });
    }
    return result;
  });
}

/** The value an upsert's conflicting row proposed for the column. */
const sqlExcluded = (column: string) => sql.raw(`excluded.${column}`);

/** What WhatsApp's review needs: a template name of its own and a category. */
export const whatsappApprovalRequest = z.object({
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, {
    error: 'name may hold lowercase letters, digits and underscores only',
  }),
  category: z.enum(['UTILITY', 'MARKETING', 'AUTHENTICATION']),
});

/**
 * Submits a synced template to WhatsApp's review through Twilio, and keeps the new status;
 * `by`: the admin to record in the audit trail.
 */
export async function submitForWhatsappApproval(
  db: Db,
  clients: Pick<TwilioClients, 'forAccount'>,
  id: string,
  request: z.infer<typeof whatsappApprovalRequest>,
  by?: AuditActor,
): Promise<ContentTemplate> {
  const [template] = await db.select().from(contentTemplates).where(eq(contentTemplates.id, id));
  if (!template) throw new AppError('not_found', `content template ${id} does not exist`);
  let approval: Awaited<ReturnType<typeof requestWhatsappApproval>>;
  try {
    approval = await requestWhatsappApproval(
      await clients.forAccount(template.accountId),
      template.sid,
      request,
    );
  } catch (error) {
    const failure = describeTwilioError(error);
    throw new AppError(
      failure.status !== null && failure.status < 500 ? 'unprocessable' : 'unavailable',
      `Twilio did not take the approval request: ${failure.message}`,
    );
  }
  return inTransaction(db, async (tx) => {
    const [updated] = await tx
      .update(contentTemplates)
      .set({
        whatsappStatus: approval.status,
        whatsappCategory: approval.category ?? request.category,
        rejectionReason: approval.rejectionReason,
        syncedAt: new Date(),
      })
      .where(eq(contentTemplates.id, id))
      .returning();
    if (by) {
      const approvalOf = (t: ContentTemplate) => ({
        whatsappStatus: t.whatsappStatus,
        whatsappCategory: t.whatsappCategory,
      });
      // Recorded even when Twilio's answer leaves the status as it was: the request was made.
      const changes = auditChanges(approvalOf(template), approvalOf(updated!));
      await recordAudit(tx, {
        actor: by,
        action: 'content-template.approval-requested',
        target: { type: 'content-template', id },
        ...changes,
        detail: { sid: template.sid, name: request.name, category: request.category },
      });
    }
    return updated!;
  });
}

/** Every synced template, by account then name, for the admin console. */
export async function listAllContentTemplates(
  db: Executor,
  accountId?: string,
): Promise<ContentTemplate[]> {
  return db
    .select()
    .from(contentTemplates)
    .where(accountId ? eq(contentTemplates.accountId, accountId) : undefined)
    .orderBy(asc(contentTemplates.accountId), asc(contentTemplates.friendlyName));
}

/** Whether a template may go out on the channel outside the customer-service window. */
function usableOn(template: ContentTemplate, channel: Channel): boolean {
  if (channel === 'sms') return true;
  return acceptsTemplates(channel) && template.whatsappStatus === 'approved';
}

/**
 * The templates an agent may send from a number: its account's, usable on its channel
 * (approved, for WhatsApp), and among the queue's picks when the queue names some — the
 * conversation's queue, else the queue of the number's flow.
 */
export async function templatesForNumber(
  db: Executor,
  where: { numberId: string; conversationId?: string | undefined },
): Promise<ContentTemplate[]> {
  const [number] = await db
    .select({ accountId: numbers.accountId, kind: numbers.kind, queueId: flows.queueId })
    .from(numbers)
    .leftJoin(flows, eq(flows.id, numbers.flowId))
    .where(eq(numbers.id, where.numberId));
  if (!number)
    throw new AppError('bad_request', `number ${where.numberId} does not exist`, 'numberId');
  let queueId = number.queueId;
  if (where.conversationId) {
    const [conversation] = await db
      .select({ queueId: conversations.queueId })
      .from(conversations)
      .where(eq(conversations.id, where.conversationId));
    queueId = conversation?.queueId ?? queueId;
  }
  const [queue] = queueId
    ? await db
        .select({ contentSids: queues.contentSids })
        .from(queues)
        .where(eq(queues.id, queueId))
    : [];
  const picks = queue?.contentSids ?? [];
  const channel = channelOfKind(number.kind);
  const rows = await db
    .select()
    .from(contentTemplates)
    .where(
      and(
        eq(contentTemplates.accountId, number.accountId),
        picks.length > 0 ? inArray(contentTemplates.sid, picks) : undefined,
      ),
    )
    .orderBy(asc(contentTemplates.friendlyName));
  return rows.filter((row) => usableOn(row, channel));
}

/** A template choice checked for sending, and the text the customer will read. */
export interface ResolvedTemplate {
  contentSid: string;
  variables: Record<string, string>;
  body: string;
}

/**
 * Checks that the account has the template, that the channel accepts it, and that every
 * placeholder has a value; returns the text it renders to. Placeholder values may
 * themselves use Parley's values (`{{customerName}}`, `{{agentName}}`, …): filled from
 * `values`.
 */
export async function resolveTemplate(
  db: Executor,
  where: { accountId: string; channel: Channel },
  choice: TemplateChoice,
  values: Readonly<Record<string, string>> = {},
): Promise<ResolvedTemplate> {
  if (where.channel !== 'sms' && !acceptsTemplates(where.channel)) {
    throw new AppError(
      'bad_request',
      `content templates cannot be sent on ${where.channel}`,
      'template.contentSid',
    );
  }
  const [template] = await db
    .select()
    .from(contentTemplates)
    .where(
      and(
        eq(contentTemplates.accountId, where.accountId),
        eq(contentTemplates.sid, choice.contentSid),
      ),
    );
  if (!template) {
    throw new AppError(
      'bad_request',
      `template ${choice.contentSid} is not one of this account's content templates (sync them in the admin console)`,
      'template.contentSid',
    );
  }
  if (!usableOn(template, where.channel)) {
    throw new AppError(
      'bad_request',
      `template "${template.friendlyName}" (${template.sid}) is not approved for WhatsApp: its status is ${template.whatsappStatus}`,
      'template.contentSid',
    );
  }
  // The text's placeholders, and those Twilio declares elsewhere (a media path, a button's
  // URL): every one gets a value, so no sample value reaches the customer.
  const needed = [
    ...new Set([...placeholdersOf(template.body), ...Object.keys(template.variables)]),
  ];
  const unknown = Object.keys(choice.variables).find((name) => !needed.includes(name));
  if (unknown !== undefined) {
    throw new AppError(
      'bad_request',
      `template "${template.friendlyName}" has no placeholder {{${unknown}}}`,
      `template.variables.${unknown}`,
    );
  }
  const variables: Record<string, string> = {};
  for (const name of needed) {
    const value = fillPlaceholders(choice.variables[name] ?? '', values).trim();
    if (value === '') {
      throw new AppError(
        'bad_request',
        `template "${template.friendlyName}" needs a value for {{${name}}}`,
        `template.variables.${name}`,
      );
    }
    // What Twilio refuses in a value (21656), refused before it is queued.
    if (/[\n\r\t]| {5}/.test(value)) {
      throw new AppError(
        'bad_request',
        `the value of {{${name}}} may not hold line breaks, tabs or more than four spaces in a row`,
        `template.variables.${name}`,
      );
    }
    variables[name] = value;
  }
  return { contentSid: template.sid, variables, body: fillPlaceholders(template.body, variables) };
}
