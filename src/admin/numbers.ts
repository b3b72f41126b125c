import { and, asc, eq, isNull } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import { z } from 'zod';
import {
  businessMayStart,
  channelOfAddress,
  channelOfKind,
  DEFAULT_SEND_RATE,
  inferNumberKind,
  type NumberKind,
  normaliseAddress,
} from '../addresses.js';
import type { ArchivedFilter } from '../api-schemas.js';
import { type AuditActor, recordChange } from '../audit/audit-log.js';
import type { Role } from '../auth/users.js';
import { announceConfigChange } from '../db/config-cache.js';
import {
  accounts,
  flows,
  type NUMBER_CAPABILITIES,
  NUMBER_KINDS,
  numbers,
  USER_ROLES,
} from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError, isUniqueViolation } from '../errors.js';
import { ORIGINATION_STRATEGIES } from '../events.js';
import { defaultCountryOf } from './accounts.js';
import { assertNotArchived } from './archiving.js';

export type NumberRow = typeof numbers.$inferSelect;
export type NumberCapability = (typeof NUMBER_CAPABILITIES)[number];

/**
 * Who may start conversations from a number of the kind unless an admin says otherwise:
 * everyone on long codes, toll-free numbers and WhatsApp senders; admins only on a short
 * code, whose carrier-approved campaign covers set messages, not an agent's free text; no
 * one on a Messenger page, where the customer must write first.
 */
export function defaultOriginationRoles(kind: NumberKind): Role[] {
  if (!businessMayStart(channelOfKind(kind))) return [];
  return kind === 'short-code' ? ['admin'] : [...USER_ROLES];
}

/** The roles that may originate from the number now: none when origination is off or it is archived. */
export function originationRolesOf(
  number: Pick<NumberRow, 'kind' | 'originationAllowed' | 'originationRoles' | 'archivedAt'>,
): Role[] {
  if (number.archivedAt || !number.originationAllowed) return [];
  if (!businessMayStart(channelOfKind(number.kind))) return [];
  return number.originationRoles ?? defaultOriginationRoles(number.kind);
}

export const numberInput = z.object({
  accountId: z.uuid({ error: 'accountId must be the id of an account' }),
  address: z.string().min(1, { error: 'address must not be empty' }),
  kind: z.enum(NUMBER_KINDS).optional(),
  name: z.string().trim().max(100).optional(),
  messagingServiceSid: z
    .string()
    .regex(/^MG[0-9a-f]{32}$/, {
      error: 'messagingServiceSid must be MG followed by 32 hex digits',
    })
    .nullable()
    .optional(),
  flowId: z.uuid({ error: 'flowId must be the id of a flow' }).nullable().optional(),
  sendRate: z
    .number()
    .positive({ error: 'sendRate must be a positive number of segments per second' })
    .nullable()
    .optional(),
  originationAllowed: z.boolean({ error: 'originationAllowed must be true or false' }).optional(),
  /** Null: the kind's default (see defaultOriginationRoles). */
  originationRoles: z
    .array(z.enum(USER_ROLES, { error: `originationRoles may hold ${USER_ROLES.join(', ')}` }))
    .nullable()
    .optional(),
  defaultStrategy: z
    .enum(ORIGINATION_STRATEGIES, {
      error: `defaultStrategy must be ${ORIGINATION_STRATEGIES.join(' or ')}`,
    })
    .optional(),
});
export type NumberInput = z.infer<typeof numberInput>;

/** A number as the API shows it, with the URLs to paste into Twilio's console. */
export const numberView = createSelectSchema(numbers)
  .extend({
    /** Messages per second: the number's own rate, else its kind's default. */
    effectiveSendRate: z.number(),
    /** Who may originate from it now: its roles, else its kind's, and none when not allowed. */
    effectiveOriginationRoles: z.array(z.enum(USER_ROLES)),
    webhookUrl: z.string(),
    /** Where Twilio posts when webhookUrl fails (WEBHOOK_FALLBACK_URL, else the public URL). */
    fallbackUrl: z.string(),
    statusCallbackUrl: z.string(),
  })
  .meta({ id: 'Number' });
export type NumberView = z.output<typeof numberView>;

