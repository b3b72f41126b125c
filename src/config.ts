import { existsSync, opendirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { type CountryCode, getCountries } from 'libphonenumber-js';
import { z } from 'zod';
import { USER_ROLES } from './db/schema.js';
import { ORIGINATION_STRATEGIES, type OriginationStrategy } from './events.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOG_FORMATS = ['json', 'pretty'] as const;
const MEDIA_STORAGES = ['files', 's3', 'database'] as const;

/** How long an available or away agent may be without a desk before going offline. */
export const DEFAULT_PRESENCE_GRACE_SECONDS = 120;

const hostAddress = z
  .string()
  .regex(/^[A-Za-z0-9.:[\]-]+$/, { error: 'a host name or IP address, such as 127.0.0.1' })
  .default('127.0.0.1');

const COUNTRIES = new Set<string>(getCountries());

/** What each variable expects, in the words of the one-line error a bad value produces. */
const envSchema = z.object({
  PORT: z.coerce
    .number({ error: 'a whole number from 0 to 65535' })
    .int({ error: 'a whole number from 0 to 65535' })
    .min(0, { error: 'a whole number from 0 to 65535' })
    .max(65535, { error: 'a whole number from 0 to 65535' })
    .default(3000),
  HOST: hostAddress,
  EMULATOR_HOST: hostAddress,
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL such as https://parley.example.com' })
    .optional(),
  WEBHOOK_FALLBACK_URL: z
    .url({
      protocol: /^https?$/,
      error:
        'an http(s) URL such as https://parley-b.example.com (another instance or the load balancer)',
    })
    .optional(),
  DATA_DIR: z.string().min(1, { error: 'a directory path' }).default('./data'),
  DATABASE_URL: z
    .url({
      protocol: /^postgres(ql)?$/,
      error: 'a PostgreSQL URL such as postgres://user@host:5432/parley',
    })
    .optional(),
  APP_SECRET: z
    .string()
    .min(32, { error: 'at least 32 characters (for example: openssl rand -hex 32)' })
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  LOG_FORMAT: z.enum(LOG_FORMATS, { error: `one of ${LOG_FORMATS.join(', ')}` }).optional(),
  TWILIO_API_URL: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL such as https://api.twilio.com' })
    .default('https://api.twilio.com'),
  MEDIA_MAX_BYTES: z.coerce
    .number({ error: 'a whole number of bytes from 1024 to 104857600' })
    .int({ error: 'a whole number of bytes from 1024 to 104857600' })
    .min(1024, { error: 'a whole number of bytes from 1024 to 104857600' })
    .max(104_857_600, { error: 'a whole number of bytes from 1024 to 104857600' })
    .default(5 * 1024 * 1024),
  MEDIA_STORAGE: z
    .enum(MEDIA_STORAGES, { error: `one of ${MEDIA_STORAGES.join(', ')}` })
    .optional(),
  MEDIA_S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'a bucket name such as parley-media' })
    .optional(),
  MEDIA_S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]+$/, { error: 'a region such as us-east-1 (auto for R2)' })
    .default('us-east-1'),
  MEDIA_S3_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL such as https://minio.internal:9000' })
    .optional(),
  MEDIA_S3_FORCE_PATH_STYLE: z.enum(['true', 'false'], { error: 'true or false' }).optional(),
  MEDIA_S3_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*$/, {
      error: "a key prefix of letters, digits and !_.*'()/- not starting with /, such as parley/",
    })
    .optional(),
  MEDIA_S3_ACCESS_KEY_ID: z.string().optional(),
  // Never in a log line or a response: only the S3 client gets it.
  MEDIA_S3_SECRET_ACCESS_KEY: z.string().optional(),
  OUTBOX_RETRY_BASE_MS: z.coerce
    .number({ error: 'a whole number of milliseconds from 10 to 60000' })
    .int({ error: 'a whole number of milliseconds from 10 to 60000' })
    .min(10, { error: 'a whole number of milliseconds from 10 to 60000' })
    .max(60_000, { error: 'a whole number of milliseconds from 10 to 60000' })
    .default(1000),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number({ error: 'a whole number of milliseconds from 100 to 600000' })
    .int({ error: 'a whole number of milliseconds from 100 to 600000' })
    .min(100, { error: 'a whole number of milliseconds from 100 to 600000' })
    .max(600_000, { error: 'a whole number of milliseconds from 100 to 600000' })
    .default(10_000),
  PRESENCE_GRACE_SECONDS: z.coerce
    .number({ error: 'a whole number of seconds from 1 to 86400' })
    .int({ error: 'a whole number of seconds from 1 to 86400' })
    .min(1, { error: 'a whole number of seconds from 1 to 86400' })
    .max(86_400, { error: 'a whole number of seconds from 1 to 86400' })
    .default(DEFAULT_PRESENCE_GRACE_SECONDS),
  SMS_EMAIL_DOMAIN: z
    .string()
    .regex(/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/, {
      error: 'a domain name such as sms.example.com',
    })
    .optional(),
  SMTP_PORT: z.coerce
    .number({ error: 'a whole number from 0 to 65535' })
    .int({ error: 'a whole number from 0 to 65535' })
    .min(0, { error: 'a whole number from 0 to 65535' })
    .max(65535, { error: 'a whole number from 0 to 65535' })
    .default(2525),
  SMTP_HOST: hostAddress,
  SMS_EMAIL_STRATEGY: z
    .enum(ORIGINATION_STRATEGIES, { error: `one of ${ORIGINATION_STRATEGIES.join(', ')}` })
    .optional(),
  SMS_EMAIL_REQUIRE_AUTH: z.enum(['true', 'false'], { error: 'true or false' }).default('false'),
  SMS_EMAIL_TRUSTED_RELAY: z
    .string()
    .regex(/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]{1,63}$/, {
      error: 'the host name its Authentication-Results headers start with, such as mx.example.com',
    })
    .optional(),
  SMS_EMAIL_RELAY_ADDRESSES: z
    .string()
    .transform((list) => list.split(',').map((address) => address.trim()))
    .refine((addresses) => addresses.every((address) => isIP(address) !== 0), {
      error: 'IP addresses separated by commas, such as 10.0.0.5,10.0.0.6',
    })
    .optional(),
  SMS_EMAIL_COUNTRY: z
    .string()
    .refine((code) => COUNTRIES.has(code), { error: 'an ISO country code such as US' })
    .default('US'),
  METRICS_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{16,}$/, {
      error: 'at least 16 printable characters without spaces (for example: openssl rand -hex 32)',
    })
    .optional(),
  METRICS_PORT: z.coerce
    .number({ error: 'a whole number from 0 to 65535' })
    .int({ error: 'a whole number from 0 to 65535' })
    .min(0, { error: 'a whole number from 0 to 65535' })
    .max(65535, { error: 'a whole number from 0 to 65535' })
    .optional(),
  METRICS_HOST: hostAddress,
  OIDC_ISSUER_URL: z
    .url({
      protocol: /^https?$/,
      error: "the provider's issuer URL, such as https://login.example.com/realms/parley",
    })
    .optional(),
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  OIDC_SCOPES: z
    .string()
    .regex(/(^|\s)openid(\s|$)/, { error: 'a list of scopes that includes openid' })
    .optional(),
  OIDC_ROLE_CLAIM: z
    .string()
    .regex(/^\S+$/, { error: 'a claim name such as groups or roles' })
    .optional(),
  OIDC_ROLE_MAP: z
    .string()
    .refine((text) => parseRoleMap(text) !== undefined, {
      error: `claim values and roles such as parley-admins=admin,parley-agents=agent (roles: ${USER_ROLES.join(', ')})`,
    })
    .optional(),
  OIDC_DEFAULT_ROLE: z.enum(USER_ROLES, { error: `one of ${USER_ROLES.join(', ')}` }).optional(),
  OIDC_CREATE_USERS: z.enum(['true', 'false'], { error: 'true or false' }).default('false'),
  OIDC_BUTTON_LABEL: z
    .string()
    .trim()
    .min(1, { error: 'a button label of at most 60 characters' })
    .max(60, { error: 'a button label of at most 60 characters' })
    .default('Sign in with SSO'),
  PASSWORD_SIGN_IN: z.enum(['true', 'false'], { error: 'true or false' }).default('true'),
});

