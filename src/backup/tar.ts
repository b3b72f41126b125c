/**
 * The tar (ustar) format, as much of it as a backup needs: regular files and directories,
 * written as a stream from files on disk and read back as a stream, each header's checksum
 * checked. Names stay ASCII and within ustar's 100 + 155 characters; anything else in an
 * archive is refused, so a crafted archive cannot write outside the directory it is read into.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

const BLOCK = 512;
const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

export interface TarEntry {
  /** Relative, `/`-separated, without `.` or `..` parts; a directory's without a trailing `/`. */
  name: string;
  type: 'file' | 'directory';
  /** Bytes of a file; 0 for a directory. */
  size: number;
  mode: number;
  mtime: Date;
}

export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

/** Files up to this size are read whole, several at once, ahead of the one being written. */
const WHOLE_FILE_BYTES = 8 * 1024 * 1024;
const READ_AHEAD_FILES = 64;
const READ_AHEAD_BYTES = 16 * 1024 * 1024;
/** The archive comes out in chunks of about this size. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * The archive of the entries, in order: a file's bytes come from `source`, or from `path`.
 *
 * A backup is served by a process whose event loop is busy with the embedded database, which
 * holds the thread for each statement. Every file system call and every chunk handed on waits
 * for a turn of that loop, so the archive reads small files ahead, concurrently, and comes out
 * in large chunks: one file at a time in 64 KiB pieces took minutes for a 40 MB store under
 * load.
 */
export async function* writeTar(
  entries: AsyncIterable<TarEntry & { path?: string; source?: Buffer }>,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const add = (chunk: Buffer) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
  };
  const take = () => {
    const chunk = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return chunk;
  };
  for await (const { entry, whole } of readingAhead(entries)) {
    add(header(entry));
    if (entry.type === 'file') {
      let written = 0;
      const chunks = whole
        ? [await whole]
        : createReadStream(entry.path!, { highWaterMark: CHUNK_BYTES });
      for await (const chunk of chunks as AsyncIterable<Buffer>) {
        written += chunk.length;
        if (written > entry.size) break;
        add(chunk);
        if (pendingBytes >= CHUNK_BYTES) yield take();
      }
      // A file that changed size meanwhile would shift every later entry: refuse it.
      if (written !== entry.size) {
        throw new TarError(`${entry.name} changed while it was archived`);
      }
      const padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      if (padding > 0) add(Buffer.alloc(padding));
    }
    if (pendingBytes >= CHUNK_BYTES) yield take();
  }
  add(END_OF_ARCHIVE);
  yield take();
}

/**
 * The entries, with the bytes of small files being read ahead: up to READ_AHEAD_FILES files
 * and READ_AHEAD_BYTES at once, so that each turn of the loop moves many reads on.
 */
async function* readingAhead<T extends TarEntry & { path?: string; source?: Buffer }>(
  entries: AsyncIterable<T>,
): AsyncGenerator<{ entry: T; whole: Promise<Buffer> | undefined }> {
  const ahead: { entry: T; whole: Promise<Buffer> | undefined; bytes: number }[] = [];
  let aheadBytes = 0;
  const iterator = entries[Symbol.asyncIterator]();
  let more = true;
  for (;;) {
    while (more && ahead.length < READ_AHEAD_FILES && aheadBytes < READ_AHEAD_BYTES) {
      const next = await iterator.next();
      if (next.done) {
        more = false;
        break;
      }
      const entry = next.value;
      let whole: Promise<Buffer> | undefined;
      let bytes = 0;
      if (entry.source) whole = Promise.resolve(entry.source);
      else if (entry.type === 'file' && entry.size <= WHOLE_FILE_BYTES) {
        whole = readFile(entry.path!);
        // Awaited in its turn; until then a failure must not count as unhandled.
        whole.catch(() => {});
        bytes = entry.size;
      }
      ahead.push({ entry, whole, bytes });
      aheadBytes += bytes;
    }
    const first = ahead.shift();
    if (!first) return;
    aheadBytes -= first.bytes;
    yield { entry: first.entry, whole: first.whole };
  }
}

