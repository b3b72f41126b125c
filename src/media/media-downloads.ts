import { and, eq, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import { getAccountCredentials } from '../admin/accounts.js';
import {
  fetchTwilioMedia,
  MediaFetchError,
  mediaCredentials,
} from '../channels/twilio/media-fetch.js';
import { media, messages, numbers } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { appendEvent } from '../event-log.js';
import type { SecretBox } from '../secret-box.js';
import { deleteOrphanMedia } from './media.js';
import type { MediaStore } from './media-store.js';

export interface MediaDeps {
  db: Db;
  secretBox: SecretBox;
  mediaStore: MediaStore;
  twilioApiUrl: string;
  maxBytes: number;
}

const MAX_ATTEMPTS = 6;
const LEASE_MS = 120_000;

/**
 * Downloads one due inbound media file, if any. A failure keeps the message, marks the
 * media failed and schedules another try with backoff, up to MAX_ATTEMPTS. A media row
 * gone meanwhile (erasure, retention) discards the download: no event, and no bytes that
 * nothing names. Returns whether it found work.
 */
export async function downloadNextMedia(deps: MediaDeps): Promise<boolean> {
  const claimed = await inTransaction(deps.db, async (tx) => {
    const [row] = await tx
      .select({
        id: media.id,
        messageId: media.messageId,
        sourceUrl: media.sourceUrl,
        attempts: media.attempts,
        accountId: numbers.accountId,
        conversationId: messages.conversationId,
      })
      .from(media)
      .innerJoin(messages, eq(messages.id, media.messageId))
      .innerJoin(numbers, eq(numbers.id, messages.numberId))
      .where(
        and(
          inArray(media.status, ['pending', 'failed']),
          isNotNull(media.nextAttemptAt),
          lte(media.nextAttemptAt, new Date()),
        ),
      )
      .orderBy(media.nextAttemptAt)
      .limit(1)
      .for('update', { of: media, skipLocked: true });
    if (!row) return undefined;
    // A lease: if this process dies mid-download, another picks the row up after it.
    await tx
      .update(media)
      .set({ attempts: sql`${media.attempts} + 1`, nextAttemptAt: new Date(Date.now() + LEASE_MS) })
      .where(eq(media.id, row.id));
    return row;
  });
  if (!claimed) return false;

  // Bytes stored for a media row that went meanwhile (erasure, retention): deleted after the
  // try, so that a failure to delete them is the worker's error, not the download's.
  let discarded: string | undefined;
  try {
    const credentials = await getAccountCredentials(deps.db, deps.secretBox, claimed.accountId);
    const file = await fetchTwilioMedia(
      claimed.sourceUrl ?? '',
      {
        credentials: mediaCredentials(credentials),
        twilioApiUrl: deps.twilioApiUrl,
        maxBytes: deps.maxBytes,
      },
      async (body, contentType) => ({ ...(await deps.mediaStore.put(body)), contentType }),
    );
    const { sha256, size } = file;
    const kept = await inTransaction(deps.db, async (tx) => {
      const [row] = await tx
        .update(media)
        .set({
          status: 'stored',
          sha256,
          size,
          contentType: file.contentType,
          nextAttemptAt: null,
          lastError: null,
        })
        .where(eq(media.id, claimed.id))
        .returning({ contentType: media.contentType });
      if (!row) return false;
      await appendEvent(
        tx,
        'media.stored',
        { conversationId: claimed.conversationId },
        { mediaId: claimed.id, messageId: claimed.messageId, contentType: row.contentType, size },
      );
      return true;
    });
    if (!kept) discarded = sha256;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const attempts = claimed.attempts + 1;
    const willRetry =
      (!(error instanceof MediaFetchError) || error.retryable) && attempts < MAX_ATTEMPTS;
    await inTransaction(deps.db, async (tx) => {
      const [row] = await tx
        .update(media)
        .set({
          status: 'failed',
          lastError: message,
          nextAttemptAt: willRetry ? new Date(Date.now() + 5_000 * 2 ** (attempts - 1)) : null,
        })
        .where(eq(media.id, claimed.id))
        .returning({ id: media.id });
      // A row gone meanwhile has no download left to report.
      if (!row) return;
      await appendEvent(
        tx,
        'media.failed',
        { conversationId: claimed.conversationId },
        { mediaId: claimed.id, messageId: claimed.messageId, error: message, willRetry },
      );
    });
  }
  // Another message may name the same picture: its bytes stay.
  if (discarded) await deleteOrphanMedia(deps.db, deps.mediaStore, [discarded]);
  return true;
}
