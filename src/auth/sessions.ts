import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, or } from 'drizzle-orm';
import { sessions, users } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import type { Role } from './users.js';

/** Who is asking: what every route's authorisation looks at. */
export interface AuthUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  sessionId: string;
}

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new session (cookie) or API token for the user; the token itself is shown only here. */
export async function createSession(
  db: Executor,
  userId: string,
  kind: 'session' | 'api-token',
  options: { name?: string; ttlMs?: number | null } = {},
): Promise<{ id: string; token: string; expiresAt: Date | null }> {
  const token = randomBytes(32).toString('base64url');
  const ttl = options.ttlMs === undefined ? SESSION_TTL_MS : options.ttlMs;
  const expiresAt = ttl === null ? null : new Date(Date.now() + ttl);
  const [row] = await db
    .insert(sessions)
    .values({ userId, kind, tokenHash: hashToken(token), name: options.name ?? null, expiresAt })
    .returning({ id: sessions.id });
  return { id: row!.id, token, expiresAt };
}

/** The user behind a token, if the token is known, unexpired and its user enabled. */
export async function authenticateToken(
  db: Executor,
  token: string,
): Promise<AuthUser | undefined> {
  const [row] = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      role: users.role,
      sessionId: sessions.id,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.tokenHash, hashToken(token)),
        or(isNull(sessions.expiresAt), gt(sessions.expiresAt, new Date())),
        isNull(users.disabledAt),
      ),
    );
  return row;
}

export async function endSession(db: Executor, sessionId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.id, sessionId));
}

/** How many browser sessions of the user are still valid (API tokens not counted). */
export async function countLiveSessions(db: Executor, userId: string): Promise<number> {
  const rows = await db
    .select({ id: sessions.id })
    .from(sessions)
    .where(
      and(
        eq(sessions.userId, userId),
        eq(sessions.kind, 'session'),
        or(isNull(sessions.expiresAt), gt(sessions.expiresAt, new Date())),
      ),
    );
  return rows.length;
}
