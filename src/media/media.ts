/**
 * The pictures and files of messages, as the routes that serve their bytes read them, and
 * which stored bytes no media row names any more.
 */
import { eq, sql } from 'drizzle-orm';
import { textArray } from '../db/json-params.js';
import { media, messages } from '../db/schema.js';
import { type Executor, queryRows } from '../db/store.js';
import type { MediaStore } from './media-store.js';

export interface MediaItem {
  status: 'pending' | 'stored' | 'failed' | 'refused';
  /** The stored bytes' name (MediaStore); null until they are stored. */
  sha256: string | null;
  contentType: string;
  /** The conversation of its message; null for an origination that opened none. */
  conversationId: string | null;
}

/** A picture or file by id, with its message's conversation; undefined when there is none. */
export async function findMedia(db: Executor, id: string): Promise<MediaItem | undefined> {
  const [row] = await db
    .select({
      status: media.status,
      sha256: media.sha256,
      contentType: media.contentType,
      conversationId: messages.conversationId,
    })
    .from(media)
    .innerJoin(messages, eq(messages.id, media.messageId))
    .where(eq(media.id, id));
  return row;
}

/** Of the hashes, those no media row names. */
export async function unnamedMediaHashes(
  db: Executor,
  hashes: readonly string[],
): Promise<string[]> {
  if (hashes.length === 0) return [];
  const named = await queryRows<{ sha256: string }>(
    db,
    sql`SELECT DISTINCT sha256 FROM media
         WHERE sha256 = ANY(${textArray(hashes)})`,
  );
  const still = new Set(named.map((row) => row.sha256));
  return hashes.filter((hash) => !still.has(hash));
}

/**
 * Deletes the stored bytes of hashes that no media row names, after the commit that removed
 * their rows (a rolled-back erasure must find its bytes). Checked again first: a message that
 * arrived since may carry the same picture. Returns how many were deleted.
 */
export async function deleteOrphanMedia(
  db: Executor,
  mediaStore: MediaStore,
  hashes: readonly string[],
): Promise<number> {
  const orphans = await unnamedMediaHashes(db, hashes);
  for (const hash of orphans) await mediaStore.delete(hash);
  return orphans.length;
}
