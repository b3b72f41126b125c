import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError } from '../src/db/lock.js';
import { initPgliteDataDir } from '../src/db/pglite-initdb.js';
import { contacts } from '../src/db/schema.js';
import { MIGRATIONS_FOLDER, openStore } from '../src/db/store.js';
import { collect, runCli, spawnTs } from './helpers/processes.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'parley-store-'));

describe('the data directory lock', () => {
  it('refuses a second process on the same DATA_DIR, naming the holder pid', async () => {
    const dataDir = tempDir();
    const store = await openStore({ dataDir });
    try {
      const second = await runCli(['migrate'], { DATA_DIR: dataDir });
      expect(second.code).toBe(1);
      expect(second.stderr.trim()).toBe(
        `DATA_DIR ${dataDir} is in use by another Parley process (pid ${process.pid}); stop it or choose another DATA_DIR.`,
      );
    } finally {
      await store.close();
    }
    expect(existsSync(join(dataDir, 'parley.lock'))).toBe(false);
  });

  it('takes over a lock whose holder no longer exists', async () => {
    const dataDir = tempDir();
    // A pid far above any pid_max a Linux system uses cannot be running.
    writeFileSync(join(dataDir, 'parley.lock'), '99999999\n');
    const lock = acquireDataDirLock(dataDir);
    expect(readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('refuses a lock held by a live process', () => {
    const dataDir = tempDir();
    // pid 1 always exists.
    writeFileSync(join(dataDir, 'parley.lock'), '1\n');
    expect(() => acquireDataDirLock(dataDir)).toThrow(DataDirLockedError);
  });
});

describe('memory of the embedded store', () => {
  // PGlite used to keep its initdb instance's WASM memory (~430 MiB) for the life of the
  // process, and filled 128 MB of shared buffers (703 MiB in all). The fixture's own modules
  // are loaded before it measures, so what it reports is the store's share of the process:
  // 180-200 MiB, depending on when V8 collects, so the bound leaves that noise some room.
  it('adds at most 250 MiB resident, on a first start on a new data directory and on a later one', async () => {
    const dataDir = tempDir();
    const storeRss = async () => {
      const result = await collect(spawnTs('test/fixtures/store-memory.ts', [dataDir], {}));
      expect(result.code, result.stderr).toBe(0);
      return Number(result.stdout.match(/^store rss (\d+)$/m)![1]) / 1024 / 1024;
    };
    const first = await storeRss();
    const later = await storeRss();
    expect(first).toBeLessThanOrEqual(250);
    expect(later).toBeLessThanOrEqual(250);
  }, 180_000);

  // Creating the schema grows the WASM memory of the instance that does it, which never
  // shrinks: a first start leaves it to the short-lived process that also runs initdb.
  it('creates a new data directory with every migration applied, before the process opens it', async () => {
    const pgData = join(tempDir(), 'pglite');
    await initPgliteDataDir(pgData, [...PGlite.defaultStartParams], MIGRATIONS_FOLDER);
    const journal = JSON.parse(
      readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8'),
    ) as { entries: unknown[] };
    const created = await PGlite.create(pgData);
    try {
      const applied = await created.query<{ count: number }>(
        'SELECT count(*)::int AS count FROM drizzle.__drizzle_migrations',
      );
      expect(applied.rows[0]!.count).toBe(journal.entries.length);
    } finally {
      await created.close();
    }
  }, 60_000);
});

describe('durability of the embedded store', () => {
  it('keeps every acknowledged row after the writer is killed with SIGKILL', async () => {
    const dataDir = tempDir();
    const writer = spawnTs('test/fixtures/ack-writer.ts', [dataDir], {});
    const finished = collect(writer);
    const acknowledged: string[] = [];
    await new Promise<void>((resolve) => {
      let buffer = '';
      writer.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) {
          if (line.startsWith('ack ')) acknowledged.push(line.slice(4));
        }
        if (acknowledged.length >= 200) resolve();
      });
      writer.once('exit', () => resolve());
    });
    writer.kill('SIGKILL');
    const result = await finished;
    expect(result.signal).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(200);

    // The dead writer's lock is stale: reopening takes it over and recovers from the WAL.
    const store = await openStore({ dataDir });
    try {
      const found = await store.db
        .select({ address: contacts.address })
        .from(contacts)
        .where(inArray(contacts.address, acknowledged));
      expect(found).toHaveLength(acknowledged.length);
    } finally {
      await store.close();
    }
  });
});
