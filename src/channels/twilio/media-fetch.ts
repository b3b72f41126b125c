import { lookup } from 'node:dns/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import type { AccountCredentials } from '../../admin/accounts.js';

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

/**
 * Addresses a download never connects to: those IANA's IPv4 and IPv6 Special-Purpose Address
 * Registries do not mark globally reachable, and multicast. For IPv6 everything outside
 * global unicast (2000::/3) is refused whole: ::, ::1, 100::/64, 5f00::/16, fc00::/7,
 * fe80::/10, ff00::/8 and the local-use NAT64 64:ff9b:1::/48 among them. The two lists are
 * apart because a BlockList also matches an IPv4 address against IPv6 rules, as ::ffff:a.b.c.d.
 */
const NOT_GLOBAL_IPV4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  // Reserved, 255.255.255.255 included.
  ['240.0.0.0', 4],
] as const) {
  NOT_GLOBAL_IPV4.addSubnet(network, prefix, 'ipv4');
}
const NOT_GLOBAL_IPV6 = new BlockList();
for (const [network, prefix] of [
  ['::', 3],
  ['4000::', 2],
  ['8000::', 1],
  // IETF protocol assignments (Teredo, benchmarking, ORCHID, …).
  ['2001::', 23],
  ['2001:db8::', 32],
  // 6to4 reaches whatever IPv4 address it embeds, private ones too.
  ['2002::', 16],
  ['3fff::', 20],
] as const) {
  NOT_GLOBAL_IPV6.addSubnet(network, prefix, 'ipv6');
}
/** IPv6 addresses that stand for the IPv4 address in their low 32 bits: IPv4-mapped, NAT64. */
const CARRYING_IPV4 = new BlockList();
CARRYING_IPV4.addSubnet('::ffff:0:0', 96, 'ipv6');
CARRYING_IPV4.addSubnet('64:ff9b::', 96, 'ipv6');

/** Whether a download may connect to this address; anything but an IP address is refused. */
export function isGloballyReachable(address: string): boolean {
  switch (isIP(address)) {
    case 4:
      return !NOT_GLOBAL_IPV4.check(address, 'ipv4');
    case 6:
      // A zone index only exists on link-local addresses.
      if (address.includes('%')) return false;
      if (CARRYING_IPV4.check(address, 'ipv6')) {
        return !NOT_GLOBAL_IPV4.check(lowIpv4(address), 'ipv4');
      }
      return !NOT_GLOBAL_IPV6.check(address, 'ipv6');
    default:
      return false;
  }
}