/** The OIDC_* variables that mean nothing without OIDC_ISSUER_URL. */
const OIDC_DEPENDENTS = [
  'OIDC_CLIENT_ID',
  'OIDC_CLIENT_SECRET',
  'OIDC_SCOPES',
  'OIDC_ROLE_CLAIM',
  'OIDC_ROLE_MAP',
  'OIDC_DEFAULT_ROLE',
  'OIDC_CREATE_USERS',
  'OIDC_BUTTON_LABEL',
] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Where media bytes live: files under DATA_DIR/media (one machine), an S3-compatible bucket,
 * or chunks in the database; the last two are shared by every instance on one PostgreSQL.
 */
export type MediaStorageConfig =
  | {
      readonly kind: 'files';
      /**
       * Chosen although DATABASE_URL would choose the database: MEDIA_STORAGE is unset and
       * DATA_DIR/media already holds media from before that default. Start-up warns.
       */
      readonly keptForStoredFiles?: true;
    }
  | { readonly kind: 'database' }
  | ({ readonly kind: 's3' } & S3MediaConfig);

export interface S3MediaConfig {
  readonly bucket: string;
  readonly region: string;
  /** MinIO, R2, …; absent: AWS S3. */
  readonly endpoint: string | undefined;
  /** Bucket in the path (MinIO) rather than in the host name. */
  readonly forcePathStyle: boolean;
  /** Put before every key: '' or ending with '/'. */
  readonly prefix: string;
  /** Absent: the AWS SDK's own chain (AWS_* variables, instance role, …). */
  readonly credentials:
    | { readonly accessKeyId: string; readonly secretAccessKey: string }
    | undefined;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /**
   * Where the demo's Twilio emulator listens. Loopback unless set: its control API has no
   * authentication and lists the demo account's auth token.
   */
  readonly emulatorHost: string;
  /** The URL Twilio reaches; webhook signatures are computed against it. */
  readonly publicUrl: string;
  /**
   * Where Twilio posts an incoming message when Parley's webhook fails or is slow (the
   * number's SmsFallbackUrl, a Messaging Service's FallbackUrl): with several instances,
   * another instance or the load balancer. Webhooks signed for it are accepted too.
   * Default: publicUrl.
   */
  readonly webhookFallbackUrl: string;
  readonly dataDir: string;
  /** Absent: the embedded PGlite store under dataDir. */
  readonly databaseUrl: string | undefined;
  /** Absent only for the embedded store, where it is generated and kept in dataDir. */
  readonly appSecret: string | undefined;
  readonly logLevel: LogLevel;
  /**
   * `json` lines (for a log collector), or `pretty`: readable lines and no line per request,
   * for a person at a terminal. Absent: pretty when standard output is a terminal.
   */
  readonly logFormat: LogFormat | undefined;
  /**
   * Where Twilio's REST API and media live: https://api.twilio.com, or the emulator, which
   * serves every Twilio host Parley calls (api, messaging) under its one base URL.
   */
  readonly twilioApiUrl: string;
  /** The largest inbound media file Parley downloads. */
  readonly mediaMaxBytes: number;
  readonly mediaStorage: MediaStorageConfig;
  /** The outbox's first retry delay after a 429, 5xx or network error; then it doubles. */
  readonly outboxRetryBaseMs: number;
  readonly shutdownTimeoutMs: number;
  /**
   * How long an available or away agent may be without a live desk (GET /api/events socket)
   * before their presence becomes offline and their pending offers move on.
   */
  readonly presenceGraceSeconds: number;
  /** Email-to-SMS origination; absent unless SMS_EMAIL_DOMAIN is set. */
  readonly smsEmail: SmsEmailConfig | undefined;
  /** GET /metrics (Prometheus); absent unless METRICS_TOKEN or METRICS_PORT is set. */
  readonly metrics: MetricsConfig | undefined;
  /** Single sign-on with an OpenID Connect provider; absent unless OIDC_ISSUER_URL is set. */
  readonly oidc: OidcConfig | undefined;
  /** False: only single sign-on signs people in to the web app (PASSWORD_SIGN_IN=false). */
  readonly passwordSignIn: boolean;
}

