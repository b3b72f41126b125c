/**
 * What retention and erasure take away, in one place: the text people wrote (message and
 * note bodies, the copies of an agent's outreach kept with offers and affinities, survey
 * comments) and the media, in the tables and in the event log. What stays is what reports
 * read: the rows, their states, times and counts. src/retention/ is the one writer that
 * empties these columns of other modules' tables, and only these.
 */
import { type SQL, sql } from 'drizzle-orm';
import { uuidArray } from '../db/json-params.js';
import { queryRows, type Tx } from '../db/store.js';
import { type PayloadRedaction, redactEventPayloads } from '../event-log.js';
import { unnamedMediaHashes } from '../media/media.js';
import { scheduleMediaDeletions } from './media-deletions.js';

/** Payload fields holding what someone wrote (see events.ts). */
export const WRITTEN_FIELDS = ['body', 'originalText', 'note', 'comment'] as const;
/** Payload fields holding a customer's address. */
export const ADDRESS_FIELDS = ['from', 'to', 'customerAddress'] as const;

export interface RedactedMessages {
  messages: number;
  media: number;
  /** Hashes whose last media row went: their bytes are scheduled for deletion. */
  orphanHashes: string[];
}

/**
 * Empties the bodies of the messages (already locked by the caller, or just chosen with
 * SKIP LOCKED) and deletes their media rows, with the copies of their text kept elsewhere:
 * an affinity's original text and a survey's comment. Bytes no media row names any more are
 * scheduled for deletion in the same transaction (media-deletions.ts). Returns what changed.
 */
export async function redactMessages(
  tx: Tx,
  messageIds: readonly string[],
): Promise<RedactedMessages> {
  if (messageIds.length === 0) return { messages: 0, media: 0, orphanHashes: [] };
  const ids = uuidArray(messageIds);
  const changed = await queryRows<{ id: string }>(
    tx,
    sql`UPDATE messages SET body = '', content_variables = NULL, redacted_at = now()
         WHERE id = ANY(${ids}) AND redacted_at IS NULL
        RETURNING id`,
  );
  const removed = await queryRows<{ sha256: string | null }>(
    tx,
    sql`DELETE FROM media WHERE message_id = ANY(${ids}) RETURNING sha256`,
  );
  await tx.execute(
    sql`UPDATE affinities SET original_text = '' WHERE message_id = ANY(${ids}) AND original_text <> ''`,
  );
  const hashes = [...new Set(removed.flatMap((row) => (row.sha256 ? [row.sha256] : [])))];
  const orphanHashes = await unnamedMediaHashes(tx, hashes);
  await scheduleMediaDeletions(tx, orphanHashes);
  return { messages: changed.length, media: removed.length, orphanHashes };
}

/** Empties the bodies of the notes; returns how many changed. */
export async function redactNotes(tx: Tx, where: SQL): Promise<number> {
  const rows = await queryRows<{ id: string }>(
    tx,
    sql`UPDATE conversation_notes n SET body = '', redacted_at = now()
         WHERE (${where}) AND n.redacted_at IS NULL
        RETURNING n.id`,
  );
  return rows.length;
}

/** The written fields of the events `where` selects (over alias `e`); see redactEventPayloads. */
export function redactEvents(tx: Tx, where: SQL, redaction?: PayloadRedaction): Promise<number> {
  return redactEventPayloads(tx, where, redaction ?? { blank: WRITTEN_FIELDS });
}
