import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from './config.js';

/** Fields that hold secrets wherever they appear in a log line, one or two levels deep. */
const SECRET_FIELDS = [
  'password',
  'passwordHash',
  'authToken',
  'authTokenEnc',
  'apiKeySecret',
  'apiKeySecretEnc',
  'appSecret',
  'token',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