export interface MetricsConfig {
  /** Required as `Authorization: Bearer <token>` wherever /metrics is served. */
  readonly token: string | undefined;
  /** Served on a listener of its own at this port, and not on the main one. */
  readonly port: number | undefined;
  /** Where that listener binds; loopback unless set. */
  readonly host: string;
}

export type UserRole = (typeof USER_ROLES)[number];

export interface OidcConfig {
  readonly issuerUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Space-separated, openid among them. */
  readonly scopes: string;
  /**
   * The claim (of the ID token or userinfo) whose value or values give the role; absent:
   * roles are assigned in Parley.
   */
  readonly roleClaim: string | undefined;
  /** Claim value → role; absent: values that are role names give that role. */
  readonly roleMap: ReadonlyMap<string, UserRole> | undefined;
  /**
   * The role of a user whose role claim maps to none (absent: refused), and of a user made
   * on first sign-in when there is no role claim (absent: agent).
   */
  readonly defaultRole: UserRole | undefined;
  /** Whether a first sign-in of someone unknown to Parley makes their user. */
  readonly createUsers: boolean;
  readonly buttonLabel: string;
}

export interface SmsEmailConfig {
  /** Mail to `<phone>@<domain>` becomes a text to that phone. */
  readonly domain: string;
  readonly port: number;
  /** Where the SMTP listener binds; loopback unless set (a relay MTA in front of it). */
  readonly host: string;
  /** Absent: the sender number's default strategy. */
  readonly strategy: OriginationStrategy | undefined;
  /** SMTP AUTH (the agent's email with their password or an API token) before MAIL FROM. */
  readonly requireAuth: boolean;
  /**
   * The authserv-id of the relay whose Authentication-Results header is trusted: when set,
   * mail must have passed DKIM or SPF for the sender's domain there (or DMARC).
   */
  readonly trustedRelay: string | undefined;
  /**
   * The only addresses mail is taken from; undefined: any. A relay's verdict is only worth
   * something if no one else can connect and write one, so with trustedRelay it is loopback
   * unless SMS_EMAIL_RELAY_ADDRESSES says where the relay is.
   */
  readonly relayAddresses: readonly string[] | undefined;
  /** Whether SMTP AUTH takes passwords; false with PASSWORD_SIGN_IN=false: API tokens only. */
  readonly passwords: boolean;
  /** The country a recipient in national format is read in. */
  readonly country: CountryCode;
}

