import { describe, expect, it } from 'vitest';
import { MEDIA_DELETION_GRACE_MS } from '../retention/media-deletions.js';
import { SecretBox } from '../secret-box.js';
import { readUploadTokens, UPLOAD_TOKEN_TTL_MS, uploadToken } from './attachments.js';

describe('upload tokens', () => {
  const box = new SecretBox('attachments test secret');
  const attachment = { sha256: 'a'.repeat(64), contentType: 'image/png', size: 42 };
  const issued = Date.UTC(2026, 0, 1);

  it('name their upload until they expire, then are refused on attachments; unnamed bytes outlive them', () => {
    const token = uploadToken(box, attachment, issued);
    expect(readUploadTokens(box, [token], issued + UPLOAD_TOKEN_TTL_MS - 1)).toEqual([attachment]);
    expect(() => readUploadTokens(box, [token], issued + UPLOAD_TOKEN_TTL_MS)).toThrow(
      expect.objectContaining({
        field: 'attachments',
        message: expect.stringContaining('expired'),
      }),
    );
    // The bytes of an upload not yet sent have no media row: they must outlive its token.
    expect(MEDIA_DELETION_GRACE_MS).toBeGreaterThan(UPLOAD_TOKEN_TTL_MS);
  });

  it('refuses a token whose expiry was changed', () => {
    const [sha256, type, size, expires, signature] = uploadToken(box, attachment, issued).split(
      '.',
    );
    const extended = [sha256, type, size, Number(expires) + UPLOAD_TOKEN_TTL_MS, signature].join(
      '.',
    );
    expect(() => readUploadTokens(box, [extended], issued)).toThrow(
      expect.objectContaining({
        field: 'attachments',
        message: expect.stringContaining('not valid'),
      }),
    );
  });
});
