import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export class MediaFetchError extends Error {
  constructor(
    message: string,
    /** False when trying again cannot help (refused URL, too large). */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'MediaFetchError';
  }
}

const TWILIO_API_ORIGIN = 'https://api.twilio.com';
const MEDIA_PATH =
  /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\/[SM]M[0-9a-f]{32}\/Media\/ME[0-9a-f]{32}$/;
const MAX_REDIRECTS = 3;

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['::ffff:0:0', 96],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

export interface MediaCredentials {
  accountSid: string;
  /** Basic auth user and password: Account SID + token, or API key SID + secret. */
  username: string;
  password: string;
}

/**
 * Downloads one MediaUrl of an inbound MMS. Credentials go only to Twilio's media path of the
 * account's own messages, on api.twilio.com or the configured Twilio base URL (the
 * emulator); a redirect elsewhere (Twilio's CDN) is followed without them, and never to a
 * private or loopback address.
 */
export async function fetchTwilioMedia(
  url: string,
  options: { credentials: MediaCredentials; twilioApiUrl: string; maxBytes: number },
): Promise<{ bytes: Buffer; contentType: string }> {
  let target = parseUrl(url);
  const trustedOrigins = new Set([TWILIO_API_ORIGIN, new URL(options.twilioApiUrl).origin]);
  const path = MEDIA_PATH.exec(target.pathname);
  if (!trustedOrigins.has(target.origin) || !path) {
    throw new MediaFetchError(
      `refusing media URL outside Twilio's media paths: ${target.origin}${target.pathname}`,
      false,
    );
  }
  if (path[1] !== options.credentials.accountSid) {
    throw new MediaFetchError('refusing media URL of another Twilio account', false);
  }
  const authorization = `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}`;

  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const trusted = trustedOrigins.has(target.origin);
    if (!trusted) await assertPublicHost(target);
    let response: Response;
    try {
      response = await fetch(target, {
        headers: trusted ? { authorization } : {},
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new MediaFetchError(`media download failed: ${(error as Error).message}`, true);
    }
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (!location) throw new MediaFetchError('media redirect without a location', true);
      target = parseUrl(new URL(location, target).toString());
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      const retryable =
        response.status === 429 || response.status >= 500 || response.status === 404;
      throw new MediaFetchError(`media download answered HTTP ${response.status}`, retryable);
    }
    return {
      bytes: await readCapped(response, options.maxBytes),
      contentType:
        response.headers.get('content-type')?.split(';')[0]?.trim() || 'application/octet-stream',
    };
  }
  throw new MediaFetchError('too many media redirects', false);
}

function parseUrl(url: string): URL {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('scheme');
    return parsed;
  } catch {
    throw new MediaFetchError(`not a media URL: ${url}`, false);
  }
}

async function assertPublicHost(url: URL): Promise<void> {
  if (url.protocol !== 'https:') {
    throw new MediaFetchError(`refusing a plain-http media redirect to ${url.host}`, false);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await lookup(host, { all: true });
  for (const { address, family } of addresses) {
    if (PRIVATE.check(address, family === 6 ? 'ipv6' : 'ipv4')) {
      throw new MediaFetchError(`refusing media from a private address (${host})`, false);
    }
  }
}

async function readCapped(response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new MediaFetchError(
      `media of ${declared} bytes is over the ${maxBytes}-byte limit`,
      false,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > maxBytes)
      throw new MediaFetchError(`media is over the ${maxBytes}-byte limit`, false);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
