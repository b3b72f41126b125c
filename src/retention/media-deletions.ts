/**
 * Deleting the stored bytes of media that retention or an erasure left unnamed, durably and
 * safely. The media store keeps bytes by hash and a put of bytes already there keeps them
 * (dedupe), while the media row that names them commits later: an inbound MMS is put, then
 * its row updated (media-downloads.ts); an agent's upload is put at once and named only when
 * a message is sent with its token (outbound.routes.ts). Deleting bytes as soon as their last
 * row goes could take the bytes such a row is about to name.
 *
 * So the transaction that removes the last row schedules the hash here, due after a grace
 * longer than an upload token lives (attachments.ts) — a token, the only thing that names
 * bytes without a row, is then dead before its bytes can go, and a download's put-to-commit
 * window is seconds. When due, the bytes are deleted only if still no media row names them
 * (a new message with the same picture keeps them), then the row goes; a delete that fails
 * stays scheduled and is retried. Put paths need not know about this table. The one window
 * left is a put of the same bytes that lands between this check and the delete and commits
 * its row after it: a new message repeating, to the second, a picture erased at least a
 * day earlier.
 */
import { sql } from 'drizzle-orm';
import { type Db, type Executor, queryRows } from '../db/store.js';
import type { MediaStore } from '../media/media-store.js';
import { UPLOAD_TOKEN_TTL_MS } from '../outbound/attachments.js';

/** How long unnamed bytes wait before they are deleted: an hour past an upload token's life. */
export const MEDIA_DELETION_GRACE_MS = UPLOAD_TOKEN_TTL_MS + 60 * 60_000;
/** How long a failed (or interrupted) deletion waits before it is tried again. */
export const MEDIA_DELETION_RETRY_MS = 15 * 60_000;
const BATCH = 100;

/** Schedules the bytes of the hashes for deletion after the grace, in the caller's transaction. */
export async function scheduleMediaDeletions(
  tx: Executor,
  hashes: readonly string[],
): Promise<void> {
  if (hashes.length === 0) return;
  await tx.execute(
    sql`INSERT INTO media_deletions (sha256, due_at)
        SELECT h, now() + make_interval(secs => ${MEDIA_DELETION_GRACE_MS / 1000})
          FROM jsonb_array_elements_text(${JSON.stringify(hashes)}::jsonb) AS h
        ON CONFLICT (sha256) DO UPDATE SET due_at = EXCLUDED.due_at`,
  );
}

export interface MediaDeletionCounts {
  /** Bytes deleted from the store. */
  deleted: number;
  /** Hashes a media row names again: their bytes kept, their schedule dropped. */
  kept: number;
  /** Deletions that failed, to be retried. */
  failed: number;
}

/**
 * Deletes the bytes whose deletion is due at `now`. Each batch is claimed by moving its due
 * time on by the retry delay (SKIP LOCKED: instances share the work), so a crash or a failed
 * delete leaves the hash to be tried again then.
 */
export async function deleteDueMedia(
  db: Db,
  mediaStore: MediaStore,
  now: Date,
): Promise<MediaDeletionCounts> {
  const counts: MediaDeletionCounts = { deleted: 0, kept: 0, failed: 0 };
  for (;;) {
    const claimed = await queryRows<{ sha256: string }>(
      db,
      sql`UPDATE media_deletions
             SET due_at = ${new Date(now.getTime() + MEDIA_DELETION_RETRY_MS).toISOString()}::timestamptz,
                 attempts = attempts + 1
           WHERE sha256 IN (SELECT sha256 FROM media_deletions
                             WHERE due_at <= ${now.toISOString()}::timestamptz
                             ORDER BY due_at LIMIT ${BATCH}
                               FOR UPDATE SKIP LOCKED)
          RETURNING sha256`,
    );
    for (const { sha256 } of claimed) {
      const [named] = await queryRows<{ named: boolean }>(
        db,
        sql`SELECT EXISTS (SELECT 1 FROM media WHERE sha256 = ${sha256}) AS named`,
      );
      try {
        if (named?.named) counts.kept++;
        else {
          await mediaStore.delete(sha256);
          counts.deleted++;
        }
        await db.execute(sql`DELETE FROM media_deletions WHERE sha256 = ${sha256}`);
      } catch (error) {
        counts.failed++;
        const message = error instanceof Error ? error.message : String(error);
        await db.execute(
          sql`UPDATE media_deletions SET last_error = ${message.slice(0, 500)} WHERE sha256 = ${sha256}`,
        );
      }
    }
    if (claimed.length < BATCH) return counts;
  }
}
