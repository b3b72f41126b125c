#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { CLI_ACTOR, recordChange } from './audit/audit-log.js';
import { createUser, ROLES, type Role } from './auth/users.js';
import {
  type BackupManifest,
  backupDataDir,
  downloadBackup,
  POSTGRES_BACKUP_ADVICE,
  POSTGRES_RESTORE_ADVICE,
  restoreBackup,
} from './backup/backup.js';
import {
  type Config,
  ConfigError,
  isLoopback,
  loadConfig,
  type MetricsConfig,
  readEnvFile,
} from './config.js';
import { DataDirLockedError } from './db/lock.js';
import { openStore } from './db/store.js';
import { inTransaction } from './db/transactions.js';
import { DEMO_NUMBERS, numbersOnEmulator, prepareDemo } from './demo.js';
import { startEmulator } from './emulator/index.js';
import { AppError } from './errors.js';
import { createLogger, logFormatOf } from './logger.js';
import { startParley } from './parley.js';

function config(): Config {
  return loadConfig(readEnvFile('.env'));
}

async function withStore<T>(
  cfg: Config,
  work: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
): Promise<T> {
  const store = await openStore({
    databaseUrl: cfg.databaseUrl,
    dataDir: cfg.databaseUrl ? undefined : cfg.dataDir,
  });
  try {
    await store.migrate();
    return await work(store);
  } finally {
    await store.close();
  }
}

async function start(options: { demo?: boolean; emulatorPort: string }): Promise<void> {
  let cfg = config();
  cfg = Object.freeze({ ...cfg, logFormat: logFormatOf(cfg.logFormat, process.stdout.isTTY) });
  const logger = createLogger(cfg.logLevel, undefined, cfg.logFormat);
  // The demo runs on the embedded store with the emulator; a server configuration never does.
  const demo = options.demo === true && !cfg.databaseUrl;
  if (options.demo && !demo)
    logger.info('DATABASE_URL is set: starting without demo data or emulator');
  // Not cfg.host: the emulator's control API is unauthenticated and lists auth tokens.
  const emulator = demo
    ? await startEmulator({ port: Number(options.emulatorPort), host: cfg.emulatorHost })
    : undefined;
  const emulatorExposed = emulator !== undefined && !isLoopback(cfg.emulatorHost);
  if (emulatorExposed)
    logger.warn(
      { emulatorHost: cfg.emulatorHost },
      'the Twilio emulator is reachable from the network: anyone who reaches it can read the demo auth token',
    );
  if (emulator) cfg = Object.freeze({ ...cfg, twilioApiUrl: emulator.url });
  const parley = await startParley(cfg, logger, {
    ...(emulator && { prepareNumberOnTwilio: numbersOnEmulator(emulator.url, cfg.publicUrl) }),
  });
  const logins = emulator
    ? await prepareDemo(parley.store.db, parley.secretBox, emulator.url, cfg.publicUrl)
    : [];
  process.stdout.write(
    `\nParley is running on ${parley.store.kind === 'pglite' ? `the embedded store in ${cfg.dataDir}` : 'PostgreSQL'}.\n` +
      `  Agent desk:      ${parley.url}/desk  (supervisors: /supervisor, admins: /admin)\n` +
      `  API and health:  ${parley.url}/healthz\n` +
      `  API reference:   ${parley.url}/openapi.json\n` +
      `  Twilio reaches:  ${cfg.publicUrl}\n` +
      (emulator
        ? `  Phone page:      ${emulator.url}/phone  (text the demo numbers as a customer)\n` +
          `  Twilio emulator: ${emulator.url}  ${
            emulatorExposed
              ? `(WARNING: listening on ${cfg.emulatorHost}, its unauthenticated control API is open to the network)`
              : '(loopback only; EMULATOR_HOST exposes it)'
          }\n` +
          `  Demo numbers:    ${DEMO_NUMBERS.join(', ')}\n` +
          `  Demo users (passwords are new at every start):\n${logins
            .map((l) => `    ${l.role.padEnd(10)} ${l.email.padEnd(20)} ${l.password}`)
            .join('\n')}\n`
        : '') +
      '\n',
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error(
        { timeoutMs: cfg.shutdownTimeoutMs, waitingFor: parley.closingWaitsFor() },
        'shutdown did not finish in time; exiting anyway',
      );
      process.exit(1);
    }, cfg.shutdownTimeoutMs);
    timer.unref();
    parley
      .close()
      .then(() => emulator?.close())
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function migrate(): Promise<void> {
  const cfg = config();
  await withStore(cfg, async (store) => {
    process.stdout.write(
      `Migrations applied to ${store.kind === 'pglite' ? cfg.dataDir : 'PostgreSQL'}.\n`,
    );
  });
}

