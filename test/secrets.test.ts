import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, getAccountCredentials } from '../src/admin/accounts.js';
import { accounts } from '../src/db/schema.js';
import type { Store } from '../src/db/store.js';
import { createLogger } from '../src/logger.js';
import { SecretBox } from '../src/secret-box.js';
import { hex } from './helpers/factories.js';
import { openTestStore } from './helpers/store.js';

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store?.close());

const box = new SecretBox('a'.repeat(64));

describe('stored credentials', () => {
  it('are encrypted at rest and read back with the same APP_SECRET', async () => {
    const authToken = hex(16);
    const apiKeySecret = hex(16);
    const view = await createAccount(store.db, box, {
      name: 'Main',
      accountSid: `AC${hex(16)}`,
      authToken,
      apiKeySid: `SK${hex(16)}`,
      apiKeySecret,
    });
    expect(JSON.stringify(view)).not.toContain(authToken);
    expect(view).not.toHaveProperty('authTokenEnc');

    const [raw] = await store.db.select().from(accounts).where(eq(accounts.id, view.id));
    const rowText = JSON.stringify(raw);
    expect(rowText).not.toContain(authToken);
    expect(rowText).not.toContain(apiKeySecret);
    expect(raw!.authTokenEnc).toMatch(/^v1\./);

    const credentials = await getAccountCredentials(store.db, box, view.id);
    expect(credentials).toMatchObject({ authToken, apiKeySecret });
  });

  it('cannot be read under another APP_SECRET', async () => {
    const view = await createAccount(store.db, box, {
      name: 'Other',
      accountSid: `AC${hex(16)}`,
      authToken: hex(16),
    });
    const otherBox = new SecretBox('b'.repeat(64));
    await expect(getAccountCredentials(store.db, otherBox, view.id)).rejects.toThrow();
  });

  it('seals the same text differently each time and detects tampering', () => {
    const a = box.seal('token');
    expect(box.seal('token')).not.toBe(a);
    const parts = a.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
  });

  it('refuses a malformed account with the field at fault', async () => {
    await expect(
      createAccount(store.db, box, { name: 'X', accountSid: 'nope', authToken: 't' }),
    ).rejects.toMatchObject({ code: 'bad_request', field: 'accountSid' });
  });
});

describe('logs', () => {
  it('redact secrets and credentials headers', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info({ account: { authToken: 'tok-123', apiKeySecret: 'sec-456' }, password: 'pw-789' });
    logger.info({ req: { headers: { authorization: 'Basic abc', cookie: 'session=def' } } });
    const text = lines.join('');
    for (const secret of ['tok-123', 'sec-456', 'pw-789', 'Basic abc', 'session=def']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
  });
});
