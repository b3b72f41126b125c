import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildNumber,
  conversationInFlow,
  eventTypes,
  phoneNumber,
} from '../../test/helpers/factories.js';
import { call } from '../../test/helpers/stack.js';
import { openTestStore } from '../../test/helpers/store.js';
import { createAccount } from '../admin/accounts.js';
import { media, messages } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { type RunningEmulator, startEmulator } from '../emulator/index.js';
import { redactMessages } from '../retention/redaction.js';
import { SecretBox } from '../secret-box.js';
import { FileMediaStore } from './file-media-store.js';
import { downloadNextMedia } from './media-downloads.js';
import type { MediaStore } from './media-store.js';

/**
 * A customer's picture whose message is erased (or reaches its retention) while the picture
 * downloads: the download finds no media row to record it in.
 */
describe('a media download whose message is erased meanwhile', () => {
  let store: Store;
  let emulator: RunningEmulator;
  let twilio: { sid: string; authToken: string };
  let numberId: string;
  let business: string;
  let mediaDir: string;
  let files: MediaStore;
  const secretBox = new SecretBox('t'.repeat(64));

  beforeAll(async () => {
    store = await openTestStore();
    emulator = await startEmulator();
    twilio = (await call(emulator, 'POST', '/_emulator/accounts', {})) as typeof twilio;
    const account = await createAccount(store.db, secretBox, {
      name: 'Test account',
      accountSid: twilio.sid,
      authToken: twilio.authToken,
    });
    const number = await buildNumber(store.db, { accountId: account.id });
    numberId = number.id;
    business = number.address;
    await call(emulator, 'POST', '/_emulator/numbers', {
      accountSid: twilio.sid,
      phoneNumber: business,
      kind: number.kind,
    });
    mediaDir = mkdtempSync(join(tmpdir(), 'parley-downloads-'));
    files = new FileMediaStore(join(mediaDir, 'media'));
  });
  afterAll(async () => {
    await emulator?.close();
    await store?.close();
    if (mediaDir) rmSync(mediaDir, { recursive: true, force: true });
  });

  /**
   * A handset's picture, sent through the emulator, as Parley holds it before the download:
   * a message of a conversation with a pending media row naming Twilio's media URL.
   */
  async function pendingPicture(bytes: Buffer) {
    const handset = phoneNumber();
    const sent = (await call(emulator, 'POST', `/_emulator/handsets/${handset}/messages`, {
      to: business,
      media: [{ contentType: 'image/png', base64: bytes.toString('base64') }],
    })) as { sid: string };
    const listed = await fetch(
      `${emulator.url}/2010-04-01/Accounts/${twilio.sid}/Messages/${sent.sid}/Media.json`,
      {
        headers: {
          authorization: `Basic ${Buffer.from(`${twilio.sid}:${twilio.authToken}`).toString('base64')}`,
        },
      },
    );
    const { media_list } = (await listed.json()) as { media_list: { sid: string }[] };
    const conversation = await conversationInFlow(store.db, numberId, handset);
    const [message] = await store.db
      .insert(messages)
      .values({
        conversationId: conversation.id,
        numberId,
        direction: 'inbound',
        author: 'customer',
        fromAddress: handset,
        toAddress: business,
        status: 'received',
      })
      .returning();
    await store.db.insert(media).values({
      messageId: message!.id,
      position: 0,
      contentType: 'image/png',
      sourceUrl: `${emulator.url}/2010-04-01/Accounts/${twilio.sid}/Messages/${sent.sid}/Media/${media_list[0]!.sid}`,
      nextAttemptAt: new Date(),
    });
    return { conversationId: conversation.id, messageId: message!.id };
  }

  /** The file store, whose put erases the message once the bytes are in, as erasure would. */
  function erasingOnPut(messageId: string): MediaStore {
    return {
      kind: files.kind,
      get: (sha256) => files.get(sha256),
      delete: (sha256) => files.delete(sha256),
      put: async (source, options) => {
        const stored = await files.put(source, options);
        await inTransaction(store.db, (tx) => redactMessages(tx, [messageId]));
        return stored;
      },
    };
  }

  const download = (mediaStore: MediaStore) =>
    downloadNextMedia({
      db: store.db,
      secretBox,
      mediaStore,
      twilioApiUrl: emulator.url,
      maxBytes: 1024 * 1024,
    });

  it('keeps no bytes and tells of no download', async () => {
    const picture = randomBytes(30_000);
    const sha256 = createHash('sha256').update(picture).digest('hex');
    const { conversationId, messageId } = await pendingPicture(picture);

    expect(await download(erasingOnPut(messageId))).toBe(true);

    expect(await files.get(sha256)).toBeUndefined();
    expect(await store.db.select().from(media).where(eq(media.messageId, messageId))).toEqual([]);
    const types = await eventTypes(store.db, conversationId);
    expect(types.filter((type) => type.startsWith('media.'))).toEqual([]);
  });

  it("keeps the bytes another message's picture names", async () => {
    const picture = randomBytes(30_000);
    const { messageId } = await pendingPicture(picture);
    // The same picture, already stored for another customer's message.
    const kept = await pendingPicture(picture);
    const stored = await files.put(Readable.from([picture]));
    await store.db
      .update(media)
      .set({ status: 'stored', sha256: stored.sha256, size: stored.size, nextAttemptAt: null })
      .where(eq(media.messageId, kept.messageId));

    expect(await download(erasingOnPut(messageId))).toBe(true);

    const bytes = await files.get(stored.sha256);
    expect(bytes?.size).toBe(picture.length);
    bytes?.stream.destroy();
    expect(await store.db.select().from(media).where(eq(media.messageId, messageId))).toEqual([]);
  });

  it('tells of no failure when storing fails after the erasure', async () => {
    const { conversationId, messageId } = await pendingPicture(randomBytes(1_000));
    const failing: MediaStore = {
      ...erasingOnPut(messageId),
      put: async (source) => {
        source.resume();
        await inTransaction(store.db, (tx) => redactMessages(tx, [messageId]));
        throw new Error('the disk is full');
      },
    };

    expect(await download(failing)).toBe(true);

    const types = await eventTypes(store.db, conversationId);
    expect(types.filter((type) => type.startsWith('media.'))).toEqual([]);
  });
});