/** Every bad variable, one line each, so start-up can report them all at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/** Reads an optional .env file; variables already in the environment win. */
export function readEnvFile(path: string, env: Env = process.env): Env {
  if (!existsSync(path)) return env;
  return { ...parseEnv(readFileSync(path, 'utf8')), ...env };
}

export function loadConfig(env: Env): Config {
  // An empty variable means "not set", as most shells and .env files intend.
  const present = Object.fromEntries(
    Object.keys(envSchema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${String(issue.path[0])} must be ${issue.message}.`,
    );
    throw new ConfigError([...new Set(problems)]);
  }
  const v = parsed.data;
  if (v.DATABASE_URL && !v.APP_SECRET) {
    throw new ConfigError([
      'APP_SECRET must be set when DATABASE_URL is set: every instance needs the same key to read stored credentials.',
    ]);
  }
  const mediaStorage = mediaStorageOf(v);
  const oidcProblem = checkOidc(v, present);
  if (oidcProblem) throw new ConfigError([oidcProblem]);
  const publicUrl = (v.PUBLIC_URL ?? `http://${publicHost(v.HOST)}:${v.PORT}`).replace(/\/+$/, '');
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    emulatorHost: v.EMULATOR_HOST,
    publicUrl,
    webhookFallbackUrl: v.WEBHOOK_FALLBACK_URL?.replace(/\/+$/, '') ?? publicUrl,
    dataDir: resolve(v.DATA_DIR),
    databaseUrl: v.DATABASE_URL,
    appSecret: v.APP_SECRET,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
    twilioApiUrl: v.TWILIO_API_URL.replace(/\/+$/, ''),
    mediaMaxBytes: v.MEDIA_MAX_BYTES,
    mediaStorage,
    outboxRetryBaseMs: v.OUTBOX_RETRY_BASE_MS,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    presenceGraceSeconds: v.PRESENCE_GRACE_SECONDS,
    smsEmail: v.SMS_EMAIL_DOMAIN
      ? Object.freeze({
          domain: v.SMS_EMAIL_DOMAIN.toLowerCase(),
          port: v.SMTP_PORT,
          host: v.SMTP_HOST,
          strategy: v.SMS_EMAIL_STRATEGY,
          requireAuth: v.SMS_EMAIL_REQUIRE_AUTH === 'true',
          trustedRelay: v.SMS_EMAIL_TRUSTED_RELAY?.toLowerCase(),
          relayAddresses:
            v.SMS_EMAIL_RELAY_ADDRESSES ??
            (v.SMS_EMAIL_TRUSTED_RELAY ? ['127.0.0.1', '::1'] : undefined),
          passwords: v.PASSWORD_SIGN_IN === 'true',
          country: v.SMS_EMAIL_COUNTRY as CountryCode,
        })
      : undefined,
    metrics:
      v.METRICS_TOKEN !== undefined || v.METRICS_PORT !== undefined
        ? Object.freeze({ token: v.METRICS_TOKEN, port: v.METRICS_PORT, host: v.METRICS_HOST })
        : undefined,
    oidc: v.OIDC_ISSUER_URL
      ? Object.freeze({
          issuerUrl: v.OIDC_ISSUER_URL,
          clientId: v.OIDC_CLIENT_ID!,
          clientSecret: v.OIDC_CLIENT_SECRET!,
          scopes: v.OIDC_SCOPES?.trim().split(/\s+/).join(' ') ?? 'openid email profile',
          roleClaim: v.OIDC_ROLE_CLAIM,
          roleMap: v.OIDC_ROLE_MAP ? parseRoleMap(v.OIDC_ROLE_MAP) : undefined,
          defaultRole: v.OIDC_DEFAULT_ROLE,
          createUsers: v.OIDC_CREATE_USERS === 'true',
          buttonLabel: v.OIDC_BUTTON_LABEL,
        })
      : undefined,
    passwordSignIn: v.PASSWORD_SIGN_IN === 'true',
  });
}

