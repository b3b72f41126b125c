/**
 * The audit trail: who changed the configuration or signed in, when, from where and what
 * changed. Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE, migration 0030), like
 * the event log, but about people and settings rather than conversations. Secrets never enter
 * it: a changed secret is recorded as changed, never as a value.
 */
import type { FastifyRequest } from 'fastify';
import { auditEntries } from '../db/schema.js';
import type { Executor } from '../db/store.js';

export type AuditEntry = typeof auditEntries.$inferSelect;

/** Who acted and from where. */
export interface AuditActor {
  /** The user; null for Parley itself or for someone not (yet) known, like a failed sign-in. */
  userId: string | null;
  /** As they were known then: an email, `system` for a schedule, `cli` for the command line. */
  label: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export interface AuditRecord {
  actor: AuditActor;
  /** `<thing>.<verb>`: `queue.updated`, `auth.signed-in`, `contact.erased`, … */
  action: string;
  target?: { type: string; id: string } | null;
  /** The changed fields as they were and became; see auditChanges. */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  detail?: Record<string, unknown> | null;
}

/** Parley acting on its own (a retention schedule): no user, no request. */
export const SYSTEM_ACTOR: AuditActor = {
  userId: null,
  label: 'system',
  ip: null,
  userAgent: null,
  requestId: null,
};

/** The `parley` command line acting for whoever runs it on the server. */
export const CLI_ACTOR: AuditActor = { ...SYSTEM_ACTOR, label: 'cli' };

/** The signed-in user of a request, or `anonymous` when it carries none. */
export function actorOf(request: FastifyRequest): AuditActor {
  return {
    userId: request.user?.id ?? null,
    label: request.user?.email ?? 'anonymous',
    ip: request.ip,
    userAgent: request.headers['user-agent']?.slice(0, 300) ?? null,
    requestId: String(request.id),
  };
}

/**
 * The request's client, acting as someone it does not carry yet: the user signing in, or
 * (userId null) the email a failed sign-in gave, cut short.
 */
export function actorAs(
  request: FastifyRequest,
  who: { userId: string | null; label: string },
): AuditActor {
  return { ...actorOf(request), userId: who.userId, label: who.label.slice(0, 200) };
}

/**
 * Appends an entry. Pass the transaction that made the change, so that the entry exists
 * exactly when the change does.
 */
export async function recordAudit(db: Executor, record: AuditRecord): Promise<void> {
  await db.insert(auditEntries).values({
    actorId: record.actor.userId,
    actor: record.actor.label,
    action: record.action,
    targetType: record.target?.type ?? null,
    targetId: record.target?.id ?? null,
    ip: record.actor.ip,
    userAgent: record.actor.userAgent,
    requestId: record.actor.requestId,
    before: record.before ?? null,
    after: record.after ?? null,
    detail: record.detail ?? null,
  });
}

/** Field names whose values are secrets: recorded as changed, never as what they are. */
const SECRET_FIELD = /password|secret|token|credential|private|apikey/i;
export const SECRET_CHANGED = '(secret changed)';

/**
 * The top-level fields that differ between `before` and `after` (either may be null for a
 * creation or a deletion), each side holding only those fields; secret fields hold
 * SECRET_CHANGED. Null when nothing changed.
 */
export function auditChanges(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): { before: Record<string, unknown> | null; after: Record<string, unknown> | null } | null {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const was: Record<string, unknown> = {};
  const is: Record<string, unknown> = {};
  let changed = false;
  for (const key of keys) {
    const a = before?.[key];
    const b = after?.[key];
    if (before && after && JSON.stringify(a) === JSON.stringify(b)) continue;
    changed = true;
    const secret = SECRET_FIELD.test(key);
    if (before && a !== undefined) was[key] = secret ? SECRET_CHANGED : a;
    if (after && b !== undefined) is[key] = secret ? SECRET_CHANGED : b;
  }
  if (!changed) return null;
  return { before: before ? was : null, after: after ? is : null };
}

/**
 * Records a change of one thing as its fields were and became (null before: created; null
 * after: deleted), in the caller's transaction; an update that changed nothing records
 * nothing.
 */
export async function recordChange(
  db: Executor,
  change: {
    actor: AuditActor;
    action: string;
    target: { type: string; id: string };
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    detail?: Record<string, unknown> | null;
  },
): Promise<void> {
  const changes = auditChanges(change.before, change.after);
  if (!changes) return;
  await recordAudit(db, { ...change, ...changes });
}
