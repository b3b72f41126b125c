import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { eq, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../src/backup/backup.js';
import { readTar, type TarEntry, writeTar } from '../src/backup/tar.js';
import { auditEntries, conversationNotes } from '../src/db/schema.js';
import { MIGRATIONS_FOLDER, openStore, queryRows } from '../src/db/store.js';
import { FileMediaStore } from '../src/media/file-media-store.js';
import { buildTestApp, signIn } from './helpers/app.js';
import { buildNumber, conversationInFlow, storedPictureIn } from './helpers/factories.js';
import { collect, runCli, spawnTs, waitForOutput } from './helpers/processes.js';
import { eventually, freePort } from './helpers/stack.js';

// Each holds a database of some 40 MB: removed after the file's tests.
const tempDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-backup-'));
  tempDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
const journalLength = () =>
  (
    JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
      entries: unknown[];
    }
  ).entries.length;

/** A DATA_DIR with an admin, a conversation and one stored picture, and no process on it. */
async function seededDataDir() {
  const dataDir = tempDir();
  const store = await openStore({ dataDir });
  try {
    await store.migrate();
    const admin = await signIn(store, 'admin');
    const number = await buildNumber(store.db);
    const conversation = await conversationInFlow(store.db, number.id);
    const picture = randomBytes(40_000);
    const stored = await new FileMediaStore(join(dataDir, 'media')).put(Readable.from([picture]));
    const row = await storedPictureIn(store.db, conversation, number.address, stored);
    return { dataDir, admin, conversation, picture, mediaId: row.id };
  } finally {
    await store.close();
  }
}

async function startServer(dataDir: string) {
  const port = await freePort();
  // A loaded CI machine may take more than the default 10 s to stop the store; this test is
  // about what a backup holds, server.test.ts about how fast Parley stops.
  const child = spawnTs('src/cli.ts', ['start'], {
    DATA_DIR: dataDir,
    PORT: String(port),
    SHUTDOWN_TIMEOUT_MS: '60000',
  });
  const exited = collect(child);
  const [, url] = await waitForOutput(child, /API and health: +(\S+)\/healthz/);
  return {
    child: child as ChildProcess & { pid: number },
    port,
    url: url!,
    stop: async () => {
      child.kill('SIGTERM');
      const finished = await exited;
      // Parley logs to stdout: a shutdown that failed or ran out of time says so there.
      expect(finished.code, `${finished.stdout}${finished.stderr}`).toBe(0);
    },
  };
}

/** The entries of a backup archive with their bytes, in order, all in memory. */
async function archiveEntries(file: string): Promise<Map<string, TarEntry & { source: Buffer }>> {
  const entries = new Map<string, TarEntry & { source: Buffer }>();
  await readTar([gunzipSync(readFileSync(file))], async (entry) => {
    const chunks: Buffer[] = [];
    entries.set(entry.name, { ...entry, source: Buffer.alloc(0) });
    return {
      write: async (chunk) => {
        chunks.push(Buffer.from(chunk));
      },
      close: async () => {
        entries.set(entry.name, { ...entry, source: Buffer.concat(chunks) });
      },
    };
  });
  return entries;
}

