import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';

/**
 * Where media bytes live, named by their SHA-256: the same picture sent twice is stored once,
 * and a name never points at other bytes. Bytes go in and come out as streams, so no file is
 * ever whole in memory. Three backends: files under DATA_DIR/media (file-media-store.ts), an
 * S3-compatible bucket (s3-media-store.ts) and chunks in the database
 * (database-media-store.ts); see openMediaStore in media-storage.ts.
 */
export interface MediaStore {
  readonly kind: 'files' | 's3' | 'database';
  /**
   * Stores the stream's bytes, hashing them as they pass; bytes already stored under the
   * same hash are kept, not written again. Rejects with MediaTooLargeError past maxBytes, or
   * with the stream's own error, leaving nothing behind.
   */
  put(source: Readable, options?: { maxBytes?: number }): Promise<StoredMedia>;
  /** The bytes stored under the hash, or undefined when there are none. */
  get(sha256: string): Promise<MediaBytes | undefined>;
  /** Removes the bytes; callers delete only bytes no media row names any more. */
  delete(sha256: string): Promise<void>;
}

export interface StoredMedia {
  sha256: string;
  size: number;
}

export interface MediaBytes {
  stream: Readable;
  size: number;
}

export class MediaTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the file is over the ${maxBytes}-byte limit`);
    this.name = 'MediaTooLargeError';
  }
}

/** Passes bytes through while hashing and counting them; fails once past maxBytes. */
export class MediaMeter extends Transform {
  private readonly hash = createHash('sha256');
  // Not `size`: the S3 upload reads a body's `size` as its length in advance.
  private passed = 0;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.passed += chunk.length;
    if (this.passed > this.maxBytes) {
      done(new MediaTooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** The name and size of everything that passed; only once the stream has ended. */
  result(): StoredMedia {
    return { sha256: this.hash.digest('hex'), size: this.passed };
  }
}

/**
 * The source through a meter. An error on either side destroys both (a failed store stops
 * the download or upload it reads from), and a source's error reaches whoever reads the meter.
 */
export function metered(source: Readable, maxBytes?: number): MediaMeter {
  const meter = new MediaMeter(maxBytes);
  pipeline(source, meter, () => {});
  return meter;
}

export function assertMediaHash(sha256: string): void {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('not a media hash');
}