async function addUser(options: {
  email: string;
  name: string;
  role: Role;
  password?: string;
}): Promise<void> {
  const cfg = config();
  const password =
    options.password ?? process.env.PARLEY_PASSWORD ?? randomBytes(9).toString('base64url');
  const user = await withStore(cfg, (store) =>
    inTransaction(store.db, async (tx) => {
      const created = await createUser(tx, {
        email: options.email,
        name: options.name,
        role: options.role,
        password,
      });
      const { id, ...after } = created;
      await recordChange(tx, {
        actor: CLI_ACTOR,
        action: 'user.created',
        target: { type: 'user', id },
        before: null,
        after,
      });
      return created;
    }),
  );
  process.stdout.write(`Added ${user.role} ${user.email} (${user.id}).\n`);
  if (!options.password && !process.env.PARLEY_PASSWORD) {
    process.stdout.write(`Password: ${password}\n`);
  }
}

async function runEmulator(options: { port: string; host: string }): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AppError('bad_request', '--port must be a whole number from 0 to 65535');
  }
  const emulator = await startEmulator({ port, host: options.host });
  process.stdout.write(
    `Twilio emulator listening on ${emulator.url}\n  phone page: ${emulator.url}/phone\n`,
  );
  const stop = () => {
    emulator.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * Backs the embedded store up: through the process that holds DATA_DIR when one does (it
 * alone can read the database consistently), else directly.
 */
async function backup(file: string, options: { url?: string; token?: string }): Promise<void> {
  const cfg = config();
  if (cfg.databaseUrl) throw new AppError('conflict', POSTGRES_BACKUP_ADVICE);
  if (!existsSync(dirname(resolve(file)))) {
    throw new AppError('bad_request', `Cannot write ${file}: its directory does not exist.`);
  }
  let manifest: BackupManifest;
  try {
    manifest = await backupDataDir(cfg.dataDir, file);
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    const token = options.token ?? process.env.PARLEY_API_TOKEN;
    if (!token) {
      throw new AppError(
        'unauthorized',
        `Parley (pid ${error.holderPid}) holds DATA_DIR ${cfg.dataDir}: give an admin's API token with --token or PARLEY_API_TOKEN, and it makes the backup.`,
      );
    }
    manifest = await downloadBackup({ url: options.url ?? localUrl(cfg), token, file });
  }
  const { pglite, media } = manifest.contents;
  process.stdout.write(
    `Backed up ${cfg.dataDir} to ${file}: the database (migration level ${manifest.migrations.applied}, ${megabytes(pglite.bytes)}) and ${media.files} media files (${megabytes(media.bytes)}).\n` +
      "APP_SECRET is not in it: keep it (or DATA_DIR/app-secret) beside the backup, or the accounts' secrets cannot be decrypted after a restore.\n",
  );
}

/** Where this machine reaches the Parley that HOST and PORT describe. */
function localUrl(cfg: Config): string {
  const host = cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host === '::' ? '::1' : cfg.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.port}`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function restore(file: string, options: { force?: boolean }): Promise<void> {
  const cfg = config();
  if (cfg.databaseUrl) throw new AppError('conflict', POSTGRES_RESTORE_ADVICE);
  const { manifest, setAside } = await restoreBackup({
    file,
    dataDir: cfg.dataDir,
    force: options.force === true,
  });
  process.stdout.write(
    `Restored ${file} (Parley ${manifest.parleyVersion}, migration level ${manifest.migrations.applied}, taken ${manifest.createdAt}, ${manifest.contents.media.files} media files) into ${cfg.dataDir}; \`parley start\` applies any newer migrations.\n`,
  );
  if (setAside) process.stdout.write(`The data it replaced is in ${setAside}.\n`);
  if (!cfg.appSecret && !existsSync(join(cfg.dataDir, 'app-secret'))) {
    process.stdout.write(
      "No APP_SECRET yet: put the app-secret file kept with the backup into DATA_DIR, or set APP_SECRET, before `parley start`; otherwise the accounts' secrets cannot be decrypted.\n",
    );
  }
}

