/**
 * Backups of the embedded store: one gzip'd tar holding `manifest.json` (first), the PGlite
 * data directory (`pglite/`) and the media bytes (`media/`) of DATA_DIR. Never the APP_SECRET
 * file beside them: the database's secrets are sealed with it, and a backup that carried its
 * own key would give them to whoever holds the file.
 *
 * The process that owns DATA_DIR takes the snapshot (takeSnapshot): while the store is quiet
 * (Store.whileQuiet: no transaction open, checkpointed) its files are copied and the media
 * files hard-linked into a staging directory inside DATA_DIR, then the archive streams from
 * that copy while Parley carries on. Media bytes are written before the row naming them
 * commits and deleted after the row is, so the media linked at that moment hold every file
 * the copied database names.
 */
import { randomBytes } from 'node:crypto';
import {
  constants,
  createReadStream,
  type Dirent,
  existsSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zlib } from 'node:zlib';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { acquireDataDirLock } from '../db/lock.js';
import { type Db, MIGRATIONS_FOLDER, openStore, queryRows, type Store } from '../db/store.js';
import { AppError } from '../errors.js';
import { type EntrySink, readTar, type TarEntry, TarError, writeTar } from './tar.js';

/** What `parley backup` answers with DATABASE_URL set, and the API too. */
export const POSTGRES_BACKUP_ADVICE =
  'DATABASE_URL is set: back PostgreSQL up with pg_dump (and restore with pg_restore), as the README section "Backups" describes.';

export const POSTGRES_RESTORE_ADVICE =
  'DATABASE_URL is set: restore PostgreSQL with pg_restore, as the README section "Backups" describes.';

const MANIFEST = 'manifest.json';
const PARTS = ['pglite', 'media'] as const;
type Part = (typeof PARTS)[number];
const PART_NAMES: Record<Part, string> = { pglite: 'a database', media: 'media files' };
const MAX_MANIFEST_BYTES = 64 * 1024;

const count = z.number().int().nonnegative();
const manifestSchema = z.object({
  format: z.literal('parley-backup'),
  formatVersion: z.literal(1),
  parleyVersion: z.string(),
  createdAt: z.iso.datetime(),
  /** Drizzle's migrations table: how many ran, and the journal time of the last one. */
  migrations: z.object({ applied: count, latestAt: count }),
  contents: z.object({
    pglite: z.object({ files: count, bytes: count }),
    media: z.object({ files: count, bytes: count }),
  }),
});
export type BackupManifest = z.infer<typeof manifestSchema>;

function parleyVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** The migration level this Parley knows: its journal's length and last migration's time. */
function knownMigrations(): BackupManifest['migrations'] {
  const journal = JSON.parse(
    readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8'),
  ) as { entries: { when: number }[] };
  return {
    applied: journal.entries.length,
    latestAt: Math.max(0, ...journal.entries.map((entry) => entry.when)),
  };
}

async function appliedMigrations(db: Db): Promise<BackupManifest['migrations']> {
  const [row] = await queryRows<{ applied: number; latest: string }>(
    db,
    sql`SELECT count(*)::int AS applied, coalesce(max(created_at), 0)::text AS latest
        FROM drizzle.__drizzle_migrations`,
  );
  return { applied: row!.applied, latestAt: Number(row!.latest) };
}

export interface Snapshot {
  readonly manifest: BackupManifest;
  /** The backup as a gzip'd tar; read it once. */
  archive(): Readable;
  /** Removes the staged copy, once the archive has been read or abandoned. */
  discard(): Promise<void>;
}

/** Names of the staging directories of this process's backups in progress. */
const liveStaging = new Set<string>();

