import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { media, mediaBlobs, messages } from '../src/db/schema.js';
import { createLogger } from '../src/logger.js';
import { FileMediaStore } from '../src/media/file-media-store.js';
import { MAX_TOTAL_BYTES } from '../src/outbound/attachments.js';
import { type RunningParley, startParley } from '../src/parley.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import {
  buildNumber,
  conversationInFlow,
  phoneNumber,
  storedPictureIn,
} from './helpers/factories.js';
import { startTestS3, type TestS3 } from './helpers/s3.js';
import { eventually, freePort, Stack } from './helpers/stack.js';
import { createTestDatabase, dropTestDatabase, TEST_DATABASE_URL } from './helpers/store.js';

describe('uploads', () => {
  let t: TestApp;
  let agent: SignedIn;
  let url: string;
  beforeAll(async () => {
    t = await buildTestApp();
    agent = await signIn(t.store, 'agent');
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t?.close());

  const upload = (body: Buffer | ReadableStream<Uint8Array>) =>
    fetch(`${url}/api/uploads`, {
      method: 'POST',
      headers: { ...agent.headers, 'content-type': 'image/png' },
      body,
      duplex: 'half',
    } as RequestInit);

  it('refuses more than 5 MB, declared or streamed, with an answer naming the body', async () => {
    const tooBig = randomBytes(16 * 1024 * 1024);
    const declared = await upload(tooBig);
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: 'payload_too_large', field: 'body' });
    // No length announced: the count while the bytes stream in stops it, and the rest of the
    // body is read and dropped, so the client gets the answer rather than a reset.
    const streamed = await upload(
      new ReadableStream({
        start(controller) {
          for (let at = 0; at < tooBig.length; at += 64 * 1024) {
            controller.enqueue(tooBig.subarray(at, at + 64 * 1024));
          }
          controller.close();
        },
      }),
    );
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ error: 'payload_too_large', field: 'body' });
  });

  it('takes exactly 5 MB and refuses an empty upload', async () => {
    const largest = await upload(randomBytes(MAX_TOTAL_BYTES));
    expect(largest.status).toBe(201);
    expect(await largest.json()).toMatchObject({ size: MAX_TOTAL_BYTES, contentType: 'image/png' });
    const empty = await upload(Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ field: 'body' });
  });
});

/**
 * Two instances on one PostgreSQL, each with a DATA_DIR of its own: what one stores, the other
 * serves. Instance A takes the customer's picture and the agent's upload, then stops; B
 * serves the picture to a supervisor and the attachment to Twilio.
 */
