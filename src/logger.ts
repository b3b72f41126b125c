import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import {
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type Logger,
  pino,
  stdSerializers,
} from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './config.js';

/** Fields that hold secrets wherever they appear in a log line, one or two levels deep. */
const SECRET_FIELDS = [
  'password',
  'passwordHash',
  'authToken',
  'authTokenEnc',
  'apiKeySecret',
  'apiKeySecretEnc',
  'appSecret',
  'clientSecret',
  'token',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

/** Fields of a database error that quote the data: its parameters, the failing row or key. */
const QUERY_DATA_FIELDS = ['params', 'detail', 'where'];

type ErrorWithData = Error & { params?: unknown };

/**
 * pino's error serialiser without the data of a failed query, which is message text and
 * phone numbers: Drizzle writes the statement's parameters into its message, the drivers keep
 * them on their errors, and PostgreSQL quotes a value it refuses in its own message.
 */
export function serializeError(error: unknown): unknown {
  const serialized = stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
  if (!(error instanceof Error)) return serialized;
  const chain: ErrorWithData[] = [];
  for (let e: unknown = error; e instanceof Error && !chain.includes(e); e = e.cause) {
    chain.push(e);
  }
  const params = chain.flatMap((e) =>
    Array.isArray(e.params)
      ? e.params.filter((p): p is string => typeof p === 'string' && p !== '')
      : [],
  );
  const scrubbed = chain.map((e) => {
    // Drizzle's message is `Failed query: <sql>\nparams: <values>`; the SQL has placeholders.
    if (Array.isArray(e.params) && e.message.includes(`\nparams: ${e.params}`)) {
      return e.message.replace(`\nparams: ${e.params}`, '');
    }
    return params.reduce((message, param) => message.replaceAll(param, '[param]'), e.message);
  });
  serialized.message = scrubbed.join(': ');
  serialized.stack = chain
    .map((e, i) => (e.stack ?? '').replace(e.message, () => scrubbed[i]!))
    .join('\ncaused by: ');
  for (const field of QUERY_DATA_FIELDS) delete serialized[field];
  return serialized;
}

/** Paths whose query strings are secrets: the provider's authorization code and state. */
const SECRET_QUERY_PATHS = new Set(['/api/auth/oidc/callback']);

/** What a request line records of a request (Fastify's fields), its URL without secrets. */
export function serializeRequest(request: {
  method?: string;
  url?: string;
  headers?: IncomingMessage['headers'];
  host?: string;
  ip?: string;
  socket?: { remotePort?: number | undefined };
}): Record<string, unknown> {
  const url = request.url ?? '';
  const path = url.split('?')[0]!;
  return {
    method: request.method,
    url: SECRET_QUERY_PATHS.has(path) ? path : url,
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

export function createLogger(
  level: LogLevel,
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, req: serializeRequest },
      mixin: (_line, _level, logger) => {
        const trace = (logger as Traced)[TRACE];
        if (!trace) return {};
        return trace.requestId === undefined
          ? { traceId: traceIdFor(trace) }
          : { reqId: trace.requestId, traceId: traceIdFor(trace) };
      },
    },
    destination ??
      (format === 'pretty'
        ? pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' })
        : undefined),
  );
}

/** The format asked for, else pretty lines for a person at a terminal and JSON for the rest. */
export function logFormatOf(asked: LogFormat | undefined, isTerminal: boolean): LogFormat {
  return asked ?? (isTerminal ? 'pretty' : 'json');
}

/**
 * The trace id of a W3C `traceparent` header (`00-<trace id>-<parent id>-<flags>`), when the
 * request carries a valid one; undefined otherwise (absent, malformed, all zeros, version ff).
 */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(
    traceparent.trim(),
  );
  if (!match) return undefined;
  const [, version, traceId, parentId, , rest] = match;
  // Version 00 has exactly four fields; later versions may add some after them.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return traceId;
}

/** A request's id, its `traceparent` header, and the trace id once a line needed it. */
interface Trace {
  requestId: unknown;
  header: string | string[] | undefined;
  id?: string;
}
const TRACE = Symbol('parley.trace');
type Traced = { [TRACE]?: Trace };

/**
 * Fastify's childLoggerFactory: each request's logger carries, besides its request id, a
 * trace id, the caller's (from `traceparent`) or a new one, so every line of a request can
 * be found with those of the services it called or was called by. Both are added by the
 * logger's mixin when a line is written, not bound here: most requests write no line, and
 * pino runs its redaction over every binding when it makes a logger (for a request id, ~9 KB
 * of garbage per webhook, a sixth of all it allocated; with a random trace id bound too,
 * ~7% of a webhook's CPU).
 */
export function requestLoggerWithTrace(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
  rawRequest: IncomingMessage,
): FastifyBaseLogger {
  const { reqId, ...others } = bindings;
  const child = logger.child(others, options);
  // Loggers made from this one (pino's children inherit from their parent) share the trace.
  (child as Traced)[TRACE] = { requestId: reqId, header: rawRequest.headers.traceparent };
  return child;
}

function traceIdFor(trace: Trace): string {
  trace.id ??= traceIdOf(trace.header) ?? randomBytes(16).toString('hex');
  return trace.id;
}
