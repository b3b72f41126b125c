import twilio from 'twilio';
import { AppError } from '../../errors.js';
import type { WebhookForm } from './webhooks.js';

/**
 * Checks X-Twilio-Signature. Twilio signs the exact URL it was given — so Parley rebuilds it
 * from the configured base URLs, not from the Host header a proxy may have rewritten — plus
 * the POST parameters, with the account's auth token. A request to the fallback URL is signed
 * with that URL, so each base URL Twilio was given is tried.
 */
function verifyTwilioSignature(input: {
  authToken: string;
  signature: string | undefined;
  baseUrls: readonly string[];
  /** Path and query string as received, e.g. `/webhooks/twilio/messages?x=1`. */
  pathAndQuery: string;
  params: Record<string, string>;
}): 'valid' | 'missing' | 'mismatch' {
  const { signature } = input;
  if (!signature) return 'missing';
  const signedFor = (baseUrl: string) =>
    twilio.validateRequest(
      input.authToken,
      signature,
      `${baseUrl}${input.pathAndQuery}`,
      input.params,
    );
  return [...new Set(input.baseUrls)].some(signedFor) ? 'valid' : 'mismatch';
}

/**
 * Refuses (403) a webhook that the account's auth token did not sign, or that names another
 * account than this one.
 */
export function authenticateWebhook(
  form: WebhookForm,
  input: {
    credentials: { accountSid: string; authToken: string };
    /** The X-Twilio-Signature header as received: anything but one value is missing. */
    signature: string | string[] | undefined;
    publicUrl: string;
    /** The base of the fallback URL Twilio was given (WEBHOOK_FALLBACK_URL). */
    fallbackBaseUrl: string;
    /** Path and query string as received. */
    pathAndQuery: string;
  },
): void {
  const { credentials, publicUrl, pathAndQuery } = input;
  const outcome = verifyTwilioSignature({
    authToken: credentials.authToken,
    signature: typeof input.signature === 'string' ? input.signature : undefined,
    baseUrls: [publicUrl, input.fallbackBaseUrl],
    pathAndQuery,
    params: form.signed,
  });
  if (outcome === 'missing') throw new AppError('forbidden', 'no X-Twilio-Signature header');
  if (outcome === 'mismatch') {
    throw new AppError(
      'forbidden',
      `X-Twilio-Signature does not match ${publicUrl}${pathAndQuery} with the account's auth token`,
    );
  }
  // A request signed by the account's token still names the account it is about.
  if (form.params.AccountSid !== credentials.accountSid) {
    throw new AppError('forbidden', `AccountSid is not ${credentials.accountSid}`);
  }
}