/**
 * MEDIA_STORAGE when set; else S3 when a bucket is named; else the database when it is a
 * server (instances share it but no disk), files under DATA_DIR otherwise. A server whose
 * DATA_DIR/media already holds files keeps them: before the database was the default with
 * a server, every deployment kept its media there, and switching would lose every picture.
 */
function mediaStorageOf(v: z.infer<typeof envSchema>): MediaStorageConfig {
  if (
    !v.MEDIA_STORAGE &&
    !v.MEDIA_S3_BUCKET &&
    v.DATABASE_URL &&
    holdsAFile(join(resolve(v.DATA_DIR), 'media'))
  ) {
    return Object.freeze({ kind: 'files', keptForStoredFiles: true });
  }
  const kind =
    v.MEDIA_STORAGE ?? (v.MEDIA_S3_BUCKET ? 's3' : v.DATABASE_URL ? 'database' : 'files');
  if (kind !== 's3') return Object.freeze({ kind });
  if (!v.MEDIA_S3_BUCKET) {
    throw new ConfigError(['MEDIA_S3_BUCKET must be set when MEDIA_STORAGE is s3.']);
  }
  if (!v.MEDIA_S3_ACCESS_KEY_ID !== !v.MEDIA_S3_SECRET_ACCESS_KEY) {
    throw new ConfigError([
      'MEDIA_S3_ACCESS_KEY_ID and MEDIA_S3_SECRET_ACCESS_KEY must be set together.',
    ]);
  }
  const prefix = v.MEDIA_S3_PREFIX ?? '';
  return Object.freeze({
    kind,
    bucket: v.MEDIA_S3_BUCKET,
    region: v.MEDIA_S3_REGION,
    endpoint: v.MEDIA_S3_ENDPOINT?.replace(/\/+$/, ''),
    forcePathStyle: v.MEDIA_S3_FORCE_PATH_STYLE === 'true',
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
    credentials:
      v.MEDIA_S3_ACCESS_KEY_ID && v.MEDIA_S3_SECRET_ACCESS_KEY
        ? Object.freeze({
            accessKeyId: v.MEDIA_S3_ACCESS_KEY_ID,
            secretAccessKey: v.MEDIA_S3_SECRET_ACCESS_KEY,
          })
        : undefined,
  });
}

