import { randomBytes } from 'node:crypto';

/** A Twilio-style SID: two-letter prefix and 32 lowercase hex digits. */
export function newSid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

export function newSecret(): string {
  return randomBytes(16).toString('hex');
}

/** RFC 2822 as the 2010-04-01 API writes it: `Mon, 16 Aug 2010 03:45:01 +0000`. */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

/** ISO 8601 without milliseconds, as the v1 APIs write it: `2015-07-30T20:12:31Z`. */
export function iso8601(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** First value of a form or query field (Twilio takes the first of repeated scalar fields). */
export function one(value: unknown): string | undefined {
  if (Array.isArray(value)) return one(value[0]);
  return typeof value === 'string' ? value : undefined;
}

/** All values of a repeatable form or query field. */
export function many(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}

export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** Twilio booleans arrive in forms as 'true'/'false' (any case). */
export function formBool(value: unknown): boolean | undefined {
  const v = one(value);
  if (v === undefined) return undefined;
  return v.toLowerCase() === 'true';
}
