import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Media bytes on disk under DATA_DIR/media, named by their SHA-256: the same picture sent
 * twice is stored once, and a name never points at other bytes.
 */
export class MediaStore {
  constructor(private readonly root: string) {}

  async put(bytes: Buffer): Promise<{ sha256: string; size: number }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const dir = join(this.root, sha256.slice(0, 2));
    await mkdir(dir, { recursive: true });
    // Write then rename, so a reader never sees a half-written file.
    const temp = join(dir, `.${sha256}.${randomBytes(4).toString('hex')}`);
    await writeFile(temp, bytes);
    await rename(temp, join(dir, sha256));
    return { sha256, size: bytes.length };
  }

  get(sha256: string): Promise<Buffer> {
    return readFile(this.path(sha256));
  }

  /** Removes the bytes; callers delete only bytes no media row names any more. */
  async delete(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }

  private path(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('not a media hash');
    return join(this.root, sha256.slice(0, 2), sha256);
  }
}
