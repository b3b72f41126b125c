import twilio from 'twilio';

/**
 * Checks X-Twilio-Signature. Twilio signs the exact URL it was given — so Parley rebuilds it
 * from PUBLIC_URL, not from the Host header a proxy may have rewritten — plus the POST
 * parameters, with the account's auth token.
 */
export function verifyTwilioSignature(input: {
  authToken: string;
  signature: string | undefined;
  publicUrl: string;
  /** Path and query string as received, e.g. `/webhooks/twilio/messages?x=1`. */
  pathAndQuery: string;
  params: Record<string, string>;
}): 'valid' | 'missing' | 'mismatch' {
  if (!input.signature) return 'missing';
  const url = `${input.publicUrl}${input.pathAndQuery}`;
  return twilio.validateRequest(input.authToken, input.signature, url, input.params)
    ? 'valid'
    : 'mismatch';
}
