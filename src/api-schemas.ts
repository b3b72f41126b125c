/**
 * The pieces of the API's contract every route plugin shares: path ids, the answer with no
 * body, and the body of an error.
 */
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from './errors.js';

export const idParams = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });

/** A 204: done, nothing to say. */
export const noContent = z.undefined();

/** The body of every error the API answers. */
export const apiErrorSchema = z
  .object({
    error: z.enum([...(Object.keys(ERROR_STATUS) as ErrorCode[]), 'client_error']),
    message: z.string(),
    /** The request field at fault, when one is. */
    field: z.string().optional(),
    /** On a 500: the request's id, to find its log lines. */
    requestId: z.string().optional(),
  })
  .meta({ id: 'ApiError' });
