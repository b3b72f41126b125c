/**
 * `npm start` builds only when the build is out of date: the server (dist/) and the web app
 * (dist/web/) are rebuilt when a file they are built from changed after the last build.
 * Plain JavaScript: it runs before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the build reads: a change to any of them makes the build stale. */
const INPUTS = [
  'src',
  'web',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];
/** Written after a build that succeeded; its time is the build's. */
export const STAMP = join('dist', '.build-stamp');

/** The latest modification time (ms) of the files under `path`. */
function newestUnder(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    newest = Math.max(newest, newestUnder(join(path, entry)));
  }
  return newest;
}

/** Whether the last build in `root` is newer than every file it was built from. */
export function isBuildCurrent(root) {
  const stamp = join(root, STAMP);
  if (!existsSync(stamp) || !existsSync(join(root, 'dist', 'web', 'index.html'))) return false;
  const built = statSync(stamp).mtimeMs;
  return INPUTS.every((input) => newestUnder(join(root, input)) <= built);
}

/** Builds when stale; returns whether it built. Exits the process when the build fails. */
export function buildIfStale(root) {
  if (isBuildCurrent(root)) return false;
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
  writeFileSync(join(root, STAMP), `${new Date().toISOString()}\n`);
  return true;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(import.meta.url), '..', '..');
  if (!buildIfStale(root)) process.stdout.write('The build is current: starting.\n');
}
