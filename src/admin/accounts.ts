import { eq, isNull } from 'drizzle-orm';
import { createSelectSchema } from 'drizzle-zod';
import type { CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import { type ArchivedFilter, countryCode } from '../api-schemas.js';
import { type AuditActor, recordChange } from '../audit/audit-log.js';
import { announceConfigChange } from '../db/config-cache.js';
import { accounts } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import { AppError, isUniqueViolation } from '../errors.js';
import type { SecretBox } from '../secret-box.js';

const accountName = z.string().trim().min(1, { error: 'name must not be empty' });
const authToken = z.string().min(1, { error: 'authToken must not be empty' });
const apiKeySid = z
  .string()
  .regex(/^SK[0-9a-f]{32}$/, { error: 'apiKeySid must be SK followed by 32 hex digits' });
const apiKeySecret = z.string().min(1, { error: 'apiKeySecret must not be empty' });
/** Days message bodies and media are kept (src/retention/); null: for ever. */
const retentionDays = z
  .int({ error: 'retentionDays must be a whole number of days, or null to keep messages for ever' })
  .min(1, { error: 'retentionDays must be at least 1' })
  .max(36_500, { error: 'retentionDays must be at most 36500 (100 years)' })
  .nullable();

export const newAccountSchema = z
  .object({
    name: accountName,
    accountSid: z
      .string()
      .regex(/^AC[0-9a-f]{32}$/, { error: 'accountSid must be AC followed by 32 hex digits' }),
    authToken,
    apiKeySid: apiKeySid.optional(),
    apiKeySecret: apiKeySecret.optional(),
    /** Where a number typed in national format is read; default US. */
    defaultCountry: countryCode.optional(),
    retentionDays: retentionDays.optional(),
  })
  .refine((a) => (a.apiKeySid === undefined) === (a.apiKeySecret === undefined), {
    error: 'apiKeySid and apiKeySecret go together',
    path: ['apiKeySecret'],
  });
export type NewAccount = z.infer<typeof newAccountSchema>;

/**
 * A rename, a new Auth Token (rotation), a new API key (SID and secret together), or
 * `apiKeySid: null` to go back to the Auth Token. The Account SID never changes.
 */
export const accountPatchSchema = z
  .object({
    name: accountName.optional(),
    authToken: authToken.optional(),
    apiKeySid: apiKeySid.nullable().optional(),
    apiKeySecret: apiKeySecret.optional(),
    defaultCountry: countryCode.optional(),
    retentionDays: retentionDays.optional(),
  })
  .refine((a) => (typeof a.apiKeySid === 'string') === (a.apiKeySecret !== undefined), {
    error: 'a new apiKeySid and its apiKeySecret go together',
    path: ['apiKeySecret'],
  });
export type AccountPatch = z.infer<typeof accountPatchSchema>;

/** Whether the patch changes what Parley signs in to Twilio with. */
export function changesCredentials(patch: AccountPatch): boolean {
  return (
    patch.authToken !== undefined ||
    patch.apiKeySid !== undefined ||
    patch.apiKeySecret !== undefined
  );
}

/** The credentials an account would have with the patch applied. */
export function patchedCredentials(
  current: AccountCredentials,
  patch: AccountPatch,
): AccountCredentials {
  return {
    accountSid: current.accountSid,
    authToken: patch.authToken ?? current.authToken,
    apiKeySid: patch.apiKeySid === undefined ? current.apiKeySid : patch.apiKeySid,
    apiKeySecret:
      patch.apiKeySid === undefined
        ? current.apiKeySecret
        : patch.apiKeySid === null
          ? null
          : (patch.apiKeySecret ?? null),
  };
}

/** `by`: the admin to record in the audit trail, secrets as changed only (absent: not recorded). */
export async function updateAccount(
  db: Executor,
  box: SecretBox,
  id: string,
  patch: AccountPatch,
  by?: AuditActor,
): Promise<AccountView> {
  // Locked first (the caller's transaction): another admin's change of this account waits, so
  // the credentials merged and the audit's `before` are what this change replaces.
  await db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, id)).for('update');
  const current = await getAccountCredentials(db, box, id);
  const next = patchedCredentials(current, patch);
  if (
    patch.name === undefined &&
    patch.defaultCountry === undefined &&
    patch.retentionDays === undefined &&
    !changesCredentials(patch)
  ) {
    const [unchanged] = await db.select(view).from(accounts).where(eq(accounts.id, id));
    return unchanged!;
  }
  const [before] = by ? await db.select(view).from(accounts).where(eq(accounts.id, id)) : [];
  const [row] = await db
    .update(accounts)
    .set({
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.defaultCountry !== undefined && { defaultCountry: patch.defaultCountry }),
      ...(patch.retentionDays !== undefined && { retentionDays: patch.retentionDays }),
      ...(changesCredentials(patch) && {
        authTokenEnc: box.seal(next.authToken),
        apiKeySid: next.apiKeySid,
        apiKeySecretEnc: next.apiKeySecret === null ? null : box.seal(next.apiKeySecret),
      }),
    })
    .where(eq(accounts.id, id))
    .returning(view);
  if (!row) throw new AppError('not_found', `account ${id} does not exist`);
  await announceConfigChange(db);
  if (by && before) {
    await recordChange(db, {
      actor: by,
      action: 'account.updated',
      target: { type: 'account', id },
      before: auditedAccount(before, current),
      after: auditedAccount(row, next),
    });
  }
  return row;
}