/** The number with its effective send rate and the webhook URLs (the Twilio adapter's). */
export function presentNumber(
  row: NumberRow,
  urls: { webhookUrl: string; fallbackUrl: string; statusCallbackUrl: string },
): NumberView {
  return {
    ...row,
    effectiveSendRate: row.sendRate ?? DEFAULT_SEND_RATE[row.kind],
    effectiveOriginationRoles: originationRolesOf(row),
    webhookUrl: urls.webhookUrl,
    fallbackUrl: urls.fallbackUrl,
    statusCallbackUrl: urls.statusCallbackUrl,
  };
}

/**
 * The number's address as Parley keeps it (E.164 for a phone number typed any common way,
 * national format read in the account's default country) and its kind. 400 naming
 * `address`, `accountId` or `kind` when one does not fit.
 */
export async function readNumberAddress(
  db: Executor,
  input: Pick<NumberInput, 'accountId' | 'address' | 'kind'>,
): Promise<{ address: string; kind: NumberKind }> {
  const address = normaliseAddress(input.address, await defaultCountryOf(db, input.accountId));
  if (!address) {
    throw new AppError(
      'bad_request',
      `address ${JSON.stringify(input.address.trim())} is not a number Parley can read: write a phone number as +14255550123, 14255550123 or in the account's national format, a short code as its digits, whatsapp:+… or messenger:<page id>`,
      'address',
    );
  }
  const kind = input.kind ?? inferNumberKind(address);
  assertKindFits(kind, address);
  return { address, kind };
}

/** What Twilio said of the number when it was added (see lookUpNumber in the Twilio adapter). */
export interface NumberOnTwilio {
  twilioSid: string | null;
  capabilities: NumberCapability[] | null;
}

/** `by`: the admin to record in the audit trail (absent: Parley seeding itself, not recorded). */
export async function createNumber(
  db: Db,
  input: NumberInput,
  onTwilio: NumberOnTwilio = { twilioSid: null, capabilities: null },
  by?: AuditActor,
): Promise<NumberRow> {
  await assertNumberRefs(db, input);
  const { address, kind } = await readNumberAddress(db, input);
  try {
    return await inTransaction(db, async (tx) => {
      const [row] = await tx
        .insert(numbers)
        .values({
          accountId: input.accountId,
          address,
          kind,
          name: input.name ?? '',
          twilioSid: onTwilio.twilioSid,
          capabilities: onTwilio.capabilities,
          messagingServiceSid: input.messagingServiceSid ?? null,
          flowId: input.flowId ?? null,
          sendRate: input.sendRate ?? null,
          originationAllowed: input.originationAllowed ?? true,
          originationRoles: uniqueRoles(input.originationRoles),
          defaultStrategy: input.defaultStrategy ?? 'on-reply',
        })
        .returning();
      await announceConfigChange(tx);
      if (by) await recordNumberChange(tx, by, 'number.created', null, row!);
      return row!;
    });
  } catch (error) {
    if (isUniqueViolation(error, 'numbers_address_key')) {
      // The address stays taken while archived: its texts still arrive and find it.
      const [taken] = await db
        .select({ archivedAt: numbers.archivedAt })
        .from(numbers)
        .where(eq(numbers.address, address));
      throw new AppError(
        'conflict',
        taken?.archivedAt
          ? `number ${address} is already configured and archived: restore it instead`
          : `number ${address} is already configured`,
        'address',
      );
    }
    throw error;
  }
}

export async function updateNumber(
  db: Db,
  id: string,
  patch: Partial<Omit<NumberInput, 'accountId' | 'address'>>,
  by?: AuditActor,
): Promise<NumberRow> {
  await assertNumberRefs(db, patch);
  return inTransaction(db, async (tx) => {
    // Locked first: another admin's change of this number waits, so `before` is what this one
    // replaces, not what both read.
    await tx.select({ id: numbers.id }).from(numbers).where(eq(numbers.id, id)).for('update');
    const before = await getNumber(tx, id);
    if (patch.kind !== undefined) assertKindFits(patch.kind, before.address);
    const [row] = await tx
      .update(numbers)
      .set({
        ...(patch.kind !== undefined && { kind: patch.kind }),
        ...(patch.name !== undefined && { name: patch.name }),
        // Another service: its RCS sender is found again by "Set in Twilio".
        ...(patch.messagingServiceSid !== undefined && {
          messagingServiceSid: patch.messagingServiceSid,
          rcsSender: null,
        }),
        ...(patch.flowId !== undefined && { flowId: patch.flowId }),
        ...(patch.sendRate !== undefined && { sendRate: patch.sendRate }),
        ...(patch.originationAllowed !== undefined && {
          originationAllowed: patch.originationAllowed,
        }),
        ...(patch.originationRoles !== undefined && {
          originationRoles: uniqueRoles(patch.originationRoles),
        }),
        ...(patch.defaultStrategy !== undefined && { defaultStrategy: patch.defaultStrategy }),
      })
      .where(eq(numbers.id, id))
      .returning();
    if (!row) throw new AppError('not_found', `number ${id} does not exist`);
    await announceConfigChange(tx);
    if (by) await recordNumberChange(tx, by, 'number.updated', before, row);
    return row;
  });
}

