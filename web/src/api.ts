/**
 * The web app's one way to call Parley's REST API: same origin, the session cookie, JSON in
 * and out, and errors as ApiError carrying the server's code, message and field. The shapes
 * of its answers are generated from the server's OpenAPI document (api-types.ts).
 */

import type { components } from './api-types';

/** The named shapes the server answers with (`npm run api:types` regenerates them). */
export type Schemas = components['schemas'];
type ErrorCode = Schemas['ApiError']['error'];

/** One problem of a refused request: its field's API path and a sentence naming it. */
export interface RequestProblem {
  field?: string | undefined;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'error',
    message: string,
    readonly field?: string,
    /** Every problem of a refused request (a 400 of the request's schema), one per field. */
    readonly problems: readonly RequestProblem[] = field ? [{ field, message }] : [],
  ) {
    super(message);
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when the server says the session is gone (401), so the app shows the sign-in page. */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; raw?: Blob; contentType?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: BodyInit | undefined;
  if (init.raw) {
    body = init.raw;
    headers['content-type'] = init.contentType ?? 'application/octet-stream';
  } else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      credentials: 'same-origin',
    });
  } catch {
    // The browser's own words ("Failed to fetch", "NetworkError …") say nothing to a person.
    throw new ApiError(
      0,
      'error',
      'Parley could not be reached. Check your connection; it is tried again when you retry.',
    );
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // Not Parley's answer: a proxy or load balancer in between (502, 504, a login page).
    throw new ApiError(
      response.status,
      'error',
      `Parley did not answer (${response.status} ${response.statusText}): try again in a moment.`,
    );
  }
  if (!response.ok) {
    const error = (data ?? {}) as Partial<Schemas['ApiError']>;
    if (response.status === 401 && !path.startsWith('/api/auth/login')) {
      for (const listener of signedOutListeners) listener();
    }
    throw new ApiError(
      response.status,
      error.error ?? 'error',
      error.message ?? `${response.status} ${response.statusText}`,
      error.field,
      error.errors ?? (error.field ? [{ field: error.field, message: error.message ?? '' }] : []),
    );
  }
  return data as T;
}

/** A readable sentence for any failure, for alerts and toasts. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
