import { randomUUID } from 'node:crypto';
import twilio from 'twilio';
import type { HttpMethod } from './types.js';

export interface WebhookAttempt {
  url: string;
  method: HttpMethod;
  /** HTTP status of the answer, or null when none came (connection error, timeout). */
  status: number | null;
  contentType: string | null;
  body: string;
  error: string | null;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends Twilio's webhook request: form-encoded POST (or GET with the parameters in the query),
 * signed with X-Twilio-Signature over the exact URL, as the official library computes it.
 */
export async function sendSignedRequest(
  url: string,
  method: HttpMethod,
  params: Record<string, string>,
  authToken: string,
  timeoutMs: number,
): Promise<WebhookAttempt> {
  const form = new URLSearchParams(params).toString();
  let target = url;
  let signature: string;
  if (method === 'GET') {
    target = form ? `${url}${url.includes('?') ? '&' : '?'}${form}` : url;
    signature = twilio.getExpectedTwilioSignature(authToken, target, {});
  } else {
    signature = twilio.getExpectedTwilioSignature(authToken, url, params);
  }
  const headers: Record<string, string> = {
    'X-Twilio-Signature': signature,
    'I-Twilio-Idempotency-Token': randomUUID(),
    'User-Agent': 'TwilioProxy/1.1',
    Accept: '*/*',
  };
  if (method === 'POST')
    headers['Content-Type'] = 'application/x-www-form-urlencoded; charset=utf-8';
  // Twilio retries a failed connection once, within the same total budget
  // (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides: rc=1, rp=ct,
  // tt=15000), never a request that connected and then went unanswered.
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(target, {
        method,
        headers,
        body: method === 'POST' ? form : undefined,
        signal: AbortSignal.timeout(Math.max(1, Math.ceil(deadline - performance.now()))),
      });
      const text = await res.text();
      return {
        url,
        method,
        status: res.status,
        contentType: res.headers.get('content-type'),
        body: text.slice(0, MAX_ANSWER_BYTES),
        error: null,
      };
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      if (!timedOut && attempt < 2 && connectionFailed(err) && performance.now() < deadline)
        continue;
      return {
        url,
        method,
        status: null,
        contentType: null,
        body: '',
        error: timedOut ? `no answer within ${timeoutMs} ms` : `connection error: ${describe(err)}`,
      };
    }
  }
}

/** A connection refused or reset before any answer: worth the one retry Twilio makes. */
function connectionFailed(err: unknown): boolean {
  const code = err instanceof Error && (err.cause as { code?: unknown } | undefined)?.code;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'UND_ERR_SOCKET' ||
    code === 'EPIPE'
  );
}

export interface FetchedMedia {
  contentType: string;
  bytes: Buffer;
}

/** Downloads a MediaUrl the way Twilio does before sending an MMS (following redirects). */
export async function fetchMedia(url: string, timeoutMs: number): Promise<FetchedMedia> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
  const contentType = res.headers.get('content-type')?.split(';')[0]?.trim();
  return {
    contentType: contentType || 'application/octet-stream',
    bytes: Buffer.from(await res.arrayBuffer()),
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
