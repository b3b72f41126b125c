import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertMediaHash,
  type MediaBytes,
  MediaMeter,
  type MediaStore,
  type StoredMedia,
} from './media-store.js';

/** Media bytes on one machine's disk, under DATA_DIR/media/<first two hex digits>/<sha256>. */
export class FileMediaStore implements MediaStore {
  readonly kind = 'files';

  constructor(private readonly root: string) {}

  async put(source: Readable, options: { maxBytes?: number } = {}): Promise<StoredMedia> {
    await mkdir(this.root, { recursive: true });
    // Written under a temporary name then renamed, so a reader never sees a half-written file.
    const temp = join(this.root, `.incoming-${randomUUID()}`);
    try {
      const meter = new MediaMeter(options.maxBytes);
      await pipeline(source, meter, createWriteStream(temp, { flags: 'wx' }));
      const stored = meter.result();
      const target = this.path(stored.sha256);
      if (await exists(target)) {
        await rm(temp);
      } else {
        await mkdir(dirname(target), { recursive: true });
        await rename(temp, target);
      }
      return stored;
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(sha256: string): Promise<MediaBytes | undefined> {
    // Opened before its size is read: a delete in between cannot leave a size without bytes.
    const handle = await open(this.path(sha256)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!handle) return undefined;
    try {
      const { size } = await handle.stat();
      return { size, stream: handle.createReadStream() };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }

  private path(sha256: string): string {
    assertMediaHash(sha256);
    return join(this.root, sha256.slice(0, 2), sha256);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
