import { describe, expect, it } from 'vitest';
import { senderVerified } from './sender-verdict.js';

const RELAY = 'mx.example.test';
const SENDER = 'ada@example.com';

describe('senderVerified', () => {
  it("takes the relay's pass for the sender's domain by DKIM, SPF or DMARC, comments and all", () => {
    for (const header of [
      `${RELAY} 1; dkim=pass (2048-bit key; unprotected) header.d=example.com header.s=s1`,
      `${RELAY}; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom="${SENDER}"`,
      `${RELAY}; dmarc=pass (p=reject dis=none) header.from=example.com`,
      `${RELAY}; dkim=pass header.d=example.com (signature (nested) ok)`,
    ]) {
      expect(senderVerified([header], RELAY, SENDER), header).toBe(true);
    }
  });

  it('finds no result in what the relay copied into a comment or a quoted value', () => {
    for (const header of [
      // A nested comment, as a reverse-DNS name the relay quotes could make.
      `${RELAY}; spf=none (a(b);dkim=pass header.d=example.com;(c)) smtp.mailfrom=example.com`,
      // An escaped bracket inside a comment.
      `${RELAY}; spf=none (x\\);dkim=pass header.d=example.com) smtp.mailfrom=example.com`,
      // A semicolon inside a quoted HELO name.
      `${RELAY}; spf=none smtp.helo="x;dkim=pass header.d=example.com"`,
      `${RELAY}; spf=none smtp.helo="x\\";dkim=pass header.d=example.com"`,
      // Escaped characters inside a quoted HELO name, ahead of a property of the same name.
      `${RELAY}; spf=pass smtp.mailfrom=mailer.test smtp.helo="x\\ smtp.mailfrom\\=example.com"`,
    ]) {
      expect(senderVerified([header], RELAY, SENDER), header).toBe(false);
    }
  });

  it("reads only the relay's topmost header: one below it under its name is the sender's", () => {
    const forged = `${RELAY}; dkim=pass header.d=example.com`;
    expect(senderVerified([`${RELAY}; dkim=none`, forged], RELAY, SENDER)).toBe(false);
    expect(senderVerified(['other.test; dkim=none', forged], RELAY, SENDER)).toBe(true);
  });

  it("refuses another domain's pass, a failure, and another relay's verdict", () => {
    for (const header of [
      `${RELAY}; dkim=pass header.d=mailer.test; spf=pass smtp.mailfrom=bounce@mailer.test`,
      `${RELAY}; dkim=fail header.d=example.com; spf=softfail smtp.mailfrom=example.com`,
      `${RELAY}; dmarc=pass header.from=example.com.evil.test`,
      `mx.attacker.test; dkim=pass header.d=example.com`,
    ]) {
      expect(senderVerified([header], RELAY, SENDER), header).toBe(false);
    }
  });
});
