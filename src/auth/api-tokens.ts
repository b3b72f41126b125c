/**
 * API tokens: Bearer credentials for scripts and integrations, kept beside the browser
 * sessions (kind 'api-token'). The secret is shown once, at creation; afterwards a token is
 * known by its name, expiry and last use. Revoking deletes it: the next request with it,
 * and the next check of a live-event socket opened with it, are refused.
 */
import { and, desc, eq } from 'drizzle-orm';
import { sessions } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import { AppError } from '../errors.js';
import { createSession } from './sessions.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What a token's owner and admins may see of it: never the secret. */
export interface ApiToken {
  id: string;
  userId: string;
  /** Null only for tokens made outside the API (tools, tests), which take no name. */
  name: string | null;
  createdAt: Date;
  /** Null: never expires. */
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

/** A new token of the user; the secret (`token`) is returned here and never again. */
export async function createApiToken(
  db: Executor,
  userId: string,
  input: { name: string; expiresInDays?: number | undefined },
): Promise<ApiToken & { token: string }> {
  // The caller is the signed-in user (enabled, checked by authentication); the foreign key
  // on sessions covers a user deleted meanwhile.
  const ttlMs = input.expiresInDays === undefined ? null : input.expiresInDays * DAY_MS;
  const created = await createSession(db, userId, 'api-token', { name: input.name, ttlMs });
  return { ...created, userId, name: input.name, lastUsedAt: null };
}

/** The user's tokens, newest first, expired ones included until they are revoked. */
export async function listApiTokens(db: Executor, userId: string): Promise<ApiToken[]> {
  return db
    .select({
      id: sessions.id,
      userId: sessions.userId,
      name: sessions.name,
      createdAt: sessions.createdAt,
      expiresAt: sessions.expiresAt,
      lastUsedAt: sessions.lastUsedAt,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), eq(sessions.kind, 'api-token')))
    .orderBy(desc(sessions.createdAt), desc(sessions.id));
}

/**
 * Revokes a token and answers its name and owner; `ownerId` limits it to that user's tokens
 * (absent: an admin's, any). A token that is not there, or not the owner's, is not found
 * either way.
 */
export async function revokeApiToken(
  db: Executor,
  tokenId: string,
  ownerId: string | undefined,
): Promise<{ name: string | null; userId: string }> {
  const revoked = await db
    .delete(sessions)
    .where(
      and(
        eq(sessions.id, tokenId),
        eq(sessions.kind, 'api-token'),
        ownerId === undefined ? undefined : eq(sessions.userId, ownerId),
      ),
    )
    .returning({ name: sessions.name, userId: sessions.userId });
  if (!revoked[0]) throw new AppError('not_found', 'API token not found');
  return revoked[0];
}
