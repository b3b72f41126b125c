import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

// The CommonJS entries of PGlite and Drizzle's PGlite migrator, so that the child below can
// require them by absolute path from wherever this module runs (src under tsx or vitest,
// dist under node).
const resolve = createRequire(import.meta.url).resolve;
const ENTRIES = JSON.stringify({
  pglite: resolve('@electric-sql/pglite'),
  drizzle: resolve('drizzle-orm/pglite'),
  migrator: resolve('drizzle-orm/pglite/migrator'),
});

// argv: the entries, the directory to create, the JSON of the start parameters, the
// migrations folder.
const CHILD_SCRIPT = `
const [entries, dir, startParams, migrationsFolder] = process.argv.slice(1);
const { pglite, drizzle, migrator } = JSON.parse(entries);
require(pglite)
  .PGlite.create(dir, { startParams: JSON.parse(startParams) })
  .then(async (pg) => {
    await require(migrator).migrate(require(drizzle).drizzle({ client: pg }), { migrationsFolder });
    await pg.close();
  })
  .then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(String((error && error.stack) || error));
      process.exit(1);
    },
  );
`;

/**
 * Creates the PGlite database in pgData when it holds none, with every migration applied.
 * PGlite runs initdb inside the process, through a second Postgres instance whose WASM memory
 * (~430 MiB) stays referenced for the life of the process, and creating the schema grows the
 * WASM memory of the instance that does it (which never shrinks) by some 50 MiB. Here both
 * run in a short-lived child process instead, whose memory the OS takes back when it exits;
 * the caller then opens the finished directory, and its own migrate finds nothing to do. The child
 * builds it beside pgData and it is renamed into place once complete, so that an interrupted
 * first start leaves no half-made database behind, only a scratch directory the next one clears
 * (the data directory's lock, held by the caller, keeps other processes out meanwhile).
 */
export async function initPgliteDataDir(
  pgData: string,
  startParams: string[],
  migrationsFolder: string,
): Promise<void> {
  if (existsSync(join(pgData, 'PG_VERSION'))) return;
  // Named per process: a child orphaned by a killed first start may still be writing its own.
  const scratch = `${pgData}.initdb-${process.pid}`;
  for (const leftover of readdirSync(dirname(pgData))) {
    if (leftover.startsWith(`${basename(pgData)}.initdb-`)) {
      rmSync(join(dirname(pgData), leftover), { recursive: true, force: true });
    }
  }
  const child = spawn(
    process.execPath,
    ['-e', CHILD_SCRIPT, ENTRIES, scratch, JSON.stringify(startParams), migrationsFolder],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) {
    throw new Error(
      `Creating the embedded database in ${pgData} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`,
    );
  }
  renameSync(scratch, pgData);
}
