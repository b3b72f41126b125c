import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
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
  /** What the user signed in with: the browser's session cookie or an API token. */
  tokenKind: TokenKind;
}

/** A browser session (cookie only) or an API token (Bearer or `?token=` only). */
export type TokenKind = 'session' | 'api-token';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const SESSION_COOKIE = 'parley_session';

/** The Set-Cookie value that gives the browser its session, whichever way it signed in. */
export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
}
/** An API token's last-used time is this precise: a busy client writes it once a minute. */
const LAST_USED_RESOLUTION_MS = 60_000;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new session (cookie) or API token for the user; the token itself is shown only here. */
export async function createSession(
  db: Executor,
  userId: string,
  kind: TokenKind,
  options: { name?: string; ttlMs?: number | null } = {},
): Promise<{ id: string; token: string; expiresAt: Date | null; createdAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const ttl = options.ttlMs === undefined ? SESSION_TTL_MS : options.ttlMs;
  const expiresAt = ttl === null ? null : new Date(Date.now() + ttl);
  const [row] = await db
    .insert(sessions)
    .values({ userId, kind, tokenHash: hashToken(token), name: options.name ?? null, expiresAt })
    .returning({ id: sessions.id, createdAt: sessions.createdAt });
  return { id: row!.id, token, expiresAt, createdAt: row!.createdAt };
}

/**
 * The user behind a token of the kind, if the token is known, unexpired and its user enabled.
 * The kind is the caller's to say: a session token is no API token, and the other way round.
 */
export async function authenticateToken(
  db: Executor,
  token: string,
  kind: TokenKind,
): Promise<AuthUser | undefined> {
  const [row] = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      role: users.role,
      sessionId: sessions.id,
      lastUsedAt: sessions.lastUsedAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.tokenHash, hashToken(token)),
        eq(sessions.kind, kind),
        or(isNull(sessions.expiresAt), gt(sessions.expiresAt, new Date())),
        isNull(users.disabledAt),
      ),
    );
  if (!row) return undefined;
  const { lastUsedAt, ...user } = row;
  if (
    kind === 'api-token' &&
    (lastUsedAt === null || Date.now() - lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS)
  ) {
    await recordTokenUse(db, row.sessionId);
  }
  return { ...user, tokenKind: kind };
}

/** Stamps the token as used now, unless another request (on any instance) just did. */
async function recordTokenUse(db: Executor, sessionId: string): Promise<void> {
  const resolution = sql`make_interval(secs => ${LAST_USED_RESOLUTION_MS / 1000})`;
  await db
    .update(sessions)
    .set({ lastUsedAt: sql`now()` })
    .where(
      and(
        eq(sessions.id, sessionId),
        or(isNull(sessions.lastUsedAt), lt(sessions.lastUsedAt, sql`now() - ${resolution}`)),
      ),
    );
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