/** Where a file's bytes go while it is read; returned by the visitor for each entry. */
export interface EntrySink {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads an archive, calling `visit` with each entry (in order) and handing a file's bytes to
 * the sink it returns; rejects with a TarError on anything malformed or cut short. Every
 * sink is closed, the one of an entry the archive cuts off too (a sink may hold an open
 * file, which would otherwise be closed by the garbage collector, with a warning).
 */
export async function readTar(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  visit: (entry: TarEntry) => Promise<EntrySink | undefined>,
): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  let body: { sink: EntrySink | undefined; left: number; padding: number } | undefined;
  let ended = false;
  try {
    for await (const chunk of source) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        if (ended) {
          pending = Buffer.alloc(0);
          break;
        }
        if (body) {
          if (body.left > 0) {
            if (pending.length === 0) break;
            const part = pending.subarray(0, Math.min(body.left, pending.length));
            pending = pending.subarray(part.length);
            body.left -= part.length;
            await body.sink?.write(part);
            if (body.left > 0) break;
          }
          if (pending.length < body.padding) break;
          pending = pending.subarray(body.padding);
          const finished = body;
          body = undefined;
          await finished.sink?.close();
        }
        if (pending.length < BLOCK) break;
        const block = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        if (block.every((byte) => byte === 0)) {
          ended = true;
          continue;
        }
        const entry = parseHeader(block);
        const sink = await visit(entry);
        if (entry.type === 'file') {
          body = { sink, left: entry.size, padding: (BLOCK - (entry.size % BLOCK)) % BLOCK };
        }
      }
    }
    if (!ended || body) throw new TarError('the archive is cut short');
  } catch (error) {
    // The archive's own problem is the one to report, not a failure to close after it.
    await body?.sink?.close().catch(() => undefined);
    throw error;
  }
}

function header(entry: TarEntry): Buffer {
  const block = Buffer.alloc(BLOCK);
  const name = entry.type === 'directory' ? `${entry.name}/` : entry.name;
  checkName(entry.name);
  // ustar splits a long name at a `/` into a prefix (155) and a name (100).
  let prefix = '';
  let rest = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    rest = name.slice(cut + 1);
    if (cut < 0 || prefix.length > 155 || rest.length > 100) {
      throw new TarError(`${entry.name} is too long a name for the archive`);
    }
  }
  if (entry.size > 0o77777777777) throw new TarError(`${entry.name} is too large to archive`);
  block.write(rest, 0, 100, 'ascii');
  octal(block, 100, 8, entry.mode & 0o7777);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, entry.type === 'file' ? entry.size : 0);
  octal(block, 136, 12, Math.floor(entry.mtime.getTime() / 1000));
  block.write(entry.type === 'file' ? '0' : '5', 156, 1, 'ascii');
  block.write('ustar\u000000', 257, 8, 'ascii');
  block.write(prefix, 345, 155, 'ascii');
  block.fill(' ', 148, 156);
  octal(block, 148, 8, checksum(block));
  return block;
}

function parseHeader(block: Buffer): TarEntry {
  const stored = readOctal(block, 148, 8);
  if (stored !== checksum(block)) throw new TarError('an archive header is damaged');
  if (block.toString('ascii', 257, 262) !== 'ustar') {
    throw new TarError('the archive is not in the ustar format');
  }
  const prefix = text(block, 345, 155);
  const full = (prefix ? `${prefix}/` : '') + text(block, 0, 100);
  const flag = block.toString('ascii', 156, 157);
  const type = flag === '5' ? 'directory' : flag === '0' || flag === '\u0000' ? 'file' : undefined;
  if (!type) throw new TarError(`${full} is neither a file nor a directory`);
  const name = type === 'directory' ? full.replace(/\/$/, '') : full;
  checkName(name);
  return {
    name,
    type,
    size: type === 'file' ? readOctal(block, 124, 12) : 0,
    mode: readOctal(block, 100, 8),
    mtime: new Date(readOctal(block, 136, 12) * 1000),
  };
}

function checkName(name: string): void {
  const parts = name.split('/');
  const safe =
    name.length > 0 &&
    /^[\x20-\x7e]+$/.test(name) &&
    parts.every((part) => part !== '' && part !== '.' && part !== '..');
  if (!safe) throw new TarError(`the archive names an unsafe path: ${JSON.stringify(name)}`);
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const digits = text(block, offset, length).trim();
  if (!/^[0-7]+$/.test(digits)) throw new TarError('an archive header is damaged');
  return Number.parseInt(digits, 8);
}

function text(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.toString('ascii', 0, end === -1 ? length : end);
}
