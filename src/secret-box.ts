import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VERSION = 'v1';

/**
 * Encrypts stored credentials (Twilio auth tokens, API key secrets) with AES-256-GCM under a
 * key derived from APP_SECRET. The sealed form is `v1.<iv>.<tag>.<ciphertext>` in base64url.
 */
export class SecretBox {
  readonly #key: Buffer;
  readonly #signingKey: Buffer;

  constructor(appSecret: string) {
    this.#key = Buffer.from(
      hkdfSync('sha256', appSecret, 'parley', 'parley stored credentials', 32),
    );
    this.#signingKey = Buffer.from(
      hkdfSync('sha256', appSecret, 'parley', 'parley signed urls', 32),
    );
  }

  /** An HMAC of the text under a key of its own, for short-lived signed URLs and tokens. */
  sign(text: string): string {
    return createHmac('sha256', this.#signingKey).update(text).digest('base64url');
  }

  verify(text: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(text));
    const actual = Buffer.from(signature);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv, cipher.getAuthTag(), ciphertext]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** Throws when the value was sealed under another APP_SECRET or has been altered. */
  open(sealed: string): string {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || ciphertext === undefined) {
      throw new Error('Not a sealed secret');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(ciphertext, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  }
}

/**
 * The embedded store keeps its APP_SECRET beside its data, generated on first start, so a
 * newcomer configures nothing; a server deployment must pass APP_SECRET explicitly.
 */
export function loadOrCreateAppSecret(dataDir: string): string {
  const path = join(dataDir, 'app-secret');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
