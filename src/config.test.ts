import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopback, loadConfig, readEnvFile } from './config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.publicUrl).toBe('http://127.0.0.1:3000');
    expect(config.webhookFallbackUrl).toBe('http://127.0.0.1:3000');
    expect(config.dataDir).toMatch(/\/data$/);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.logLevel).toBe('info');
    expect(config.presenceGraceSeconds).toBe(120);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      PUBLIC_URL: 'https://parley.example.com/',
      DATA_DIR: '/var/lib/parley',
      DATABASE_URL: 'postgres://parley@db:5432/parley',
      APP_SECRET: 'x'.repeat(32),
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
      SHUTDOWN_TIMEOUT_MS: '5000',
      PRESENCE_GRACE_SECONDS: '30',
      WEBHOOK_FALLBACK_URL: 'https://lb.parley.example.com/',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      publicUrl: 'https://parley.example.com',
      webhookFallbackUrl: 'https://lb.parley.example.com',
      dataDir: '/var/lib/parley',
      databaseUrl: 'postgres://parley@db:5432/parley',
      logLevel: 'debug',
      logFormat: 'json',
      shutdownTimeoutMs: 5000,
      presenceGraceSeconds: 30,
    });
  });

  it('derives PUBLIC_URL from a wildcard HOST as localhost', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '4000' }).publicUrl).toBe('http://localhost:4000');
  });

  it('keeps the emulator on loopback when HOST is every interface, unless EMULATOR_HOST says', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).emulatorHost).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0', EMULATOR_HOST: '0.0.0.0' }).emulatorHost).toBe('0.0.0.0');
  });

  it.each([
    ['127.0.0.1', true],
    ['127.0.0.2', true],
    ['::1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.10', false],
  ])('counts %s as loopback: %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be a whole number from 0 to 65535.'],
    [{ PORT: '70000' }, 'PORT must be a whole number from 0 to 65535.'],
    [{ PORT: '80.5' }, 'PORT must be a whole number from 0 to 65535.'],
    [{ HOST: 'not a host' }, 'HOST must be a host name or IP address, such as 127.0.0.1.'],
    [
      { EMULATOR_HOST: 'every interface' },
      'EMULATOR_HOST must be a host name or IP address, such as 127.0.0.1.',
    ],
    [
      { PUBLIC_URL: 'parley.example.com' },
      'PUBLIC_URL must be an http(s) URL such as https://parley.example.com.',
    ],
    [
      { PUBLIC_URL: 'ftp://parley.example.com' },
      'PUBLIC_URL must be an http(s) URL such as https://parley.example.com.',
    ],
    [
      { WEBHOOK_FALLBACK_URL: 'parley-b.example.com' },
      'WEBHOOK_FALLBACK_URL must be an http(s) URL such as https://parley-b.example.com (another instance or the load balancer).',
    ],
    [
      { DATABASE_URL: 'mysql://db/parley', APP_SECRET: 'x'.repeat(32) },
      'DATABASE_URL must be a PostgreSQL URL such as postgres://user@host:5432/parley.',
    ],
    [
      { APP_SECRET: 'short' },
      'APP_SECRET must be at least 32 characters (for example: openssl rand -hex 32).',
    ],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent.',
    ],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT must be one of json, pretty.'],
    [
      { SHUTDOWN_TIMEOUT_MS: '10' },
      'SHUTDOWN_TIMEOUT_MS must be a whole number of milliseconds from 100 to 600000.',
    ],
    [
      { PRESENCE_GRACE_SECONDS: '0' },
      'PRESENCE_GRACE_SECONDS must be a whole number of seconds from 1 to 86400.',
    ],
    [
      { PRESENCE_GRACE_SECONDS: 'two minutes' },
      'PRESENCE_GRACE_SECONDS must be a whole number of seconds from 1 to 86400.',
    ],
    [
      { SMS_EMAIL_DOMAIN: 'sms example' },
      'SMS_EMAIL_DOMAIN must be a domain name such as sms.example.com.',
    ],
    [{ SMTP_PORT: '70000' }, 'SMTP_PORT must be a whole number from 0 to 65535.'],
    [{ SMTP_HOST: 'a host' }, 'SMTP_HOST must be a host name or IP address, such as 127.0.0.1.'],
    [{ SMS_EMAIL_STRATEGY: 'later' }, 'SMS_EMAIL_STRATEGY must be one of assign-now, on-reply.'],
    [{ SMS_EMAIL_REQUIRE_AUTH: 'yes' }, 'SMS_EMAIL_REQUIRE_AUTH must be true or false.'],
    [
      { SMS_EMAIL_TRUSTED_RELAY: 'mx example' },
      'SMS_EMAIL_TRUSTED_RELAY must be the host name its Authentication-Results headers start with, such as mx.example.com.',
    ],
    [
      { SMS_EMAIL_RELAY_ADDRESSES: '10.0.0.5, mx.example.com' },
      'SMS_EMAIL_RELAY_ADDRESSES must be IP addresses separated by commas, such as 10.0.0.5,10.0.0.6.',
    ],
    [{ SMS_EMAIL_COUNTRY: 'XX' }, 'SMS_EMAIL_COUNTRY must be an ISO country code such as US.'],
    [
      { METRICS_TOKEN: 'short' },
      'METRICS_TOKEN must be at least 16 printable characters without spaces (for example: openssl rand -hex 32).',
    ],
    [{ METRICS_PORT: '9100x' }, 'METRICS_PORT must be a whole number from 0 to 65535.'],
    [
      { METRICS_HOST: 'a host' },
      'METRICS_HOST must be a host name or IP address, such as 127.0.0.1.',
    ],
  ])('refuses %o with one line naming the variable', (env, line) => {
    expect(problemsOf(env)).toEqual([line]);
  });

  it('requires APP_SECRET with DATABASE_URL', () => {
    expect(problemsOf({ DATABASE_URL: 'postgres://db/parley' })).toEqual([
      'APP_SECRET must be set when DATABASE_URL is set: every instance needs the same key to read stored credentials.',
    ]);
  });

  it('keeps media in files alone, in the database with a server, in S3 once a bucket is named', () => {
    const server = { DATABASE_URL: 'postgres://db/parley', APP_SECRET: 'x'.repeat(32) };
    expect(loadConfig({}).mediaStorage).toEqual({ kind: 'files' });
    expect(loadConfig(server).mediaStorage).toEqual({ kind: 'database' });
    expect(loadConfig({ ...server, MEDIA_STORAGE: 'files' }).mediaStorage).toEqual({
      kind: 'files',
    });
    expect(loadConfig({ MEDIA_STORAGE: 'database' }).mediaStorage).toEqual({ kind: 'database' });
    expect(loadConfig({ ...server, MEDIA_S3_BUCKET: 'parley-media' }).mediaStorage).toEqual({
      kind: 's3',
      bucket: 'parley-media',
      region: 'us-east-1',
      endpoint: undefined,
      forcePathStyle: false,
      prefix: '',
      credentials: undefined,
    });
    expect(
      loadConfig({
        MEDIA_S3_BUCKET: 'media',
        MEDIA_S3_REGION: 'auto',
        MEDIA_S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com/',
        MEDIA_S3_FORCE_PATH_STYLE: 'true',
        MEDIA_S3_PREFIX: 'parley',
        MEDIA_S3_ACCESS_KEY_ID: 'key',
        MEDIA_S3_SECRET_ACCESS_KEY: 'secret',
      }).mediaStorage,
    ).toEqual({
      kind: 's3',
      bucket: 'media',
      region: 'auto',
      endpoint: 'https://acct.r2.cloudflarestorage.com',
      forcePathStyle: true,
      prefix: 'parley/',
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
    });
  });

  it('keeps media in files with a server when DATA_DIR/media already holds some, unless told', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-config-'));
    const server = {
      DATABASE_URL: 'postgres://db/parley',
      APP_SECRET: 'x'.repeat(32),
      DATA_DIR: dataDir,
    };
    // An empty folder holds nothing to lose.
    mkdirSync(join(dataDir, 'media', 'ab'), { recursive: true });
    expect(loadConfig(server).mediaStorage).toEqual({ kind: 'database' });
    writeFileSync(join(dataDir, 'media', 'ab', `ab${'0'.repeat(62)}`), 'a picture from before');
    expect(loadConfig(server).mediaStorage).toEqual({ kind: 'files', keptForStoredFiles: true });
    // Said outright, the setting wins, and so does a bucket.
    expect(loadConfig({ ...server, MEDIA_STORAGE: 'files' }).mediaStorage).toEqual({
      kind: 'files',
    });
    expect(loadConfig({ ...server, MEDIA_STORAGE: 'database' }).mediaStorage).toEqual({
      kind: 'database',
    });
    expect(loadConfig({ ...server, MEDIA_S3_BUCKET: 'media' }).mediaStorage.kind).toBe('s3');
    // Without a server, files were and are the default.
    expect(loadConfig({ DATA_DIR: dataDir }).mediaStorage).toEqual({ kind: 'files' });
    rmSync(dataDir, { recursive: true });
  });

  it.each([
    [{ MEDIA_STORAGE: 'disk' }, 'MEDIA_STORAGE must be one of files, s3, database.'],
    [{ MEDIA_STORAGE: 's3' }, 'MEDIA_S3_BUCKET must be set when MEDIA_STORAGE is s3.'],
    [
      { MEDIA_S3_BUCKET: 'Not A Bucket' },
      'MEDIA_S3_BUCKET must be a bucket name such as parley-media.',
    ],
    [
      { MEDIA_S3_BUCKET: 'media', MEDIA_S3_ENDPOINT: 'minio:9000' },
      'MEDIA_S3_ENDPOINT must be an http(s) URL such as https://minio.internal:9000.',
    ],
    [
      { MEDIA_S3_BUCKET: 'media', MEDIA_S3_PREFIX: '/parley' },
      "MEDIA_S3_PREFIX must be a key prefix of letters, digits and !_.*'()/- not starting with /, such as parley/.",
    ],
    [
      { MEDIA_S3_BUCKET: 'media', MEDIA_S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI' },
      'MEDIA_S3_ACCESS_KEY_ID and MEDIA_S3_SECRET_ACCESS_KEY must be set together.',
    ],
  ])('refuses media storage %o with one line naming the variable', (env, line) => {
    expect(problemsOf(env)).toEqual([line]);
  });

  it('reports every bad variable at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y' })).toHaveLength(2);
  });

  it('turns email-to-SMS on with SMS_EMAIL_DOMAIN only, on loopback port 2525 by default', () => {
    expect(loadConfig({}).smsEmail).toBeUndefined();
    expect(loadConfig({ SMS_EMAIL_DOMAIN: 'SMS.Example.com' }).smsEmail).toEqual({
      domain: 'sms.example.com',
      port: 2525,
      host: '127.0.0.1',
      strategy: undefined,
      requireAuth: false,
      trustedRelay: undefined,
      relayAddresses: undefined,
      passwords: true,
      country: 'US',
    });
    expect(
      loadConfig({
        SMS_EMAIL_DOMAIN: 'sms.example.com',
        SMTP_PORT: '25',
        SMTP_HOST: '0.0.0.0',
        SMS_EMAIL_STRATEGY: 'assign-now',
        SMS_EMAIL_REQUIRE_AUTH: 'true',
        SMS_EMAIL_TRUSTED_RELAY: 'MX.Example.com',
        SMS_EMAIL_COUNTRY: 'GB',
      }).smsEmail,
    ).toMatchObject({
      trustedRelay: 'mx.example.com',
      relayAddresses: ['127.0.0.1', '::1'],
      port: 25,
      host: '0.0.0.0',
      strategy: 'assign-now',
      requireAuth: true,
      country: 'GB',
    });
  });

  it('serves /metrics only when METRICS_TOKEN or METRICS_PORT is set', () => {
    expect(loadConfig({}).metrics).toBeUndefined();
    expect(loadConfig({ METRICS_HOST: '0.0.0.0' }).metrics).toBeUndefined();
    const token = 'f'.repeat(32);
    expect(loadConfig({ METRICS_TOKEN: token }).metrics).toEqual({
      token,
      port: undefined,
      host: '127.0.0.1',
    });
    expect(loadConfig({ METRICS_PORT: '9100', METRICS_HOST: '10.0.0.5' }).metrics).toEqual({
      token: undefined,
      port: 9100,
      host: '10.0.0.5',
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).port).toBe(3000);
  });
});

describe('readEnvFile', () => {
  it('reads .env, with the environment taking precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-env-'));
    const path = join(dir, '.env');
    writeFileSync(path, 'PORT=4567\nLOG_LEVEL=debug\n# comment\n');
    const env = readEnvFile(path, { LOG_LEVEL: 'warn' });
    expect(loadConfig(env)).toMatchObject({ port: 4567, logLevel: 'warn' });
  });

  it('returns the environment as it is when there is no .env', () => {
    expect(readEnvFile('/nonexistent/.env', { PORT: '1' })).toEqual({ PORT: '1' });
  });
});