describe('reading an archive', () => {
  /** An archive of one file of `size` bytes, whole. */
  async function archiveOfOneFile(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of writeTar(
      (async function* () {
        yield {
          name: 'pglite/base/1',
          type: 'file' as const,
          size,
          mode: 0o600,
          mtime: new Date(),
          source: Buffer.alloc(size, 7),
        };
      })(),
    )) {
      parts.push(chunk);
    }
    return Buffer.concat(parts);
  }

  /** Reads `source`, counting each entry's sink's writes and closes. */
  async function readCounting(source: AsyncIterable<Buffer> | Iterable<Buffer>) {
    const sinks: { written: number; closed: number }[] = [];
    const reading = readTar(source, async () => {
      const sink = { written: 0, closed: 0 };
      sinks.push(sink);
      return {
        write: async (chunk) => {
          sink.written += chunk.length;
        },
        close: async () => {
          sink.closed += 1;
        },
      };
    });
    return { reading, sinks };
  }

  it('closes the sink of a file the archive cuts off', async () => {
    const archive = await archiveOfOneFile(2_000);
    const { reading, sinks } = await readCounting([archive.subarray(0, 512 + 1_000)]);
    await expect(reading).rejects.toThrow('the archive is cut short');
    expect(sinks).toEqual([{ written: 1_000, closed: 1 }]);
  });

  it('closes the sink of a file whose source fails in the middle', async () => {
    const archive = await archiveOfOneFile(2_000);
    const { reading, sinks } = await readCounting(
      (async function* () {
        yield archive.subarray(0, 512 + 700);
        throw Object.assign(new Error('unexpected end of file'), { code: 'Z_BUF_ERROR' });
      })(),
    );
    await expect(reading).rejects.toThrow('unexpected end of file');
    expect(sinks).toEqual([{ written: 700, closed: 1 }]);
  });

  it('closes each sink once when the archive is whole', async () => {
    const { reading, sinks } = await readCounting([await archiveOfOneFile(2_000)]);
    await reading;
    expect(sinks).toEqual([{ written: 2_000, closed: 1 }]);
  });
});

