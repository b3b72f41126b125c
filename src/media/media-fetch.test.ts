import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchTwilioMedia, MediaFetchError } from './media-fetch.js';

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
  for (const server of [twilioHost, elsewhere]) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  twilioUrl = `http://127.0.0.1:${(twilioHost.address() as { port: number }).port}`;
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}`;
});
afterAll(() => {
  twilioHost?.close();
  elsewhere?.close();
});

const options = (maxBytes = 1024) => ({
  credentials: { accountSid: ACCOUNT, username: ACCOUNT, password: 'token' },
  twilioApiUrl: twilioUrl,
  maxBytes,
});

describe('fetchTwilioMedia', () => {
  it("downloads from the configured Twilio base with the account's credentials", async () => {
    twilioAnswer = () => ({
      status: 200,
      headers: { 'content-type': 'image/png' },
      body: Buffer.from('png bytes'),
    });
    const file = await fetchTwilioMedia(`${twilioUrl}${mediaPath()}`, options());
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
      await expect(fetchTwilioMedia(url, options())).rejects.toMatchObject({ retryable: false });
    }
    expect(lastAuthorization).toBeUndefined();
    expect(seenElsewhere).toHaveLength(0);
  });

  it('follows no redirect to a private or plain-http address', async () => {
    twilioAnswer = () => ({ status: 302, headers: { location: `${elsewhereUrl}/cdn/file.png` } });
    const error = await fetchTwilioMedia(`${twilioUrl}${mediaPath()}`, options()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MediaFetchError);
    expect((error as MediaFetchError).message).toMatch(/refusing a plain-http media redirect/);
    twilioAnswer = () => ({
      status: 302,
      headers: { location: 'https://127.0.0.1:1/cdn/file.png' },
    });
    await expect(fetchTwilioMedia(`${twilioUrl}${mediaPath()}`, options())).rejects.toThrow(
      /private address/,
    );
    expect(seenElsewhere).toHaveLength(0);
  });

  it('refuses media over the size limit', async () => {
    twilioAnswer = () => ({
      status: 200,
      headers: { 'content-type': 'image/png' },
      body: Buffer.alloc(2048),
    });
    await expect(fetchTwilioMedia(`${twilioUrl}${mediaPath()}`, options(1024))).rejects.toThrow(
      /limit/,
    );
  });

  it('marks server errors as worth retrying', async () => {
    twilioAnswer = () => ({ status: 503 });
    await expect(fetchTwilioMedia(`${twilioUrl}${mediaPath()}`, options())).rejects.toMatchObject({
      retryable: true,
    });
  });
});
