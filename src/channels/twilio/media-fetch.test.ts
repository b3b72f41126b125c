import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { type ClientRequest, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fetchTwilioMedia, isGloballyReachable, MediaFetchError } from './media-fetch.js';

/** fetchTwilioMedia reading the whole body, as a test wants it. */
const download = (url: string, options: Parameters<typeof fetchTwilioMedia>[1]) =>
  fetchTwilioMedia(url, options, async (body, contentType) => ({
    bytes: Buffer.concat(await body.toArray()),
    contentType,
  }));

/** A globally reachable address the tests resolve names to; nothing ever connects to it. */
const PUBLIC_ADDRESS = '93.184.215.14';

const ACCOUNT = `AC${'1'.repeat(32)}`;
const mediaPath = (account = ACCOUNT) =>
  `/2010-04-01/Accounts/${account}/Messages/MM${'2'.repeat(32)}/Media/ME${'3'.repeat(32)}`;

/** A stand-in for Twilio's media host, and an "elsewhere" host it may redirect to. */
let twilioHost: Server;
let elsewhere: Server;
let twilioUrl: string;
let elsewhereUrl: string;
const seenElsewhere: IncomingHttpHeaders[] = [];
let twilioAnswer: (path: string) => {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer;
};
let lastAuthorization: string | undefined;
/** Loopback, where a refused redirect would land: counts every connection it gets. */
let lookoutServer: TcpServer;
const lookout = { port: 0, connections: 0 };