describe('parley backup and restore of the embedded store', () => {
  it('backs up a Parley that is being written to; the restore holds every acknowledged write, consistent, with its media', async () => {
    const seeded = await seededDataDir();
    const { dataDir, admin, conversation } = seeded;
    const server = await startServer(dataDir);
    const file = join(tempDir(), 'nightly.tar.gz');
    const acknowledged: string[] = [];
    let writing = true;
    // Two writers, so that a transaction is usually in flight when the snapshot is taken.
    const writer = async () => {
      for (let i = 0; writing; i++) {
        const response = await fetch(`${server.url}/api/conversations/${conversation.id}/notes`, {
          method: 'POST',
          headers: { ...admin.headers, 'content-type': 'application/json' },
          body: JSON.stringify({ body: `note ${i}` }),
        });
        expect(response.status).toBe(201);
        acknowledged.push(((await response.json()) as { id: string }).id);
      }
    };
    const writers = Promise.all([writer(), writer()]);
    try {
      await eventually(async () => acknowledged.length >= 20);

      const refused = await runCli(['backup', file], {
        DATA_DIR: dataDir,
        PORT: String(server.port),
      });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `Parley (pid ${server.child.pid}) holds DATA_DIR ${dataDir}: give an admin's API token with --token or PARLEY_API_TOKEN, and it makes the backup.\n`,
      );

      const badToken = await runCli(['backup', file, '--token', 'not-a-token'], {
        DATA_DIR: dataDir,
        PORT: String(server.port),
      });
      expect(badToken.code).toBe(1);
      expect(badToken.stderr).toBe(
        `Parley at ${server.url} refused the backup (the API token is unknown, expired or revoked).\n`,
      );
      expect(existsSync(file)).toBe(false);

      const beforeBackup = [...acknowledged];
      const backedUp = await runCli(['backup', file], {
        DATA_DIR: dataDir,
        PORT: String(server.port),
        PARLEY_API_TOKEN: admin.headers.authorization.slice('Bearer '.length),
      });
      expect(backedUp.stderr).toBe('');
      expect(backedUp.code).toBe(0);
      expect(backedUp.stdout).toMatch(/^Backed up .* and 1 media files/);
      // Parley went on answering while the backup was taken and sent.
      expect(acknowledged.length).toBeGreaterThan(beforeBackup.length);
      // Its staged copy is gone once the archive has been sent.
      await eventually(
        async () => !readdirSync(dataDir).some((name) => name.startsWith('backup-staging-')),
      );

      const restoreWhileRunning = await runCli(['restore', file], { DATA_DIR: dataDir });
      expect(restoreWhileRunning.code).toBe(1);
      expect(restoreWhileRunning.stderr).toBe(
        `DATA_DIR ${dataDir} is in use by another Parley process (pid ${server.child.pid}); stop it or choose another DATA_DIR.\n`,
      );

      writing = false;
      await writers;
      await server.stop();

      // The archive: the manifest first, the database and media, never the APP_SECRET.
      const entries = await archiveEntries(file);
      expect([...entries.keys()][0]).toBe('manifest.json');
      expect(JSON.parse(entries.get('manifest.json')!.source.toString())).toMatchObject({
        format: 'parley-backup',
        migrations: { applied: journalLength() },
        contents: { media: { files: 1, bytes: seeded.picture.length } },
      });
      const appSecret = readFileSync(join(dataDir, 'app-secret'), 'utf8').trim();
      expect(
        [...entries.keys()].filter((name) => !/^(manifest\.json|pglite|media)\b/.test(name)),
      ).toEqual([]);
      expect(gunzipSync(readFileSync(file)).includes(appSecret)).toBe(false);

      const restoredDir = join(tempDir(), 'restored');
      const restored = await runCli(['restore', file], { DATA_DIR: restoredDir });
      expect(restored.stderr).toBe('');
      expect(restored.code).toBe(0);
      expect(restored.stdout).toContain(`into ${restoredDir}`);

      const again = await startServer(restoredDir);
      try {
        const picture = await fetch(`${again.url}/api/media/${seeded.mediaId}`, {
          headers: admin.headers,
        });
        expect(picture.status).toBe(200);
        expect(Buffer.from(await picture.arrayBuffer()).equals(seeded.picture)).toBe(true);
      } finally {
        await again.stop();
      }

      const store = await openStore({ dataDir: restoredDir });
      try {
        const notes = await store.db
          .select({ id: conversationNotes.id })
          .from(conversationNotes)
          .where(eq(conversationNotes.conversationId, conversation.id));
        const ids = new Set(notes.map((note) => note.id));
        expect(beforeBackup.filter((id) => !ids.has(id))).toEqual([]);
        // Each note was written with its event in one transaction: none without the other.
        const [counts] = await queryRows<{ notes: number; events: number; migrations: number }>(
          store.db,
          sql`SELECT (SELECT count(*)::int FROM conversation_notes) AS notes,
                     (SELECT count(*)::int FROM events WHERE type = 'note.added') AS events,
                     (SELECT count(*)::int FROM drizzle.__drizzle_migrations) AS migrations`,
        );
        expect(counts).toEqual({
          notes: ids.size,
          events: ids.size,
          migrations: journalLength(),
        });
        // The backup holds the audit entry of its own making, by the admin whose token asked.
        const audit = await store.db
          .select({ actor: auditEntries.actor })
          .from(auditEntries)
          .where(eq(auditEntries.action, 'backup.created'));
        expect(audit).toEqual([{ actor: admin.user.email }]);
      } finally {
        await store.close();
      }
    } finally {
      writing = false;
      await writers.catch(() => {});
      server.child.kill('SIGTERM');
    }
  }, 240_000);

  it('backs up a stopped DATA_DIR itself, and restores over data only with --force, keeping it aside', async () => {
    const { dataDir } = await seededDataDir();
    const file = join(tempDir(), 'offline.tar.gz');
    const backedUp = await runCli(['backup', file], { DATA_DIR: dataDir });
    expect(backedUp.stderr).toBe('');
    expect(backedUp.code).toBe(0);
    expect(readdirSync(dataDir).filter((name) => name.startsWith('backup-staging-'))).toEqual([]);

    const target = (await seededDataDir()).dataDir;
    const refused = await runCli(['restore', file], { DATA_DIR: target });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `DATA_DIR ${target} already holds a database and media files; restore into an empty DATA_DIR, or add --force to move them aside first.\n`,
    );

    const forced = await runCli(['restore', file, '--force'], { DATA_DIR: target });
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    const aside = readdirSync(target).find((name) => name.startsWith('before-restore-'));
    expect(aside).toBeDefined();
    expect(existsSync(join(target, aside!, 'pglite', 'PG_VERSION'))).toBe(true);
    expect(forced.stdout).toContain(`The data it replaced is in ${join(target, aside!)}.`);
  }, 120_000);

  it('refuses a missing, damaged or cut-short file with one line, and a backup from a newer Parley', async () => {
    const dataDir = tempDir();
    const missing = await runCli(['restore', join(dataDir, 'nope.tar.gz')], { DATA_DIR: dataDir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `Cannot restore ${join(dataDir, 'nope.tar.gz')}: there is no such file.\n`,
    );

    const nowhere = join(dataDir, 'no-such-directory', 'x.tar.gz');
    const unwritable = await runCli(['backup', nowhere], { DATA_DIR: dataDir });
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toBe(`Cannot write ${nowhere}: its directory does not exist.\n`);

    const garbage = join(dataDir, 'garbage.tar.gz');
    writeFileSync(garbage, randomBytes(4096));
    const damaged = await runCli(['restore', garbage], { DATA_DIR: dataDir });
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toBe(
      `Cannot restore ${garbage}: it is not a gzip-compressed Parley backup, or it is damaged.\n`,
    );

    // A valid backup, cut in the middle.
    const { dataDir: source } = await seededDataDir();
    const whole = join(tempDir(), 'whole.tar.gz');
    expect((await runCli(['backup', whole], { DATA_DIR: source })).code).toBe(0);
    const cut = join(dataDir, 'cut.tar.gz');
    const bytes = readFileSync(whole);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const cutShort = await runCli(['restore', cut], { DATA_DIR: join(dataDir, 'target') });
    expect(cutShort.code).toBe(1);
    expect(cutShort.stderr).toBe(`Cannot restore ${cut}: the file is cut short.\n`);
    expect(existsSync(join(dataDir, 'target', 'pglite'))).toBe(false);

    // The same backup, its manifest claiming a migration this Parley does not know.
    const entries = await archiveEntries(whole);
    const manifest = JSON.parse(entries.get('manifest.json')!.source.toString());
    manifest.migrations.applied += 1;
    manifest.migrations.latestAt += 1;
    const changed = Buffer.from(JSON.stringify(manifest));
    entries.set('manifest.json', {
      ...entries.get('manifest.json')!,
      source: changed,
      size: changed.length,
    });
    const newer = join(dataDir, 'newer.tar.gz');
    const parts: Buffer[] = [];
    for await (const chunk of writeTar(
      (async function* () {
        yield* entries.values();
      })(),
    )) {
      parts.push(chunk);
    }
    writeFileSync(newer, gzipSync(Buffer.concat(parts)));
    await expect(
      restoreBackup({ file: newer, dataDir: join(dataDir, 'newer'), force: false }),
    ).rejects.toThrow(
      `Cannot restore ${newer}: it was made by a newer Parley (0.1.0, migration level ${journalLength() + 1}; this one knows ${journalLength()}); upgrade Parley first.`,
    );
  }, 120_000);

  it('gives the backup API to admins only, and without an embedded data directory points at pg_dump', async () => {
    const t = await buildTestApp();
    try {
      const anonymous = await t.app.inject({ method: 'POST', url: '/api/backup' });
      expect(anonymous.statusCode).toBe(401);
      const agent = await signIn(t.store, 'agent');
      const refused = await t.app.inject({
        method: 'POST',
        url: '/api/backup',
        headers: agent.headers,
      });
      expect(refused.statusCode).toBe(403);
      const admin = await signIn(t.store, 'admin');
      const answer = await t.app.inject({
        method: 'POST',
        url: '/api/backup',
        headers: admin.headers,
      });
      expect(answer.statusCode).toBe(409);
      expect(answer.json().message).toMatch(
        /^DATABASE_URL is set: back PostgreSQL up with pg_dump/,
      );
    } finally {
      await t.close();
    }
  });

  it('points at pg_dump when DATABASE_URL is set', async () => {
    const result = await runCli(['backup', join(tempDir(), 'pg.tar.gz')], {
      DATABASE_URL: 'postgres://parley@127.0.0.1:1/parley',
      APP_SECRET: 'b'.repeat(64),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'DATABASE_URL is set: back PostgreSQL up with pg_dump (and restore with pg_restore), as the README section "Backups" describes.\n',
    );
  });
});
