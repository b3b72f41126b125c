/**
 * Stable error codes of the API, and the HTTP status each maps to: one code per status, so a
 * client may switch on either. The 4xx Fastify itself answers (405, 406, 414, 431, …) are here
 * too, so none of them is labelled `bad_request`.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  request_timeout: 408,
  conflict: 409,
  gone: 410,
  length_required: 411,
  precondition_failed: 412,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  unprocessable: 422,
  too_many_requests: 429,
  headers_too_large: 431,
  internal: 500,
  /** Twilio (or another service Parley depends on) did not answer. */
  bad_gateway: 502,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const CODE_OF_STATUS = new Map(
  (Object.entries(ERROR_STATUS) as [ErrorCode, number][]).map(([code, status]) => [status, code]),
);

/** The code of a status Fastify or a library gave; `client_error` for a 4xx not listed above. */
export function errorCodeOf(status: number): ErrorCode | 'client_error' {
  return CODE_OF_STATUS.get(status) ?? (status < 500 ? 'client_error' : 'internal');
}

/** The one error type that routes turn into a response; anything else is a 500. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request field at fault, for 400s that must say which one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** A deadlock or serialization failure: the same transaction, run again, may succeed. */
export function isRetryableConflict(error: unknown): boolean {
  const code = findPgError(error)?.code;
  return code === '40P01' || code === '40001';
}

/** PostgreSQL's SQLSTATE for a unique violation, the same on PGlite and on a server. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pgError = findPgError(error);
  return (
    pgError?.code === '23505' && (constraint === undefined || pgError.constraint === constraint)
  );
}

interface PgErrorLike {
  code?: string;
  constraint?: string;
}

// Drizzle wraps driver errors; the PostgreSQL fields sit on the cause.
function findPgError(error: unknown): PgErrorLike | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const candidate = current as PgErrorLike & { cause?: unknown };
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      return candidate;
    }
    current = candidate.cause;
  }
  return undefined;
}
