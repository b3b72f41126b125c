import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Children still running, for killSpawned. */
const running = new Set<ChildProcess>();

/**
 * Kills what spawnTs started and is still running; test/setup.ts calls it after each test
 * file. A test that timed out never reaches its own cleanup, and vitest ends the file's
 * process without an 'exit' event: its servers would outlive the file and slow every later
 * one.
 */
export function killSpawned(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Runs a TypeScript entry point of the repo in a child process, through tsx. */
export function spawnTs(entry: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects a child's output and resolves when it exits. */
export function collect(child: ChildProcess): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }));
}

export function runCli(args: string[], env: Record<string, string>): Promise<Finished> {
  return collect(spawnTs('src/cli.ts', args, env));
}

/** Resolves with the first match of `pattern` in the child's stdout. */
export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = seen.match(pattern);
      if (match) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve(match);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`process exited (${code}) before printing ${pattern}: ${seen}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}
