import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3MediaConfig } from '../config.js';
import {
  assertMediaHash,
  type MediaBytes,
  type MediaStore,
  metered,
  type StoredMedia,
} from './media-store.js';

/** The smallest part S3 takes; the upload holds at most two of them in memory. */
const PART_BYTES = 5 * 1024 * 1024;

/**
 * Media bytes in an S3-compatible bucket (AWS S3, MinIO, R2, …) as `<prefix><sha256>`.
 * Uploads go to `<prefix>incoming/<uuid>` first and are copied to their hash once it is
 * known; a lifecycle rule on `incoming/` may expire what a crash left there. Nothing asks
 * whether a key exists: without s3:ListBucket, AWS answers 403, not 404, for a missing key.
 */
export class S3MediaStore implements MediaStore {
  readonly kind = 's3';
  private readonly client: S3Client;

  constructor(private readonly config: S3MediaConfig) {
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      // A copy: the SDK marks the credentials object it gets, and the config is frozen.
      credentials: config.credentials && { ...config.credentials },
      // Checksums only where S3 requires them: not every S3-compatible store takes the
      // trailing checksums the SDK sends by default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(source: Readable, options: { maxBytes?: number } = {}): Promise<StoredMedia> {
    const bucket = this.config.bucket;
    const temp = `${this.config.prefix}incoming/${randomUUID()}`;
    const meter = metered(source, options.maxBytes);
    try {
      await new Upload({
        client: this.client,
        params: { Bucket: bucket, Key: temp, Body: meter },
        partSize: PART_BYTES,
        queueSize: 1,
      }).done();
      const stored = meter.result();
      // Copied even when the hash is already stored: the bytes are the same, and asking first
      // would need a HEAD that a key pair without s3:ListBucket cannot tell from a refusal.
      await this.client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: this.key(stored.sha256),
          CopySource: `${bucket}/${temp.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      return stored;
    } finally {
      meter.destroy();
      // Best effort: a leftover under incoming/ names nothing, and a lifecycle rule expires it.
      await this.client
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: temp }))
        .catch(() => {});
    }
  }

  async get(sha256: string): Promise<MediaBytes | undefined> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(sha256) }),
      );
      return { stream: object.Body as Readable, size: object.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      if (isAccessDenied(error)) {
        // Not read as "not stored": a key pair that may not read the bucket would make every
        // picture vanish silently. AWS answers a missing key so without s3:ListBucket.
        throw new Error(
          `S3 refused to read ${this.key(sha256)} in bucket ${this.config.bucket} (403 AccessDenied): the key pair needs s3:GetObject on the prefix, and s3:ListBucket on the bucket so that a missing object answers 404`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.key(sha256) }),
    );
  }

  private key(sha256: string): string {
    assertMediaHash(sha256);
    return `${this.config.prefix}${sha256}`;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404;
}

function isAccessDenied(error: unknown): boolean {
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 403;
}