/**
 * An account as the audit trail compares it. Its credentials go in only to be compared:
 * auditChanges keeps "(secret changed)" of them, never a value.
 */
function auditedAccount(account: AccountView, credentials: AccountCredentials) {
  const { createdAt: _created, archivedAt: _archived, ...fields } = account;
  return { ...fields, authToken: credentials.authToken, apiKeySecret: credentials.apiKeySecret };
}

/** An account as the API shows it: the SIDs, never a secret. */
export const accountView = createSelectSchema(accounts)
  .pick({
    id: true,
    name: true,
    accountSid: true,
    apiKeySid: true,
    defaultCountry: true,
    retentionDays: true,
    createdAt: true,
    archivedAt: true,
  })
  .meta({ id: 'Account' });
export type AccountView = z.output<typeof accountView>;

export interface AccountCredentials {
  accountSid: string;
  authToken: string;
  apiKeySid: string | null;
  apiKeySecret: string | null;
}

const view = {
  id: accounts.id,
  name: accounts.name,
  accountSid: accounts.accountSid,
  apiKeySid: accounts.apiKeySid,
  defaultCountry: accounts.defaultCountry,
  retentionDays: accounts.retentionDays,
  createdAt: accounts.createdAt,
  archivedAt: accounts.archivedAt,
};

/** `by`: the admin to record in the audit trail, secrets as set only (absent: not recorded). */
export async function createAccount(
  db: Executor,
  box: SecretBox,
  input: NewAccount,
  by?: AuditActor,
): Promise<AccountView> {
  const parsed = newAccountSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('bad_request', issue?.message ?? 'invalid account', String(issue?.path[0]));
  }
  const a = parsed.data;
  try {
    const [row] = await db
      .insert(accounts)
      .values({
        name: a.name,
        accountSid: a.accountSid,
        authTokenEnc: box.seal(a.authToken),
        apiKeySid: a.apiKeySid ?? null,
        apiKeySecretEnc: a.apiKeySecret === undefined ? null : box.seal(a.apiKeySecret),
        ...(a.defaultCountry !== undefined && { defaultCountry: a.defaultCountry }),
        retentionDays: a.retentionDays ?? null,
      })
      .returning(view);
    await announceConfigChange(db);
    if (by) {
      await recordChange(db, {
        actor: by,
        action: 'account.created',
        target: { type: 'account', id: row!.id },
        before: null,
        after: auditedAccount(row!, {
          accountSid: a.accountSid,
          authToken: a.authToken,
          apiKeySid: a.apiKeySid ?? null,
          apiKeySecret: a.apiKeySecret ?? null,
        }),
      });
    }
    return row!;
  } catch (error) {
    if (isUniqueViolation(error, 'accounts_account_sid_key')) {
      throw new AppError('conflict', `account ${a.accountSid} is already configured`, 'accountSid');
    }
    throw error;
  }
}

/** Decrypted credentials, for the Twilio adapter only; never put these in a response. */
export async function getAccountCredentials(
  db: Executor,
  box: SecretBox,
  accountId: string,
): Promise<AccountCredentials> {
  const [row] = await db.select().from(accounts).where(eq(accounts.id, accountId));
  if (!row) throw new AppError('not_found', `account ${accountId} does not exist`);
  return {
    accountSid: row.accountSid,
    authToken: box.open(row.authTokenEnc),
    apiKeySid: row.apiKeySid,
    apiKeySecret: row.apiKeySecretEnc === null ? null : box.open(row.apiKeySecretEnc),
  };
}

/** The account Twilio names in a webhook's AccountSid, with the token that signs its webhooks. */
export async function findAccountBySid(
  db: Executor,
  box: SecretBox,
  accountSid: string,
): Promise<{ id: string; authToken: string } | undefined> {
  const [row] = await db
    .select({ id: accounts.id, authTokenEnc: accounts.authTokenEnc })
    .from(accounts)
    .where(eq(accounts.accountSid, accountSid));
  return row && { id: row.id, authToken: box.open(row.authTokenEnc) };
}

export async function listAccounts(db: Executor, archived: ArchivedFilter): Promise<AccountView[]> {
  return db
    .select(view)
    .from(accounts)
    .where(archived === 'include' ? undefined : isNull(accounts.archivedAt))
    .orderBy(accounts.name);
}

/** The country in which numbers typed in national format are read for the account. */
export async function defaultCountryOf(db: Executor, accountId: string): Promise<CountryCode> {
  const [row] = await db
    .select({ defaultCountry: accounts.defaultCountry })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  if (!row) throw new AppError('bad_request', `account ${accountId} does not exist`, 'accountId');
  // Checked against the country list when written.
  return row.defaultCountry as CountryCode;
}
