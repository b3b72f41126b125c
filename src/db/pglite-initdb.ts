import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

// PGlite's CommonJS entry, so that the child below can require it by absolute path from
// wherever this module runs (src under tsx or vitest, dist under node).
const PGLITE_ENTRY = createRequire(import.meta.url).resolve('@electric-sql/pglite');

// argv: the PGlite entry, the directory to create, the JSON of the start parameters.
const CHILD_SCRIPT = `
const [entry, dir, startParams] = process.argv.slice(1);
require(entry)
  .PGlite.create(dir, { startParams: JSON.parse(startParams) })
  .then((pg) => pg.close())
  .then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(String((error && error.stack) || error));
      process.exit(1);
    },
  );
`;

/**
 * Creates the PGlite database in pgData when it holds none. PGlite runs initdb inside the
 * process, through a second Postgres instance whose WASM memory (~430 MiB) stays referenced for
 * the life of the process. Here it runs in a short-lived child process instead, whose memory
 * the OS takes back when it exits; the caller then opens the finished directory. The child
 * builds it beside pgData and it is renamed into place once complete, so that an interrupted
 * first start leaves no half-made database behind, only a scratch directory the next one clears
 * (the data directory's lock, held by the caller, keeps other processes out meanwhile).
 */
export async function initPgliteDataDir(pgData: string, startParams: string[]): Promise<void> {
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
    ['-e', CHILD_SCRIPT, PGLITE_ENTRY, scratch, JSON.stringify(startParams)],
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
