/**
 * The pieces of the API's contract every route plugin shares: path ids, the answer with no
 * body, the body of an error, and a queue's wrap-up code (written by the admin API, read in
 * transcripts).
 */
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from './errors.js';
import { isCountryCode } from './phone-numbers.js';

export const idParams = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });

/** An admin list: archived rows are left out unless asked for (the console's "Show archived"). */
export const archivedQuery = z.object({
  archived: z
    .enum(['exclude', 'include'], { error: 'archived must be exclude or include' })
    .default('exclude'),
});
export type ArchivedFilter = z.infer<typeof archivedQuery>['archived'];

/** A 204: done, nothing to say. */
export const noContent = z.undefined();

/** A country (ISO 3166 alpha-2, any case) whose national format a phone number is read in. */
export const countryCode = z.string().trim().toUpperCase().refine(isCountryCode, {
  error: 'defaultCountry must be a two-letter ISO country code such as US or GB',
});

/** A `from` or `to` filter: a day (2026-11-30) or an ISO date-time; see boundOf. */
export const dayOrInstant = (field: string) =>
  z
    .union([z.iso.date(), z.iso.datetime({ offset: true })], {
      error: `${field} must be a date (2026-11-30) or an ISO date-time`,
    })
    // Years PostgreSQL and Date both read, with a day to spare for an inclusive `to`.
    .refine((value) => value.slice(0, 4) >= '1970' && value.slice(0, 4) <= '9998', {
      error: `${field} must be between 1970 and 9998`,
    })
    .optional();

/**
 * The start of a `from`/`to` bound: a date alone is that day's midnight (UTC), and a `to`
 * date includes its whole day.
 */
export function boundOf(value: string | undefined, end: boolean): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (end && value.length === 10) date.setUTCDate(date.getUTCDate() + 1);
  return date;
}

/** The body of every error the API answers. */
export const apiErrorSchema = z
  .object({
    error: z.enum([...(Object.keys(ERROR_STATUS) as ErrorCode[]), 'client_error']),
    message: z.string(),
    /** The request field at fault, when one is (the first, when several are). */
    field: z.string().optional(),
    /** A refused request's every problem, one per field, each a sentence naming it. */
    errors: z.array(z.object({ field: z.string().optional(), message: z.string() })).optional(),
    /** On a 500: the request's id, to find its log lines. */
    requestId: z.string().optional(),
  })
  .meta({ id: 'ApiError' });

/** One wrap-up code: what is stored and reported (`code`), what agents read (`label`). */
export const dispositionCode = z
  .object({
    code: z
      .string()
      .trim()
      .min(1, { error: 'code must not be empty' })
      .max(40, { error: 'code has at most 40 characters' })
      .regex(/^[a-z0-9_-]+$/, {
        error: 'code uses only lowercase letters, digits, - and _',
      }),
    label: z
      .string()
      .trim()
      .min(1, { error: 'label must not be empty' })
      .max(80, { error: 'label has at most 80 characters' }),
  })
  .meta({ id: 'Disposition' });
