/**
 * The pictures and files of messages, as the routes that serve their bytes read them.
 */
import { eq } from 'drizzle-orm';
import { media, messages } from '../db/schema.js';
import type { Executor } from '../db/store.js';

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
