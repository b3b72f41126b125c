import { Readable } from 'node:stream';
import { and, eq, isNull, lt } from 'drizzle-orm';
import { mediaBlobs, mediaChunks } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { isUniqueViolation } from '../errors.js';
import {
  assertMediaHash,
  type MediaBytes,
  type MediaStore,
  metered,
  type StoredMedia,
} from './media-store.js';

/** What one media_chunks row holds: large enough to keep rows few, small enough to stream. */
export const CHUNK_BYTES = 256 * 1024;
/** An upload unfinished this long was abandoned by a crash. */
const ABANDONED_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Media bytes in the database (media_blobs, media_chunks), for instances that share
 * PostgreSQL and nothing else. Each chunk is its own statement: no transaction stays open
 * while a slow client uploads, and no query holds more than one chunk.
 */
export class DatabaseMediaStore implements MediaStore {
  readonly kind = 'database';

  constructor(private readonly db: Db) {}

  async put(source: Readable, options: { maxBytes?: number } = {}): Promise<StoredMedia> {
    await this.db
      .delete(mediaBlobs)
      .where(
        and(
          isNull(mediaBlobs.sha256),
          lt(mediaBlobs.createdAt, new Date(Date.now() - ABANDONED_AFTER_MS)),
        ),
      );
    // Nameless until every chunk is in: readers look blobs up by hash only.
    const [blob] = await this.db.insert(mediaBlobs).values({}).returning({ id: mediaBlobs.id });
    const blobId = blob!.id;
    try {
      const meter = metered(source, options.maxBytes);
      let position = 0;
      for await (const bytes of inChunks(meter)) {
        await this.db.insert(mediaChunks).values({ blobId, position, bytes });
        position++;
      }
      const stored = meter.result();
      const named = await this.name(blobId, stored);
      if (!named) await this.db.delete(mediaBlobs).where(eq(mediaBlobs.id, blobId));
      return stored;
    } catch (error) {
      await this.db.delete(mediaBlobs).where(eq(mediaBlobs.id, blobId));
      throw error;
    }
  }

  async get(sha256: string): Promise<MediaBytes | undefined> {
    assertMediaHash(sha256);
    const [blob] = await this.db
      .select({ id: mediaBlobs.id, size: mediaBlobs.size })
      .from(mediaBlobs)
      .where(eq(mediaBlobs.sha256, sha256));
    if (!blob) return undefined;
    const size = blob.size ?? 0;
    return {
      size,
      stream: Readable.from(this.chunks(blob.id, size), {
        objectMode: false,
        highWaterMark: CHUNK_BYTES,
      }),
    };
  }

  async delete(sha256: string): Promise<void> {
    assertMediaHash(sha256);
    await this.db.delete(mediaBlobs).where(eq(mediaBlobs.sha256, sha256));
  }

  /** Names the blob by its hash; false when another blob has that name already (a duplicate). */
  private async name(blobId: string, stored: StoredMedia): Promise<boolean> {
    const [existing] = await this.db
      .select({ id: mediaBlobs.id })
      .from(mediaBlobs)
      .where(eq(mediaBlobs.sha256, stored.sha256));
    if (existing) return false;
    try {
      await this.db.update(mediaBlobs).set(stored).where(eq(mediaBlobs.id, blobId));
      return true;
    } catch (error) {
      // The same bytes, stored by someone else between the check and the update.
      if (isUniqueViolation(error, 'media_blobs_sha256_key')) return false;
      throw error;
    }
  }

  /** One query per chunk, asked for when the reader wants more. */
  private async *chunks(blobId: string, size: number): AsyncGenerator<Buffer> {
    let read = 0;
    for (let position = 0; read < size; position++) {
      const [chunk] = await this.db
        .select({ bytes: mediaChunks.bytes })
        .from(mediaChunks)
        .where(and(eq(mediaChunks.blobId, blobId), eq(mediaChunks.position, position)));
      if (!chunk) throw new Error(`media chunk ${position} of blob ${blobId} is missing`);
      read += chunk.bytes.length;
      yield chunk.bytes;
    }
  }
}

/** The stream's bytes regrouped into CHUNK_BYTES pieces (the last one shorter). */
async function* inChunks(stream: Readable): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    pending.push(piece);
    length += piece.length;
    while (length >= CHUNK_BYTES) {
      const joined = Buffer.concat(pending, length);
      yield joined.subarray(0, CHUNK_BYTES);
      pending = [joined.subarray(CHUNK_BYTES)];
      length -= CHUNK_BYTES;
    }
  }
  if (length > 0) yield Buffer.concat(pending, length);
}
