import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestS3, type TestS3 } from '../../test/helpers/s3.js';
import { openTestStore } from '../../test/helpers/store.js';
import { loadConfig } from '../config.js';
import { mediaBlobs, mediaChunks } from '../db/schema.js';
import { CHUNK_BYTES } from './database-media-store.js';
import { openMediaStore } from './media-storage.js';
import { type MediaStore, MediaTooLargeError } from './media-store.js';

interface Backend {
  store: MediaStore;
  /** Every stored object, finished or not (files, S3 keys, blob rows and chunk rows). */
  contents(): Promise<string[]>;
  close(): Promise<void>;
}

const backends: [string, () => Promise<Backend>][] = [
  [
    'files',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'parley-media-test-'));
      return {
        store: await openMediaStore(loadConfig({ DATA_DIR: dataDir }).mediaStorage, {
          dataDir,
          db: undefined as never,
        }),
        contents: async () =>
          (await readdir(dataDir, { recursive: true, withFileTypes: true }))
            .filter((entry) => entry.isFile())
            .map((entry) => entry.name),
        close: () => rm(dataDir, { recursive: true, force: true }),
      };
    },
  ],
  [
    's3',
    async () => {
      const s3 = await startTestS3();
      const client = new S3Client({
        region: s3.config.region,
        endpoint: s3.config.endpoint,
        forcePathStyle: true,
        credentials: s3.config.credentials,
      });
      return {
        store: await openMediaStore(loadConfig(s3.env).mediaStorage, {
          dataDir: '/nonexistent',
          db: undefined as never,
        }),
        contents: async () => {
          const listed = await client.send(
            new ListObjectsV2Command({ Bucket: s3.config.bucket, Prefix: s3.config.prefix }),
          );
          return (listed.Contents ?? []).map((object) => object.Key!);
        },
        close: async () => {
          client.destroy();
          await s3.close();
        },
      };
    },
  ],
  [
    'database',
    async () => {
      const store = await openTestStore();
      return {
        store: await openMediaStore(loadConfig({ MEDIA_STORAGE: 'database' }).mediaStorage, {
          dataDir: '/nonexistent',
          db: store.db,
        }),
        contents: async () => {
          const blobs = await store.db.select().from(mediaBlobs);
          const [chunks] = await store.db.select({ n: count() }).from(mediaChunks);
          return [
            ...blobs.map((blob) => `blob ${blob.sha256 ?? 'unnamed'}`),
            ...Array.from({ length: chunks!.n }, () => 'chunk'),
          ];
        },
        close: () => store.close(),
      };
    },
  ],
];

const MB = 1024 * 1024;

/**
 * `size` pseudo-random bytes made as they are read, in 64 KiB pieces, and their SHA-256 once
 * read: the test never holds the file whole either.
 */
function generated(size: number, seed = randomBytes(16)): { stream: Readable; sha256: Buffer } {
  const expected = createHash('sha256');
  const result = { sha256: Buffer.alloc(0) };
  let made = 0;
  let block = seed;
  const stream = new Readable({
    read() {
      if (made >= size) {
        result.sha256 = expected.digest();
        this.push(null);
        return;
      }
      const pieces: Buffer[] = [];
      for (let length = 0; length < 64 * 1024 && made + length < size; length += 32) {
        block = createHash('sha256').update(block).digest();
        pieces.push(block);
      }
      const piece = Buffer.concat(pieces).subarray(0, Math.min(64 * 1024, size - made));
      made += piece.length;
      expected.update(piece);
      this.push(piece);
    },
  });
  return {
    stream,
    get sha256() {
      return result.sha256;
    },
  };
}

/** The SHA-256 of a stream's bytes, the number of bytes and the largest piece it came in. */
async function digestOf(
  stream: Readable,
): Promise<{ sha256: string; size: number; largest: number }> {
  const hash = createHash('sha256');
  let size = 0;
  let largest = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    hash.update(piece);
    size += piece.length;
    largest = Math.max(largest, piece.length);
  }
  return { sha256: hash.digest('hex'), size, largest };
}

