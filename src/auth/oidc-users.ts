/**
 * Who a single sign-on names in Parley: the user linked to the provider's issuer and subject;
 * on their first SSO sign-in, the user with the provider-verified email (then linked), or a
 * new user with a provider-verified email when OIDC_CREATE_USERS allows. With a role claim the provider decides the role at
 * every sign-in; without one, roles are assigned in Parley.
 */
import { and, eq, sql } from 'drizzle-orm';
import { type AuditActor, auditChanges, recordAudit } from '../audit/audit-log.js';
import type { UserRole } from '../config.js';
import { users } from '../db/schema.js';
import type { Db, Executor } from '../db/store.js';
import { isUniqueViolation } from '../errors.js';
import type { FlowFailure, OidcIdentity } from './oidc.js';
import { createSession } from './sessions.js';
import type { UserView } from './users.js';

/** Why a sign-in with the provider was refused; the sign-in page explains each. */
export type OidcRefusal =
  | FlowFailure
  | 'unknown-user'
  | 'disabled'
  | 'no-role'
  | 'no-email'
  | 'email-unverified'
  | 'linked-elsewhere';

export interface OidcUserRules {
  /** The role the provider's claim gives; null: there is no role claim (Parley decides). */
  claimedRole: UserRole | undefined | null;
  /** For an unmapped role claim, and for a new user without a role claim. */
  defaultRole: UserRole | undefined;
  createUsers: boolean;
}

export type OidcSignInResult =
  | { ok: true; user: UserView; sessionToken: string }
  | { ok: false; reason: OidcRefusal };

type UserRow = typeof users.$inferSelect;

/**
 * Finds, links or makes the user the identity names and opens a browser session for them,
 * recording in the audit trail, in one transaction, the sign-in or its refusal and any user
 * made or changed. Two first sign-ins of one person at once: the second finds the first's user.
 */
export async function signInWithOidc(
  db: Db,
  identity: OidcIdentity,
  rules: OidcUserRules,
  actor: AuditActor,
): Promise<OidcSignInResult> {
  try {
    return await db.transaction((tx) => signIn(tx, identity, rules, actor));
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return db.transaction((tx) => signIn(tx, identity, rules, actor));
  }
}

async function signIn(
  tx: Executor,
  identity: OidcIdentity,
  rules: OidcUserRules,
  actor: AuditActor,
): Promise<OidcSignInResult> {
  const refuse = async (reason: OidcRefusal, user?: UserRow): Promise<OidcSignInResult> => {
    await recordOidcRefusal(tx, user ? { ...actor, userId: user.id, label: user.email } : actor, {
      reason,
      email: identity.email,
    });
    return { ok: false, reason };
  };
  // The role the provider gives: undefined when Parley decides (no role claim), null when
  // the claim gives none and there is no default (refused).
  const role =
    rules.claimedRole === null ? undefined : (rules.claimedRole ?? rules.defaultRole ?? null);
  let user = await findLinkedUser(tx, identity);
  if (!user && identity.email) {
    const [byEmail] = await tx
      .select()
      .from(users)
      .where(sql`lower(${users.email}) = lower(${identity.email})`)
      .for('update');
    if (byEmail) {
      // Only the address's owner may take over an account: the provider must vouch for it.
      if (!identity.emailVerified) return refuse('email-unverified', byEmail);
      if (byEmail.oidcSubject !== null) return refuse('linked-elsewhere', byEmail);
      if (byEmail.disabledAt !== null) return refuse('disabled', byEmail);
      if (role === null) return refuse('no-role', byEmail);
      [user] = await tx
        .update(users)
        .set({ oidcIssuer: identity.issuer, oidcSubject: identity.subject })
        .where(eq(users.id, byEmail.id))
        .returning();
    }
  }
  if (!user) {
    if (!rules.createUsers) return refuse('unknown-user');
    if (!identity.email) return refuse('no-email');
    // The new user is known by this email from then on: as for linking, the provider must
    // vouch for it.
    if (!identity.emailVerified) return refuse('email-unverified');
    if (role === null) return refuse('no-role');
    user = await createOidcUser(tx, identity, role ?? rules.defaultRole ?? 'agent', actor);
  }
  if (user.disabledAt !== null) return refuse('disabled', user);
  if (role === null) return refuse('no-role', user);
  const self: AuditActor = { ...actor, userId: user.id, label: user.email };
  if (role !== undefined && role !== user.role) {
    const changes = auditChanges({ role: user.role }, { role });
    [user] = await tx.update(users).set({ role }).where(eq(users.id, user.id)).returning();
    await recordAudit(tx, {
      actor: self,
      action: 'user.updated',
      target: { type: 'user', id: user!.id },
      ...changes,
      detail: { method: 'oidc', reason: 'role claim' },
    });
  }
  const session = await createSession(tx, user!.id, 'session');
  await recordAudit(tx, {
    actor: self,
    action: 'auth.signed-in',
    target: { type: 'user', id: user!.id },
    detail: { method: 'oidc' },
  });
  const { id, email, name, role: signedInRole } = user!;
  return { ok: true, user: { id, email, name, role: signedInRole }, sessionToken: session.token };
}

/** An `auth.sign-in-failed` entry for a sign-in with the provider that did not succeed. */
export async function recordOidcRefusal(
  db: Executor,
  actor: AuditActor,
  detail: { reason: OidcRefusal; email?: string | undefined },
): Promise<void> {
  await recordAudit(db, {
    actor,
    action: 'auth.sign-in-failed',
    detail: { method: 'oidc', ...detail },
  });
}

async function findLinkedUser(tx: Executor, identity: OidcIdentity): Promise<UserRow | undefined> {
  const [user] = await tx
    .select()
    .from(users)
    .where(and(eq(users.oidcIssuer, identity.issuer), eq(users.oidcSubject, identity.subject)))
    .for('update');
  return user;
}

/** A user with no password: only the provider signs them in. */
async function createOidcUser(
  tx: Executor,
  identity: OidcIdentity,
  role: UserRole,
  actor: AuditActor,
): Promise<UserRow> {
  const email = identity.email!;
  const [user] = await tx
    .insert(users)
    .values({
      email,
      name: identity.name?.trim() || email.split('@')[0]!,
      role,
      passwordHash: null,
      oidcIssuer: identity.issuer,
      oidcSubject: identity.subject,
    })
    .returning();
  await recordAudit(tx, {
    actor: { ...actor, userId: user!.id, label: email },
    action: 'user.created',
    target: { type: 'user', id: user!.id },
    after: { email, name: user!.name, role },
    detail: { method: 'oidc' },
  });
  return user!;
}