/** Records a number's change as the audit trail compares it: every field but its creation time. */
async function recordNumberChange(
  tx: Executor,
  by: AuditActor,
  action: string,
  before: NumberRow | null,
  after: NumberRow,
): Promise<void> {
  const audited = ({ createdAt: _created, ...number }: NumberRow) => number;
  await recordChange(tx, {
    actor: by,
    action,
    target: { type: 'number', id: after.id },
    before: before && audited(before),
    after: audited(after),
  });
}

/**
 * What "Set in Twilio" found of the number's Messaging Service: its RCS sender, if any;
 * kept only while the number is still on that service.
 */
export async function recordRcsSender(
  db: Executor,
  id: string,
  found: { serviceSid: string; rcsSender: string | null },
): Promise<void> {
  await db
    .update(numbers)
    .set({ rcsSender: found.rcsSender })
    .where(and(eq(numbers.id, id), eq(numbers.messagingServiceSid, found.serviceSid)));
  await announceConfigChange(db);
}

export async function listNumbers(db: Executor, archived: ArchivedFilter): Promise<NumberRow[]> {
  return db
    .select()
    .from(numbers)
    .where(archived === 'include' ? undefined : isNull(numbers.archivedAt))
    .orderBy(asc(numbers.address));
}

export async function getNumber(db: Executor, id: string): Promise<NumberRow> {
  const [row] = await db.select().from(numbers).where(eq(numbers.id, id));
  if (!row) throw new AppError('not_found', `number ${id} does not exist`);
  return row;
}

/**
 * The number an inbound webhook is for: by its Messaging Service when Twilio names one that
 * a number of ours belongs to, else by the `To` address.
 */
export async function findNumberForWebhook(
  db: Executor,
  params: { to: string; messagingServiceSid?: string | undefined },
): Promise<NumberRow | undefined> {
  if (params.messagingServiceSid) {
    const inService = await db
      .select()
      .from(numbers)
      .where(eq(numbers.messagingServiceSid, params.messagingServiceSid));
    const exact = inService.find((n) => n.address === params.to);
    // An archived number still answers, but one in use speaks for the service first.
    const any = inService.find((n) => !n.archivedAt) ?? inService[0];
    if (exact ?? any) return exact ?? any;
  }
  const [byAddress] = await db.select().from(numbers).where(eq(numbers.address, params.to));
  return byAddress;
}

function uniqueRoles(roles: Role[] | null | undefined): Role[] | null {
  return roles ? [...new Set(roles)] : null;
}

/** The kind's channel is the address's: whatsapp with `whatsapp:+…`, messenger with `messenger:…`. */
function assertKindFits(kind: NumberKind, address: string): void {
  if (channelOfKind(kind) === channelOfAddress(address)) return;
  throw new AppError(
    'bad_request',
    'kind whatsapp goes with a whatsapp:+… address, kind messenger with a messenger:<page id> address, the other kinds with a phone number or short code',
    'kind',
  );
}

/** The account and flow a number names exist and are in use (400 naming the field). */
export async function assertNumberRefs(
  db: Executor,
  refs: { accountId?: string | undefined; flowId?: string | null | undefined },
): Promise<void> {
  if (refs.accountId) {
    const [account] = await db
      .select({ id: accounts.id })
      .from(accounts)
      .where(eq(accounts.id, refs.accountId));
    if (!account)
      throw new AppError('bad_request', `account ${refs.accountId} does not exist`, 'accountId');
    await assertNotArchived(db, { kind: 'account', id: refs.accountId, field: 'accountId' });
  }
  if (refs.flowId) {
    const [flow] = await db.select({ id: flows.id }).from(flows).where(eq(flows.id, refs.flowId));
    if (!flow) throw new AppError('bad_request', `flow ${refs.flowId} does not exist`, 'flowId');
    await assertNotArchived(db, { kind: 'flow', id: refs.flowId, field: 'flowId' });
  }
}