/** Copies the embedded store's database and media, consistent as of one moment, for archive. */
export async function takeSnapshot(store: Store, dataDir: string): Promise<Snapshot> {
  if (!store.whileQuiet) throw new AppError('conflict', POSTGRES_BACKUP_ADVICE);
  // Migrations run only at start, so the level read here is the copy's.
  const migrations = await appliedMigrations(store.db);
  // This process holds DATA_DIR: a staging directory none of its backups uses is a leftover.
  await removeStaging(dataDir, 'backup-staging-', (name) => !liveStaging.has(name));
  const name = `backup-staging-${randomBytes(6).toString('hex')}`;
  const staging = join(dataDir, name);
  liveStaging.add(name);
  const discard = async () => {
    await rm(staging, { recursive: true, force: true });
    liveStaging.delete(name);
  };
  try {
    await store.whileQuiet(async (pgData) => {
      // postmaster.pid names the running process: a restored copy must not inherit it.
      await copyTree(pgData, join(staging, 'pglite'), 'copy', (name) => name !== 'postmaster.pid');
      // Dot files are MediaStore's half-written temporaries.
      await copyTree(
        join(dataDir, 'media'),
        join(staging, 'media'),
        'link',
        (name) => !name.startsWith('.'),
      );
    });
    const entries = await listTree(staging);
    const manifest: BackupManifest = {
      format: 'parley-backup',
      formatVersion: 1,
      parleyVersion: parleyVersion(),
      createdAt: new Date().toISOString(),
      migrations,
      contents: { pglite: tally(entries, 'pglite'), media: tally(entries, 'media') },
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    return {
      manifest,
      archive: () => {
        async function* all() {
          yield {
            name: MANIFEST,
            type: 'file' as const,
            size: manifestBytes.length,
            mode: 0o600,
            mtime: new Date(),
            source: manifestBytes,
          };
          yield* entries;
        }
        // pipeline destroys the gzip stream with any error of the tar, so its reader sees it.
        // Large output chunks: each is a turn of the event loop (see writeTar).
        return pipeline(writeTar(all()), createGzip({ chunkSize: 1024 * 1024 }), () => {});
      },
      discard,
    };
  } catch (error) {
    await discard();
    throw error;
  }
}

/**
 * `parley backup` when no process holds DATA_DIR: opens the store itself and writes the
 * backup to `file`. It holds the lock meanwhile, so a Parley started then is refused.
 */
export async function backupDataDir(dataDir: string, file: string): Promise<BackupManifest> {
  if (!existsSync(join(dataDir, 'pglite', 'PG_VERSION'))) {
    throw new AppError('not_found', `DATA_DIR ${dataDir} holds no Parley database to back up.`);
  }
  const store = await openStore({ dataDir });
  try {
    const snapshot = await takeSnapshot(store, dataDir);
    try {
      await writeBackupFile(snapshot, file);
    } finally {
      await snapshot.discard();
    }
    return snapshot.manifest;
  } finally {
    await store.close();
  }
}

/** Writes a snapshot's archive to `file`, through a temporary name so a failure leaves none. */
async function writeBackupFile(snapshot: Snapshot, file: string): Promise<void> {
  const partial = `${file}.partial-${process.pid}`;
  try {
    await pipelineAsync(snapshot.archive(), (await open(partial, 'w', 0o600)).createWriteStream());
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/**
 * Asks the Parley process at `url` for a backup with an admin's API token and writes it to
 * `file`, checked end to end before it takes that name.
 */
export async function downloadBackup(options: {
  url: string;
  token: string;
  file: string;
}): Promise<BackupManifest> {
  const endpoint = new URL('/api/backup', options.url);
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.token}` },
    });
  } catch (error) {
    const reason = (error as { cause?: { code?: string } }).cause?.code ?? String(error);
    throw new AppError(
      'bad_gateway',
      `Could not reach Parley at ${endpoint.origin} (${reason}); give its address with --url.`,
    );
  }
  if (!response.ok || !response.body) {
    const answer = (await response.json().catch(() => ({}))) as { message?: string };
    const reason =
      response.status === 401
        ? 'the API token is unknown, expired or revoked'
        : response.status === 403
          ? "the API token is not an admin's"
          : `${response.status}: ${answer.message ?? response.statusText}`;
    throw new AppError(
      'bad_gateway',
      `Parley at ${endpoint.origin} refused the backup (${reason.replace(/\.$/, '')}).`,
    );
  }
  const partial = `${options.file}.partial-${process.pid}`;
  try {
    await pipelineAsync(
      response.body as unknown as AsyncIterable<Uint8Array>,
      (await open(partial, 'w', 0o600)).createWriteStream(),
    );
    const manifest = await verifyBackup(partial, options.file);
    await rename(partial, options.file);
    return manifest;
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/** Reads the whole archive, as restore would, without writing it anywhere. */
function verifyBackup(path: string, shownAs = path): Promise<BackupManifest> {
  return readBackup(path, shownAs, undefined);
}

/**
 * Restores a backup into DATA_DIR, which no process may hold meanwhile. A DATA_DIR that
 * already has a database or media is refused, or with `force` they are moved into
 * DATA_DIR/before-restore-<time>, never deleted. Its migrations are left to `parley start`.
 */
export async function restoreBackup(options: {
  file: string;
  dataDir: string;
  force: boolean;
}): Promise<{ manifest: BackupManifest; setAside: string | undefined }> {
  const { file, dataDir } = options;
  checkBackupFile(file);
  const lock = acquireDataDirLock(dataDir);
  try {
    const present = PARTS.filter((part) => existsSync(join(dataDir, part)));
    if (present.length > 0 && !options.force) {
      throw new AppError(
        'conflict',
        `DATA_DIR ${dataDir} already holds ${present.map((part) => PART_NAMES[part]).join(' and ')}; restore into an empty DATA_DIR, or add --force to move them aside first.`,
      );
    }
    await removeStaging(dataDir, 'restore-staging-', () => true);
    const staging = join(dataDir, `restore-staging-${process.pid}`);
    try {
      const manifest = await readBackup(file, file, staging);
      const setAside =
        present.length > 0
          ? join(dataDir, `before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`)
          : undefined;
      if (setAside) {
        await mkdir(setAside);
        for (const part of present) await rename(join(dataDir, part), join(setAside, part));
      }
      for (const part of PARTS) {
        if (existsSync(join(staging, part))) {
          await rename(join(staging, part), join(dataDir, part));
        }
      }
      return { manifest, setAside };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
}

function checkBackupFile(file: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AppError(
      'bad_request',
      code === 'ENOENT'
        ? `Cannot restore ${file}: there is no such file.`
        : `Cannot restore ${file}: it cannot be read (${code}).`,
    );
  }
  if (!isFile) throw new AppError('bad_request', `Cannot restore ${file}: it is not a file.`);
}

/**
 * Reads the archive at `path` through, checking the manifest, every header and the gzip
 * checksum, and that it holds what its manifest lists; with `into`, writes it there.
 */
async function readBackup(
  path: string,
  shownAs: string,
  into: string | undefined,
): Promise<BackupManifest> {
  let manifestText = '';
  let manifest: BackupManifest | undefined;
  const found = { pglite: { files: 0, bytes: 0 }, media: { files: 0, bytes: 0 } };
  const visit = async (entry: TarEntry): Promise<EntrySink | undefined> => {
    if (!manifest) {
      if (entry.name !== MANIFEST || entry.type !== 'file' || entry.size > MAX_MANIFEST_BYTES) {
        throw new BackupProblem('it does not start with a Parley backup manifest');
      }
      return {
        write: async (chunk) => {
          manifestText += chunk.toString('utf8');
        },
        close: async () => {
          manifest = parseManifest(manifestText);
        },
      };
    }
    const part = entry.name.split('/')[0] as Part;
    if (!PARTS.includes(part)) throw new BackupProblem(`it holds an unexpected ${entry.name}`);
    if (entry.type === 'file') {
      found[part].files += 1;
      found[part].bytes += entry.size;
    }
    if (!into) return undefined;
    const target = join(into, entry.name);
    if (entry.type === 'directory') {
      await mkdir(target, { recursive: true, mode: entry.mode & 0o777 });
      return undefined;
    }
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(target, 'wx', entry.mode & 0o777);
    return {
      write: async (chunk) => {
        await handle.write(chunk);
      },
      close: () => handle.close(),
    };
  };
  const gunzip = createGunzip();
  pipeline(createReadStream(path), gunzip, () => {});
  try {
    await readTar(gunzip, visit);
  } catch (error) {
    throw new AppError('bad_request', `Cannot restore ${shownAs}: ${problemOf(error)}.`);
  }
  if (!manifest) {
    throw new AppError('bad_request', `Cannot restore ${shownAs}: it holds no backup manifest.`);
  }
  const known = knownMigrations();
  if (manifest.migrations.latestAt > known.latestAt) {
    throw new AppError(
      'conflict',
      `Cannot restore ${shownAs}: it was made by a newer Parley (${manifest.parleyVersion}, migration level ${manifest.migrations.applied}; this one knows ${known.applied}); upgrade Parley first.`,
    );
  }
  for (const part of PARTS) {
    const listed = manifest.contents[part];
    if (found[part].files !== listed.files || found[part].bytes !== listed.bytes) {
      throw new AppError(
        'bad_request',
        `Cannot restore ${shownAs}: it holds ${found[part].files} ${part} files where its manifest lists ${listed.files}.`,
      );
    }
  }
  if (manifest.contents.pglite.files === 0) {
    throw new AppError('bad_request', `Cannot restore ${shownAs}: it holds no database.`);
  }
  return manifest;
}

/** A reason an archive is not a usable backup, said as the end of a sentence. */
class BackupProblem extends Error {}

function parseManifest(text: string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupProblem('its manifest is not JSON');
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new BackupProblem('its manifest is not a Parley backup manifest');
  return parsed.data;
}

function problemOf(error: unknown): string {
  if (error instanceof BackupProblem || error instanceof TarError) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'Z_DATA_ERROR' || code === 'Z_STREAM_ERROR') {
    return 'it is not a gzip-compressed Parley backup, or it is damaged';
  }
  if (code === 'Z_BUF_ERROR' || (error as { errno?: number }).errno === zlib.Z_BUF_ERROR) {
    return 'the file is cut short';
  }
  if (code === 'EEXIST') return 'it names a file twice';
  return `it could not be read (${code ?? (error instanceof Error ? error.message : String(error))})`;
}

/** Removes the staging directories `prefix…` that `stale` says no backup or restore uses. */
async function removeStaging(
  dataDir: string,
  prefix: string,
  stale: (name: string) => boolean,
): Promise<void> {
  const names = await readdir(dataDir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(prefix) && stale(name)) {
      await rm(join(dataDir, name), { recursive: true, force: true });
    }
  }
}

/**
 * Copies the tree at `from` into `to` (absent `from`: nothing), each file copied (a
 * copy-on-write clone where the file system has them) or hard-linked (for files that are
 * never changed in place, only replaced or removed).
 */
async function copyTree(
  from: string,
  to: string,
  how: 'copy' | 'link',
  keep: (name: string) => boolean,
): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(from, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await mkdir(to, { recursive: true, mode: (await stat(from)).mode & 0o777 });
  // Concurrently: every query waits while the database is copied. Every copy ends before a
  // failure is thrown, so that removing the staged copy cannot race one still writing.
  const copied = await Promise.allSettled(
    entries
      .filter((entry) => keep(entry.name))
      .map(async (entry) => {
        const source = join(from, entry.name);
        const target = join(to, entry.name);
        if (entry.isDirectory()) {
          await copyTree(source, target, how, keep);
        } else if (entry.isFile()) {
          if (how === 'link') {
            // Another file system under media, or one without hard links: copy instead.
            await link(source, target).catch(() => copyFile(source, target));
          } else {
            await copyFile(source, target, constants.COPYFILE_FICLONE);
          }
        }
      }),
  );
  for (const result of copied) if (result.status === 'rejected') throw result.reason;
}

/** Every directory and file under root, parents first, in a stable order. */
async function listTree(root: string, prefix = ''): Promise<(TarEntry & { path: string })[]> {
  const names = (await readdir(join(root, prefix))).sort();
  // Each directory's names stat'ed at once: one at a time, each waits for a turn of a busy loop.
  const listed = await Promise.all(
    names.map(async (name) => {
      const relative = prefix ? `${prefix}/${name}` : name;
      const path = join(root, relative);
      const info = await stat(path);
      const type = info.isDirectory() ? ('directory' as const) : ('file' as const);
      const entry = {
        name: relative,
        path,
        type,
        size: type === 'file' ? info.size : 0,
        mode: info.mode,
        mtime: info.mtime,
      };
      return type === 'directory' ? [entry, ...(await listTree(root, relative))] : [entry];
    }),
  );
  return listed.flat();
}

function tally(entries: TarEntry[], part: Part): { files: number; bytes: number } {
  const files = entries.filter((e) => e.type === 'file' && e.name.startsWith(`${part}/`));
  return { files: files.length, bytes: files.reduce((sum, e) => sum + e.size, 0) };
}