/** Whether the directory or a folder in it holds a file; stops at the first one found. */
function holdsAFile(directory: string): boolean {
  if (!existsSync(directory)) return false;
  const dir = opendirSync(directory);
  try {
    for (let entry = dir.readSync(); entry; entry = dir.readSync()) {
      if (entry.isFile()) return true;
      if (entry.isDirectory() && holdsAFile(join(directory, entry.name))) return true;
    }
    return false;
  } finally {
    dir.closeSync();
  }
}

/** The one sentence that says what is missing or contradictory in the OIDC settings. */
function checkOidc(
  v: z.infer<typeof envSchema>,
  present: Record<string, string | undefined>,
): string | undefined {
  if (!v.OIDC_ISSUER_URL) {
    const orphan = OIDC_DEPENDENTS.find((key) => present[key] !== undefined);
    if (orphan) return `OIDC_ISSUER_URL must be set when ${orphan} is set.`;
    if (v.PASSWORD_SIGN_IN === 'false') {
      return 'PASSWORD_SIGN_IN may be false only when OIDC_ISSUER_URL is set: otherwise nobody could sign in.';
    }
    return undefined;
  }
  const issuer = new URL(v.OIDC_ISSUER_URL);
  if (issuer.protocol === 'http:' && !isLoopback(issuer.hostname)) {
    return 'OIDC_ISSUER_URL must be an https URL (plain http only on this machine, such as http://localhost:8080/realms/parley).';
  }
  if (!v.OIDC_CLIENT_ID) return 'OIDC_CLIENT_ID must be set when OIDC_ISSUER_URL is set.';
  if (!v.OIDC_CLIENT_SECRET) return 'OIDC_CLIENT_SECRET must be set when OIDC_ISSUER_URL is set.';
  if (v.OIDC_ROLE_MAP && !v.OIDC_ROLE_CLAIM) {
    return 'OIDC_ROLE_CLAIM must be set when OIDC_ROLE_MAP is set: it names the claim the map reads.';
  }
  return undefined;
}

/**
 * `value=role,value=role` → a map; undefined when an entry has no value or names no role.
 * The role follows the last `=`, so a value may contain one (an LDAP-style group name).
 */
function parseRoleMap(text: string): Map<string, UserRole> | undefined {
  const map = new Map<string, UserRole>();
  for (const entry of text.split(',')) {
    const cut = entry.lastIndexOf('=');
    const value = entry.slice(0, cut).trim();
    const role = entry.slice(cut + 1).trim();
    if (cut < 0 || !value || !(USER_ROLES as readonly string[]).includes(role)) return undefined;
    map.set(value, role as UserRole);
  }
  return map;
}

/** Whether only this machine can reach an address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || ['::1', '[::1]', 'localhost'].includes(host);
}

function publicHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