describe.skipIf(!TEST_DATABASE_URL).each([
  ['S3', true],
  ['the database', false],
])('media shared through %s by two instances', (_name, useS3) => {
  let s3: TestS3 | undefined;
  let a: Stack;
  let b: RunningParley;
  beforeAll(async () => {
    s3 = useS3 ? await startTestS3() : undefined;
    a = await Stack.start({ ...s3?.env });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await s3?.close();
  });

  /** Every stored object: S3 keys under the prefix, or named media_blobs rows. */
  async function storedObjects(): Promise<number> {
    if (!s3) {
      const [row] = await a.db.select({ n: count() }).from(mediaBlobs);
      return row!.n;
    }
    const client = new S3Client({ ...s3.config, forcePathStyle: true });
    try {
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: s3.config.bucket, Prefix: s3.config.prefix }),
      );
      return listed.KeyCount ?? 0;
    } finally {
      client.destroy();
    }
  }

  it('one stores an MMS picture and an upload, the other serves both byte for byte', async () => {
    const { number } = await a.addNumber();
    const handset = phoneNumber();
    // Over a megabyte: several database chunks; the emulator serves it as Twilio would.
    const picture = randomBytes(1_300_000);
    await a.text(handset, number.address, 'my broken parcel', [
      { contentType: 'image/jpeg', base64: picture.toString('base64') },
    ]);
    const stored = await eventually(async () => {
      const [row] = await a.db
        .select({ id: media.id, status: media.status })
        .from(media)
        .innerJoin(messages, eq(messages.id, media.messageId))
        .where(eq(messages.fromAddress, handset));
      return row?.status === 'stored' ? row : undefined;
    }, 15_000);

    const supervisor = await signIn(a.parley.store, 'supervisor');
    const outsider = await signIn(a.parley.store, 'agent');
    const agent = await signIn(a.parley.store, 'agent');
    const attachment = randomBytes(900_000);
    const upload = await fetch(`${a.parley.url}/api/uploads`, {
      method: 'POST',
      headers: { ...agent.headers, 'content-type': 'image/png' },
      body: attachment,
    });
    expect(upload.status).toBe(201);
    const { token } = (await upload.json()) as { token: string };
    expect(await storedObjects()).toBe(2);
    await a.parley.close();
    // Nothing went to A's disk: B could not have read it there.
    expect(existsSync(join(a.config.dataDir, 'media'))).toBe(false);

    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-b-')),
      LOG_LEVEL: 'silent',
      TWILIO_API_URL: a.emulator.url,
      DATABASE_URL: a.config.databaseUrl!,
      APP_SECRET: 's'.repeat(64),
      ...s3?.env,
    });
    b = await startParley(config, createLogger(config.logLevel));

    const served = await fetch(`${b.url}/api/media/${stored.id}`, { headers: supervisor.headers });
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/jpeg');
    expect(served.headers.get('content-length')).toBe(String(picture.length));
    expect(Buffer.from(await served.arrayBuffer()).equals(picture)).toBe(true);
    // The same authorisation on B: an agent without the conversation finds nothing.
    const refused = await fetch(`${b.url}/api/media/${stored.id}`, { headers: outsider.headers });
    expect(refused.status).toBe(404);

    const customer = phoneNumber();
    const sent = await fetch(`${b.url}/api/originations`, {
      method: 'POST',
      headers: { ...agent.headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        to: customer,
        numberId: number.id,
        body: 'Here is the label',
        attachments: [token],
        strategy: 'assign-now',
      }),
    });
    expect(sent.status).toBe(202);
    const received = await a.received(customer, 'Here is the label');
    expect(received.media).toHaveLength(1);
    // The emulator fetched it from B's signed URL, as Twilio would, and hands it to the phone.
    const delivered = await fetch(new URL(received.media[0]!.url, a.emulator.url));
    expect(Buffer.from(await delivered.arrayBuffer()).equals(attachment)).toBe(true);
    expect(existsSync(join(config.dataDir, 'media'))).toBe(false);
  });
});

/**
 * An instance upgraded from when media were always files: with DATABASE_URL and nothing set
 * for media, its pictures under DATA_DIR/media must still be served, with a warning.
 */
describe.skipIf(!TEST_DATABASE_URL)('an upgraded PostgreSQL instance with media in files', () => {
  let databaseUrl: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-upgraded-'));
  let parley: RunningParley | undefined;
  afterAll(async () => {
    await parley?.close();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps serving them from DATA_DIR/media and warns how to share them', async () => {
    databaseUrl = await createTestDatabase();
    const picture = randomBytes(40_000);
    const stored = await new FileMediaStore(join(dataDir, 'media')).put(Readable.from([picture]));
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      APP_SECRET: 's'.repeat(64),
    });
    const lines: string[] = [];
    parley = await startParley(config, createLogger('warn', { write: (line) => lines.push(line) }));

    const db = parley.store.db;
    const number = await buildNumber(db);
    const conversation = await conversationInFlow(db, number.id);
    const row = await storedPictureIn(db, conversation, number.address, stored, 'image/jpeg');
    const supervisor = await signIn(parley.store, 'supervisor');
    const served = await parley.server.inject({
      url: `/api/media/${row.id}`,
      headers: supervisor.headers,
    });
    expect(served.statusCode).toBe(200);
    expect(served.rawPayload.equals(picture)).toBe(true);

    const warnings = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(warnings).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: expect.stringMatching(/DATA_DIR\/media.*MEDIA_STORAGE=s3.*MEDIA_STORAGE=files/),
      }),
    );
  });
});