function lowIpv4(ipv6: string): string {
  // The URL parser writes IPv6 canonically (hex groups, longest zero run as "::"), so the last
  // two pieces are the low groups, an empty piece being part of a zero run.
  const pieces = new URL(`http://[${ipv6}]`).hostname.slice(1, -1).split(':');
  const [high = 0, low = 0] = pieces.slice(-2).map((piece) => Number.parseInt(piece || '0', 16));
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Every address a host name resolves to; DNS is the outside world, so tests answer instead. */
export type ResolveHost = (hostname: string) => Promise<readonly { address: string }[]>;

const resolveWithDns: ResolveHost = (hostname) => lookup(hostname, { all: true });

export interface MediaCredentials {
  accountSid: string;
  /** Basic auth user and password: Account SID + token, or API key SID + secret. */
  username: string;
  password: string;
}

/** An account's credentials for its media: its API key when it has one, else its auth token. */
export function mediaCredentials(account: AccountCredentials): MediaCredentials {
  return {
    accountSid: account.accountSid,
    username: account.apiKeySid ?? account.accountSid,
    password: account.apiKeySecret ?? account.authToken,
  };
}

/**
 * Downloads one MediaUrl of an inbound MMS. Credentials go only to Twilio's media path of the
 * account's own messages, on api.twilio.com or the configured Twilio base URL (the
 * emulator), and never across a redirect. A redirect elsewhere (Twilio's CDN) is followed
 * over https, and only to a host whose every address is globally reachable, connecting to
 * those very addresses. `receive` reads the body as it arrives (no file is whole in memory);
 * the stream fails with a MediaFetchError past maxBytes or when the download breaks.
 */
export async function fetchTwilioMedia<T>(
  url: string,
  options: {
    credentials: MediaCredentials;
    twilioApiUrl: string;
    maxBytes: number;
    resolve?: ResolveHost;
  },
  receive: (body: Readable, contentType: string) => Promise<T>,
): Promise<T> {
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
    // The credentials are for the media URL itself: a redirect (Twilio's CDN, a presigned
    // URL that refuses them) never gets them, even on Twilio's own host.
    const response = await get(
      target,
      hop === 0 ? { authorization } : {},
      trusted ? undefined : await checkedLookup(target, options.resolve ?? resolveWithDns),
    );
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400) {
      response.destroy();
      const location = response.headers.location;
      if (!location) throw new MediaFetchError('media redirect without a location', true);
      target = parseUrl(new URL(location, target).toString());
      continue;
    }
    if (status < 200 || status >= 300) {
      response.destroy();
      const retryable = status === 429 || status >= 500 || status === 404;
      throw new MediaFetchError(`media download answered HTTP ${status}`, retryable);
    }
    const contentType =
      response.headers['content-type']?.split(';')[0]?.trim() || 'application/octet-stream';
    try {
      return await receive(capped(response, options.maxBytes), contentType);
    } finally {
      response.destroy();
    }
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

/**
 * Resolves the host once and refuses it if any address is not globally reachable (the
 * connection could land on that one). The socket then gets those checked addresses instead
 * of resolving again, which a rebinding DNS server would answer with a private one; TLS
 * still sends and verifies the host name.
 */
async function checkedLookup(url: URL, resolve: ResolveHost): Promise<LookupFunction> {
  if (url.protocol !== 'https:') {
    throw new MediaFetchError(`refusing a plain-http media redirect to ${url.host}`, false);
  }
  // An IP literal is already normalised by the URL parser (0x7f.1 is 127.0.0.1) but bracketed.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let answers: readonly { address: string }[];
  try {
    answers = isIP(host) ? [{ address: host }] : await resolve(host);
  } catch (error) {
    throw new MediaFetchError(
      `cannot resolve media host ${host}: ${(error as Error).message}`,
      true,
    );
  }
  if (answers.length === 0) throw new MediaFetchError(`media host ${host} has no address`, true);
  if (!answers.every(({ address }) => isGloballyReachable(address))) {
    throw new MediaFetchError(
      `refusing media from ${host}: it resolves to an address that is not globally reachable`,
      false,
    );
  }
  const addresses = answers.map(({ address }) => ({ address, family: isIP(address) }));
  return (_hostname, lookupOptions, callback) => {
    // Answer on a later turn of the event loop, as dns.lookup does.
    setImmediate(() => {
      if (lookupOptions.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** One GET without following redirects; a fresh connection, so none outlives its checks. */
function get(
  url: URL,
  headers: Record<string, string>,
  lookup: LookupFunction | undefined,
): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    send(url, { headers, lookup, agent: false, signal: AbortSignal.timeout(30_000) }, resolve).on(
      'error',
      (error) => reject(new MediaFetchError(`media download failed: ${error.message}`, true)),
    );
  });
}

/** The body, failing past maxBytes (declared or counted) and on a broken download. */
function capped(response: IncomingMessage, maxBytes: number): Readable {
  async function* read(): AsyncGenerator<Buffer> {
    const declared = Number(response.headers['content-length']);
    if (declared > maxBytes) {
      throw new MediaFetchError(
        `media of ${declared} bytes is over the ${maxBytes}-byte limit`,
        false,
      );
    }
    let size = 0;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          throw new MediaFetchError(`media is over the ${maxBytes}-byte limit`, false);
        }
        yield chunk;
      }
    } catch (error) {
      if (error instanceof MediaFetchError) throw error;
      throw new MediaFetchError(`media download failed: ${(error as Error).message}`, true);
    }
  }
  return Readable.from(read(), { objectMode: false });
}