describe.each(backends)('the %s media store', (kind, open) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await open();
    expect(backend.store.kind).toBe(kind);
  });
  afterAll(() => backend?.close());

  it('takes a 6 MB stream and gives it back as a stream, byte for byte', async () => {
    const source = generated(6 * MB + 12_345);
    const stored = await backend.store.put(source.stream);
    expect(stored).toEqual({ sha256: source.sha256.toString('hex'), size: 6 * MB + 12_345 });

    const bytes = await backend.store.get(stored.sha256);
    expect(bytes?.size).toBe(stored.size);
    const read = await digestOf(bytes!.stream);
    expect(read.sha256).toBe(stored.sha256);
    expect(read.size).toBe(stored.size);
    // Read in pieces, never as one buffer of the whole file.
    expect(read.largest).toBeLessThanOrEqual(CHUNK_BYTES);
  });

  it('stores the same bytes once, however often they are put', async () => {
    const seed = randomBytes(16);
    const before = await backend.contents();
    const first = await backend.store.put(generated(2 * MB, seed).stream);
    const afterFirst = await backend.contents();
    const again = await Promise.all([
      backend.store.put(generated(2 * MB, seed).stream),
      backend.store.put(generated(2 * MB, seed).stream),
    ]);
    expect(again).toEqual([first, first]);
    expect(afterFirst.length).toBeGreaterThan(before.length);
    expect((await backend.contents()).sort()).toEqual(afterFirst.sort());
  });

  it('deletes, and then has nothing under the hash', async () => {
    const before = await backend.contents();
    const stored = await backend.store.put(Readable.from([Buffer.from('a picture to erase')]));
    expect(await backend.store.get(stored.sha256)).toBeDefined();
    await backend.store.delete(stored.sha256);
    expect(await backend.store.get(stored.sha256)).toBeUndefined();
    expect((await backend.contents()).sort()).toEqual(before.sort());
    // Deleting what is gone is no error: erasure may run twice.
    await backend.store.delete(stored.sha256);
  });

  it('refuses a stream past maxBytes and keeps none of it', async () => {
    const before = await backend.contents();
    await expect(
      backend.store.put(generated(2 * MB).stream, { maxBytes: MB }),
    ).rejects.toBeInstanceOf(MediaTooLargeError);
    expect((await backend.contents()).sort()).toEqual(before.sort());
  });

  it("fails with the source's own error and keeps none of it", async () => {
    const before = await backend.contents();
    async function* broken() {
      yield randomBytes(CHUNK_BYTES + 1);
      throw new Error('the download broke');
    }
    await expect(backend.store.put(Readable.from(broken()))).rejects.toThrow('the download broke');
    expect((await backend.contents()).sort()).toEqual(before.sort());
  });

  it('answers undefined for bytes never stored, and refuses what is not a hash', async () => {
    expect(await backend.store.get('0'.repeat(64))).toBeUndefined();
    await expect(backend.store.get('../../etc/passwd')).rejects.toThrow('not a media hash');
  });
});

describe('the s3 media store with a key pair that may not list the bucket', () => {
  let s3: TestS3;
  let store: MediaStore;
  beforeAll(async () => {
    s3 = await startTestS3('parley-media', { withoutListBucket: true });
    store = await openMediaStore(loadConfig(s3.env).mediaStorage, {
      dataDir: '/nonexistent',
      db: undefined as never,
    });
  });
  afterAll(() => s3?.close());

  it('stores new bytes and bytes already stored without asking whether a key exists', async () => {
    const seed = randomBytes(16);
    const first = await store.put(generated(256 * 1024, seed).stream);
    const again = await store.put(generated(256 * 1024, seed).stream);
    expect(again).toEqual(first);
    const bytes = await store.get(first.sha256);
    expect((await digestOf(bytes!.stream)).sha256).toBe(first.sha256);
    expect(s3.requests.filter((line) => line.startsWith('HEAD '))).toEqual([]);
    // Each put copied its upload to the hash: two copies, both to the same key.
    expect(
      s3.requests.filter((line) => line.startsWith('PUT ') && line.includes(first.sha256)),
    ).toHaveLength(2);
  });

  it('fails a read of a missing key with the permission it needs, not as "not stored"', async () => {
    await expect(store.get('1'.repeat(64))).rejects.toThrow(/403 AccessDenied.*s3:ListBucket/);
  });
});
