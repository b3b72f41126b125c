import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { isBuildCurrent, STAMP } from '../scripts/build-if-stale.mjs';
import { verifyPassword } from '../src/auth/passwords.js';
import { users } from '../src/db/schema.js';
import { openStore } from '../src/db/store.js';
import { runCli } from './helpers/processes.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'parley-cli-'));

describe('parley CLI', () => {
  it('stops start-up on a bad variable with one line naming it, and no stack trace', async () => {
    const result = await runCli(['start'], { DATA_DIR: tempDir(), PORT: 'eighty' });
    expect(result.code).toBe(78);
    expect(result.stderr).toBe(
      'Configuration error:\n  PORT must be a whole number from 0 to 65535.\n',
    );
    expect(result.stderr).not.toMatch(/\bat\b.*\.ts:\d+/);
  });

  it.each([
    [['start']],
    [['migrate']],
    [['user', 'add']],
    [['config', 'check']],
    [['backup']],
    [['restore']],
  ])('%j has --help', async (command) => {
    const result = await runCli([...command, '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: parley /);
  });

  it('answers wrong arguments with a one-line error', async () => {
    const unknown = await runCli(['serve'], {});
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe("error: unknown command 'serve'");
    const badRole = await runCli(
      ['user', 'add', '--email', 'a@b.co', '--name', 'A', '--role', 'boss'],
      {},
    );
    expect(badRole.code).toBe(1);
    expect(badRole.stderr.trim().split('\n')).toHaveLength(1);
    expect(badRole.stderr).toContain('admin, supervisor, agent');
  });

  it('adds a user with a hashed password, and refuses a duplicate email', async () => {
    const dataDir = tempDir();
    const added = await runCli(
      ['user', 'add', '--email', 'Sam@Example.com', '--name', 'Sam', '--role', 'supervisor'],
      { DATA_DIR: dataDir },
    );
    expect(added.code).toBe(0);
    const password = added.stdout.match(/^Password: (\S+)$/m)?.[1];
    expect(password).toBeDefined();

    const duplicate = await runCli(
      ['user', 'add', '--email', 'sam@example.com', '--name', 'Sam', '--password', 'longenough'],
      { DATA_DIR: dataDir },
    );
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr.trim()).toBe('a user with email sam@example.com already exists');

    const store = await openStore({ dataDir });
    try {
      const [row] = await store.db.select().from(users).where(eq(users.name, 'Sam'));
      expect(row?.role).toBe('supervisor');
      expect(row?.passwordHash).not.toContain(password!);
      expect(await verifyPassword(password!, row!.passwordHash)).toBe(true);
      expect(await verifyPassword('wrong password', row!.passwordHash)).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('checks the configuration without printing secrets', async () => {
    const result = await runCli(['config', 'check'], {
      DATABASE_URL: 'postgres://parley:hunter2@db.example.com/parley',
      APP_SECRET: 's'.repeat(40),
      OIDC_ISSUER_URL: 'https://login.example.com/realms/parley',
      OIDC_CLIENT_ID: 'parley',
      OIDC_CLIENT_SECRET: 'oidc-client-secret-42',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Configuration is valid.');
    expect(result.stdout).toContain('postgres://parley:***@db.example.com/parley');
    expect(result.stdout).toContain('https://login.example.com/realms/parley');
    expect(result.stdout).not.toContain('hunter2');
    expect(result.stdout).not.toContain('s'.repeat(40));
    expect(result.stdout).not.toContain('oidc-client-secret-42');
  });
});

describe('npm start', () => {
  it('builds only when a file the build reads changed after the last build', async () => {
    const root = tempDir();
    const { mkdirSync, utimesSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(root, 'src'));
    mkdirSync(join(root, 'web'));
    mkdirSync(join(root, 'dist', 'web'), { recursive: true });
    writeFileSync(join(root, 'src', 'cli.ts'), 'export {};\n');
    writeFileSync(join(root, 'package.json'), '{}\n');
    expect(isBuildCurrent(root)).toBe(false);

    writeFileSync(join(root, 'dist', 'web', 'index.html'), '<!doctype html>\n');
    writeFileSync(join(root, STAMP), 'built\n');
    const built = new Date(Date.now() - 60_000);
    utimesSync(join(root, STAMP), built, built);
    const before = new Date(built.getTime() - 60_000);
    for (const path of ['src/cli.ts', 'src', 'web', 'package.json']) {
      utimesSync(join(root, path), before, before);
    }
    expect(isBuildCurrent(root)).toBe(true);

    mkdirSync(join(root, 'web', 'src'));
    writeFileSync(join(root, 'web', 'src', 'App.tsx'), 'export {};\n');
    expect(isBuildCurrent(root)).toBe(false);
  });
});
