/**
 * Starts the Parley of a source tree (this one, or another checkout given as the first
 * argument, e.g. the commit before a change) with one account and one number, prints
 * `ready <url> <publicUrl> <accountSid> <authToken> <number>` and serves until SIGTERM.
 * DATABASE_URL selects PostgreSQL; otherwise a new embedded store.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? '.');
const load = (path: string) => import(pathToFileURL(join(root, path)).href);
const { loadConfig } = await load('src/config.ts');
const { createLogger } = await load('src/logger.ts');
const { startParley } = await load('src/parley.ts');
const { createAccount } = await load('src/admin/accounts.ts');
const { createNumber } = await load('src/admin/numbers.ts');

const port = 20_000 + Math.floor(Math.random() * 20_000);
const config = loadConfig({
  PORT: String(port),
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-serve-')),
  LOG_LEVEL: 'error',
  ...(process.env.DATABASE_URL && { APP_SECRET: 'b'.repeat(64) }),
  ...(process.env.DATABASE_URL && { DATABASE_URL: process.env.DATABASE_URL }),
});
const parley = await startParley(config, createLogger(config.logLevel));
const accountSid = `AC${randomBytes(16).toString('hex')}`;
const authToken = randomBytes(16).toString('hex');
const number = '+15550000001';
const account = await createAccount(parley.store.db, parley.secretBox, {
  name: 'bench',
  accountSid,
  authToken,
});
await createNumber(parley.store.db, { accountId: account.id, address: number });
process.stdout.write(
  `ready ${parley.url} ${config.publicUrl} ${accountSid} ${authToken} ${number}\n`,
);
process.once('SIGTERM', () => {
  parley.close().then(() => process.exit(0));
});