beforeAll(async () => {
  twilioHost = createServer((request, response) => {
    lastAuthorization = request.headers.authorization;
    const answer = twilioAnswer(request.url ?? '');
    response.writeHead(answer.status, answer.headers);
    response.end(answer.body);
  });
  elsewhere = createServer((request, response) => {
    seenElsewhere.push(request.headers);
    response.end('elsewhere');
  });
  lookoutServer = createTcpServer((socket) => {
    lookout.connections++;
    socket.destroy();
  });
  for (const server of [twilioHost, elsewhere, lookoutServer]) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  twilioUrl = `http://127.0.0.1:${(twilioHost.address() as { port: number }).port}`;
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}`;
  lookout.port = (lookoutServer.address() as { port: number }).port;
});
afterAll(() => {
  twilioHost?.close();
  elsewhere?.close();
  lookoutServer?.close();
});

const redirectTo = (location: string) => {
  twilioAnswer = () => ({ status: 302, headers: { location } });
};

const options = (maxBytes = 1024) => ({
  credentials: { accountSid: ACCOUNT, username: ACCOUNT, password: 'token' },
  twilioApiUrl: twilioUrl,
  maxBytes,
});

describe('isGloballyReachable', () => {
  it.each([
    '0.0.0.0',
    '0.255.255.255',
    '10.0.0.1',
    '100.64.0.0',
    '100.127.255.255',
    '127.0.0.1',
    '127.255.255.254',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.1',
    '192.0.0.255',
    '192.0.2.1',
    '192.88.99.1',
    '192.168.1.1',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '::7f00:1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.1.2.3',
    '::ffff:0:0',
    '64:ff9b::7f00:1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b::',
    '64:ff9b:1::808:808',
    '100::1',
    '2001::1',
    '2001:1ff:ffff::1',
    '2001:db8::1',
    '2002:808:808::1',
    '3fff::1',
    '5f00::1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'FE80::1',
    'fe80::1%eth0',
    'ff02::1',
    'localhost',
    '',
    '0x7f.0.0.1',
    '2130706433',
    '127.000.000.001',
    '[::1]',
  ])('refuses %s', (address) => {
    expect(isGloballyReachable(address)).toBe(false);
  });

  it.each([
    PUBLIC_ADDRESS,
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.0.1.1',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '2a00:1450:4001::1',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('allows %s', (address) => {
    expect(isGloballyReachable(address)).toBe(true);
  });
});

describe('fetchTwilioMedia', () => {
  it("downloads from the configured Twilio base with the account's credentials", async () => {
    twilioAnswer = () => ({
      status: 200,
      headers: { 'content-type': 'image/png' },
      body: Buffer.from('png bytes'),
    });
    const file = await download(`${twilioUrl}${mediaPath()}`, options());
    expect(file).toEqual({ bytes: Buffer.from('png bytes'), contentType: 'image/png' });
    expect(lastAuthorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:token`).toString('base64')}`);
  });

  it("refuses another account's media, other paths and other hosts without sending credentials", async () => {
    lastAuthorization = undefined;
    for (const url of [
      `${twilioUrl}${mediaPath(`AC${'9'.repeat(32)}`)}`,
      `${twilioUrl}/2010-04-01/Accounts/${ACCOUNT}.json`,
      `${elsewhereUrl}${mediaPath()}`,
    ]) {
      await expect(download(url, options())).rejects.toMatchObject({ retryable: false });
    }
    expect(lastAuthorization).toBeUndefined();
    expect(seenElsewhere).toHaveLength(0);
  });

  it('follows a redirect on the Twilio host (its CDN path) without the credentials', async () => {
    const seen: (string | undefined)[] = [];
    const png: Record<string, string> = { 'content-type': 'image/png' };
    const toCdn: Record<string, string> = { location: '/cdn/ME1?signed=1' };
    twilioAnswer = (path) => {
      seen.push(lastAuthorization);
      if (path.startsWith('/cdn/')) return { status: 200, headers: png, body: Buffer.from('cdn') };
      return { status: 307, headers: toCdn };
    };
    const file = await download(`${twilioUrl}${mediaPath()}`, options());
    expect(file.bytes.toString()).toBe('cdn');
    expect(seen).toEqual([
      `Basic ${Buffer.from(`${ACCOUNT}:token`).toString('base64')}`,
      undefined,
    ]);
  });

  it('follows no redirect to a private or plain-http address', async () => {
    redirectTo(`${elsewhereUrl}/cdn/file.png`);
    const error = await download(`${twilioUrl}${mediaPath()}`, options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaFetchError);
    expect((error as MediaFetchError).message).toMatch(/refusing a plain-http media redirect/);
    redirectTo('https://127.0.0.1:1/cdn/file.png');
    await expect(download(`${twilioUrl}${mediaPath()}`, options())).rejects.toThrow(
      /not globally reachable/,
    );
    expect(seenElsewhere).toHaveLength(0);
  });

  it('refuses a redirect to an IP literal in any spelling without asking DNS', async () => {
    const resolve = vi.fn(async () => [{ address: PUBLIC_ADDRESS }]);
    for (const host of [
      '0x7f.1',
      '2130706433',
      '0177.0.0.1',
      '127.1',
      '0',
      '%31%32%37.0.0.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[0:0:0:0:0:FFFF:7F00:0001]',
      '[::127.0.0.1]',
      '[64:ff9b::10.0.0.1]',
      '[2002:a9fe:a9fe::1]',
      '[fe80::1]',
    ]) {
      redirectTo(`https://${host}:${lookout.port}/cdn/file.png`);
      const error = await download(`${twilioUrl}${mediaPath()}`, {
        ...options(),
        resolve,
      }).catch((e: unknown) => e);
      expect(error, host).toMatchObject({
        message: expect.stringMatching(/not globally reachable/),
        retryable: false,
      });
    }
    expect(resolve).not.toHaveBeenCalled();
    expect(lookout.connections).toBe(0);
  });

  it('refuses a host when any of its addresses is not globally reachable', async () => {
    redirectTo(`https://cdn.example.test:${lookout.port}/file.png`);
    for (const addresses of [
      [PUBLIC_ADDRESS, '127.0.0.1'],
      ['10.1.2.3', PUBLIC_ADDRESS],
      [PUBLIC_ADDRESS, '::ffff:192.168.0.1'],
    ]) {
      const error = await download(`${twilioUrl}${mediaPath()}`, {
        ...options(),
        resolve: async () => addresses.map((address) => ({ address })),
      }).catch((e: unknown) => e);
      expect(error, addresses.join()).toMatchObject({
        message: expect.stringMatching(/cdn\.example\.test: .*not globally reachable/),
        retryable: false,
      });
    }
    expect(lookout.connections).toBe(0);
  });

  it('marks a name that does not resolve as worth retrying', async () => {
    redirectTo(`https://cdn.example.test:${lookout.port}/file.png`);
    for (const resolve of [
      async () => Promise.reject(new Error('getaddrinfo EAI_AGAIN cdn.example.test')),
      async () => [],
    ]) {
      await expect(
        download(`${twilioUrl}${mediaPath()}`, { ...options(), resolve }),
      ).rejects.toMatchObject({
        message: expect.stringMatching(/cdn\.example\.test/),
        retryable: true,
      });
    }
  });

  it('connects to the address it checked, not to a second answer for the name (DNS rebinding)', async () => {
    // The name answers a public address, then loopback, where a rebinding attack would land.
    const answers = [PUBLIC_ADDRESS, '127.0.0.1'];
    const resolve = vi.fn(async () => [{ address: answers.shift()! }]);
    redirectTo(`https://cdn.example.test:${lookout.port}/file.png`);
    // The socket reports where its lookup sends it (the lookup answers on a later turn, as DNS
    // does, so this listener is in place); stopping it there keeps the test offline.
    const socketTargets: string[] = [];
    const onRequest = (message: unknown) => {
      const { socket } = (message as { request: ClientRequest }).request;
      socket?.once('lookup', (_error: Error | null, address: string) => {
        socketTargets.push(address);
        socket.destroy(new Error('stopped before connecting'));
      });
    };
    subscribe('http.client.request.start', onRequest);
    try {
      const error = await download(`${twilioUrl}${mediaPath()}`, {
        ...options(),
        resolve,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ message: expect.stringMatching(/stopped before connecting/) });
    } finally {
      unsubscribe('http.client.request.start', onRequest);
    }
    expect(socketTargets).toEqual([PUBLIC_ADDRESS]);
    expect(resolve).toHaveBeenCalledTimes(1);
    expect(lookout.connections).toBe(0);
  });

  it('refuses media over the size limit', async () => {
    twilioAnswer = () => ({
      status: 200,
      headers: { 'content-type': 'image/png' },
      body: Buffer.alloc(2048),
    });
    await expect(download(`${twilioUrl}${mediaPath()}`, options(1024))).rejects.toThrow(/limit/);
  });

  it('marks server errors as worth retrying', async () => {
    twilioAnswer = () => ({ status: 503 });
    await expect(download(`${twilioUrl}${mediaPath()}`, options())).rejects.toMatchObject({
      retryable: true,
    });
  });
});