function checkConfig(): void {
  const cfg = config();
  const lines = [
    ['PORT', String(cfg.port)],
    ['HOST', cfg.host],
    ['EMULATOR_HOST', cfg.emulatorHost],
    ['PUBLIC_URL', cfg.publicUrl],
    ['DATA_DIR', cfg.dataDir],
    ['DATABASE_URL', cfg.databaseUrl ? redactUrl(cfg.databaseUrl) : '(embedded PGlite store)'],
    ['APP_SECRET', cfg.appSecret ? '(set)' : '(generated and kept in DATA_DIR)'],
    ['LOG_LEVEL', cfg.logLevel],
    ['LOG_FORMAT', cfg.logFormat ?? '(pretty on a terminal, else json)'],
    ['TWILIO_API_URL', cfg.twilioApiUrl],
    ['MEDIA_MAX_BYTES', String(cfg.mediaMaxBytes)],
    ['OUTBOX_RETRY_BASE_MS', String(cfg.outboxRetryBaseMs)],
    ['SHUTDOWN_TIMEOUT_MS', String(cfg.shutdownTimeoutMs)],
    ['PRESENCE_GRACE_SECONDS', String(cfg.presenceGraceSeconds)],
    ['METRICS', metricsSetting(cfg.metrics)],
    ['OIDC_ISSUER_URL', cfg.oidc?.issuerUrl ?? '(no single sign-on)'],
    ...(cfg.oidc
      ? [
          ['OIDC_CLIENT_ID', cfg.oidc.clientId],
          ['OIDC_CLIENT_SECRET', '(set)'],
          ['OIDC_ROLE_CLAIM', cfg.oidc.roleClaim ?? '(roles assigned in Parley)'],
          ['OIDC_CREATE_USERS', String(cfg.oidc.createUsers)],
        ]
      : []),
    ['PASSWORD_SIGN_IN', String(cfg.passwordSignIn)],
  ];
  process.stdout.write(
    `Configuration is valid.\n${lines.map(([k, v]) => `  ${k!.padEnd(20)} ${v}`).join('\n')}\n`,
  );
}

function metricsSetting(metrics: MetricsConfig | undefined): string {
  if (!metrics) return '(off: no /metrics)';
  const where =
    metrics.port === undefined
      ? 'GET /metrics on PORT'
      : `GET /metrics on ${metrics.host}:${metrics.port}`;
  return `${where}, ${metrics.token ? 'METRICS_TOKEN (set) required' : 'no token'}`;
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

const program = new Command()
  .name('parley')
  .description('Parley: a self-hosted contact-center hub for two-way SMS over Twilio')
  .showSuggestionAfterError(false)
  .exitOverride();

program
  .command('start')
  .description('run Parley: migrate, serve the API and webhooks until SIGTERM / SIGINT')
  .option('--demo', 'with the Twilio emulator and demo data (ignored when DATABASE_URL is set)')
  .option('--emulator-port <port>', 'port of the demo emulator', '4010')
  .action(start);

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(migrate);

program
  .command('user')
  .description('manage users')
  .command('add')
  .description('add an admin, supervisor or agent (prints a generated password unless given)')
  .requiredOption('--email <email>', 'login email')
  .requiredOption('--name <name>', 'display name')
  .addOption(new Option('--role <role>', 'role').choices(ROLES).default('agent'))
  .option('--password <password>', 'password (or PARLEY_PASSWORD); generated when absent')
  .action(addUser);

program
  .command('emulator')
  .description('run the Twilio emulator and its phone page, for development and tests')
  .option('--port <port>', 'port to listen on', '4010')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .action(runEmulator);

program
  .command('backup')
  .description(
    'back the embedded store (database and media) up into a .tar.gz, while Parley runs or not',
  )
  .argument('<file>', 'the archive to write')
  .option('--url <url>', 'the running Parley, when not at HOST:PORT of this configuration')
  .option('--token <token>', "an admin's API token (or PARLEY_API_TOKEN), when Parley runs")
  .action(backup);

program
  .command('restore')
  .description('restore a backup of `parley backup` into DATA_DIR; Parley must be stopped')
  .argument('<file>', 'the archive to read')
  .option('--force', 'restore over an existing database, moving it aside within DATA_DIR')
  .action(restore);

program
  .command('config')
  .description('inspect the configuration')
  .command('check')
  .description('validate the environment (and .env) and print the resulting configuration')
  .action(checkConfig);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander already printed its one-line message (or the help text).
    return error.exitCode;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(
      `Configuration error:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`,
    );
    return 78; // EX_CONFIG
  }
  if (error instanceof DataDirLockedError || error instanceof AppError) {
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`parley: ${message}\n`);
  return 1;
}
