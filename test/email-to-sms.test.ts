/**
 * Email-to-SMS origination through a real SMTP session: Nodemailer's SMTP transport talks to
 * the listener Parley starts when SMS_EMAIL_DOMAIN is set; the customer's handset in the
 * emulator gets the text, and their answer is offered back to the agent who mailed.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../src/admin/agents.js';
import { createQueue, updateQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import { messages } from '../src/db/schema.js';
import { phoneNumber, shortCodeNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

const DOMAIN = 'sms.example.test';

interface Offer {
  id: string;
  conversationId: string;
  reason: string;
  originalText: string | null;
}

/** An agent of a queue whose number is the queue's default sender, with their API token. */
async function agentWithSender(stack: Stack) {
  const name = `ada-${randomBytes(3).toString('hex')}`;
  const user = await createAgent(stack.db, {
    email: `${name}@example.com`,
    name,
    role: 'agent',
    password: 'correct horse battery',
  });
  const queue = await createQueue(stack.db, { name: `Q ${name}`, memberIds: [user.id] });
  const { number } = await stack.addNumber({ flow: { name: 'Replies', queueId: queue.id } });
  await updateQueue(stack.db, queue.id, { defaultSenderNumberId: number.id });
  const { token } = await createSession(stack.db, user.id, 'api-token', { ttlMs: null });
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${stack.parley.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  return { user, number, token, call };
}

/** Nodemailer's SMTP transport to the listener (its STARTTLS certificate is self-signed). */
function mailer(stack: Stack, auth?: { user: string; pass: string }) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: stack.parley.smtp!.port,
    secure: false,
    tls: { rejectUnauthorized: false },
    ...(auth && { auth }),
  });
}

describe('email-to-SMS', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ SMS_EMAIL_DOMAIN: DOMAIN, SMTP_PORT: '0' });
  });
  afterAll(() => stack?.close());

  it("texts the customer as the agent, and routes the customer's answer back to them", async () => {
    const ada = await agentWithSender(stack);
    await ada.call('PUT', '/api/agents/me/presence', { presence: 'available' });
    const handset = phoneNumber();
    const info = await mailer(stack).sendMail({
      from: ada.user.email,
      // E.164 digits without the +, as mail apps take them.
      to: `${handset.slice(1)}@${DOMAIN}`,
      subject: 'Your repair',
      text: 'Your repair is ready. Reply to book a pickup.',
    });
    expect(info.accepted).toEqual([`${handset.slice(1)}@${DOMAIN}`]);
    expect(info.response).toContain(`texting ${handset} from ${ada.number.address}`);
    const received = await stack.received(handset, 'Your repair is ready. Reply to book a pickup.');
    expect(received.from).toBe(ada.number.address);

    await stack.text(handset, ada.number.address, 'Tomorrow at 10?');
    const offer = await eventually(async () => {
      const offers = (await (await ada.call('GET', '/api/offers')).json()) as Offer[];
      return offers[0];
    });
    expect(offer).toMatchObject({
      reason: 'affinity',
      originalText: 'Your repair is ready. Reply to book a pickup.',
    });
  });

  it('sends only the new text: no quoted message, signature or footer', async () => {
    const ada = await agentWithSender(stack);
    const handset = phoneNumber();
    await mailer(stack).sendMail({
      from: ada.user.email,
      to: `${handset}@${DOMAIN}`,
      subject: 'RE: pickup',
      html: '<p>See you at 10.</p><p>Sent from my iPhone</p><blockquote>old</blockquote>',
      text: [
        'See you at 10.',
        '',
        'On Tue, 1 Dec 2026 at 09:40, Customer <c@example.com> wrote:',
        '> Can I come tomorrow?',
        '',
        '-- ',
        'Ada, service desk',
      ].join('\n'),
    });
    await stack.received(handset, 'See you at 10.');
    const sent = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
    expect(sent.map((m) => m.body)).toEqual(['See you at 10.']);
  });

  it('takes an HTML-only mail as its text', async () => {
    const ada = await agentWithSender(stack);
    const handset = phoneNumber();
    await mailer(stack).sendMail({
      from: ada.user.email,
      to: `${handset}@${DOMAIN}`,
      html: '<div>Your order <b>A-17</b> has shipped.</div>',
    });
    await stack.received(handset, 'Your order A-17 has shipped.');
  });

  it('bounces mail from an address that is no user’s, naming it', async () => {
    await expect(
      mailer(stack).sendMail({
        from: 'stranger@example.com',
        to: `${phoneNumber()}@${DOMAIN}`,
        text: 'Hello',
      }),
    ).rejects.toThrow(
      /550 stranger@example\.com may not send texts by email: only the registered address of an enabled Parley agent may/,
    );
  });

  it('bounces a mail whose From header is not its envelope sender (a forged envelope)', async () => {
    const ada = await agentWithSender(stack);
    const handset = phoneNumber();
    await expect(
      mailer(stack).sendMail({
        envelope: { from: ada.user.email, to: `${handset}@${DOMAIN}` },
        from: 'mallory@example.com',
        to: `${handset}@${DOMAIN}`,
        text: 'Send me the codes',
      }),
    ).rejects.toThrow(/550 the From header \(mallory@example\.com\) must be the sender/);
    const sent = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
    expect(sent).toEqual([]);
  });

  it('bounces a recipient that is not a phone number at the domain', async () => {
    const ada = await agentWithSender(stack);
    await expect(
      mailer(stack).sendMail({ from: ada.user.email, to: `ada@${DOMAIN}`, text: 'Hello' }),
    ).rejects.toThrow(/553 ada is not a phone number: write it in E\.164/);
    await expect(
      mailer(stack).sendMail({
        from: ada.user.email,
        to: `${phoneNumber()}@elsewhere.test`,
        text: 'Hello',
      }),
    ).rejects.toThrow(/550 .*@elsewhere\.test is not an address Parley texts/);
  });

  it('bounces a mail with nothing left once quoted text and signature are removed', async () => {
    const ada = await agentWithSender(stack);
    await expect(
      mailer(stack).sendMail({
        from: ada.user.email,
        to: `${phoneNumber()}@${DOMAIN}`,
        text: '> only the old message\n\n-- \nAda',
      }),
    ).rejects.toThrow(/550 the message has no text after removing quoted text and signatures/);
  });

  it("bounces with originate's reason: a sub-address naming a number the agent may not use", async () => {
    const ada = await agentWithSender(stack);
    const { number: shortCode } = await stack.addNumber({
      kind: 'short-code',
      address: shortCodeNumber(),
    });
    const handset = phoneNumber();
    await expect(
      mailer(stack).sendMail({
        from: ada.user.email,
        to: `${handset.slice(1)}+${shortCode.address}@${DOMAIN}`,
        text: 'Hello from the short code',
      }),
    ).rejects.toThrow(
      `550 a user with the role agent may not start conversations from number ${shortCode.address}`,
    );
    // Another of the agent's numbers, named by its E.164 digits, is taken.
    const { number: other } = await stack.addNumber();
    await mailer(stack).sendMail({
      from: ada.user.email,
      to: `${handset.slice(1)}+${other.address.slice(1)}@${DOMAIN}`,
      text: 'Hello from the other number',
    });
    expect((await stack.received(handset, 'Hello from the other number')).from).toBe(other.address);
  });
});

describe('email-to-SMS with SMS_EMAIL_REQUIRE_AUTH', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({
      SMS_EMAIL_DOMAIN: DOMAIN,
      SMTP_PORT: '0',
      SMS_EMAIL_REQUIRE_AUTH: 'true',
      SMS_EMAIL_STRATEGY: 'assign-now',
    });
  });
  afterAll(() => stack?.close());

  it('refuses mail without SMTP AUTH', async () => {
    const ada = await agentWithSender(stack);
    await expect(
      mailer(stack).sendMail({
        from: ada.user.email,
        to: `${phoneNumber()}@${DOMAIN}`,
        text: 'Hi',
      }),
    ).rejects.toThrow(/530 .*authentication required/i);
  });

  it('refuses a wrong password, and another user’s address once signed in', async () => {
    const ada = await agentWithSender(stack);
    const bob = await agentWithSender(stack);
    await expect(
      mailer(stack, { user: ada.user.email, pass: 'wrong password' }).sendMail({
        from: ada.user.email,
        to: `${phoneNumber()}@${DOMAIN}`,
        text: 'Hi',
      }),
    ).rejects.toThrow(
      /535 the email address and password \(or API token\) do not match an enabled Parley user/,
    );
    await expect(
      mailer(stack, { user: ada.user.email, pass: ada.token }).sendMail({
        from: bob.user.email,
        to: `${phoneNumber()}@${DOMAIN}`,
        text: 'Hi',
      }),
    ).rejects.toThrow(`550 ${bob.user.email} is not the address you signed in with`);
  });

  it('texts with an API token or the password, with the configured strategy', async () => {
    const ada = await agentWithSender(stack);
    const handset = phoneNumber();
    await mailer(stack, { user: ada.user.email, pass: ada.token }).sendMail({
      from: ada.user.email,
      to: `${handset}@${DOMAIN}`,
      text: 'Signed in with a token',
    });
    await stack.received(handset, 'Signed in with a token');
    // SMS_EMAIL_STRATEGY=assign-now: the conversation is the agent's at once.
    const [sent] = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
    expect(sent?.conversationId).toEqual(expect.any(String));

    const other = phoneNumber();
    await mailer(stack, { user: ada.user.email, pass: 'correct horse battery' }).sendMail({
      from: ada.user.email,
      to: `${other}@${DOMAIN}`,
      text: 'Signed in with the password',
    });
    await stack.received(other, 'Signed in with the password');
  });
});

describe('email-to-SMS with SMS_EMAIL_TRUSTED_RELAY', () => {
  const RELAY = 'mx.example.test';
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({
      SMS_EMAIL_DOMAIN: DOMAIN,
      SMTP_PORT: '0',
      SMS_EMAIL_TRUSTED_RELAY: RELAY,
    });
  });
  afterAll(() => stack?.close());

  /** A mail from Ada, with the Authentication-Results headers given, to a new handset. */
  async function mailWith(ada: { user: { email: string } }, results: string[]) {
    const handset = phoneNumber();
    const sending = mailer(stack).sendMail({
      from: ada.user.email,
      to: `${handset}@${DOMAIN}`,
      text: `Checked by the relay (${handset})`,
      headers: results.map((value) => ({ key: 'Authentication-Results', value })),
    });
    return { handset, sending };
  }

  it("refuses mail the relay did not vouch for: none, another host's verdict, a failed or foreign signature", async () => {
    const ada = await agentWithSender(stack);
    const refusal = new RegExp(
      `550 ${RELAY} did not find that ${ada.user.email} sent this mail: it passed neither DKIM, SPF nor DMARC for example\\.com`,
    );
    for (const results of [
      [],
      // Written by the sender, under a name that is not the relay's.
      ['mx.attacker.test; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com'],
      [`${RELAY}; dkim=fail header.d=example.com; spf=softfail smtp.mailfrom=example.com`],
      // A valid signature, of another domain; SPF for another domain.
      [`${RELAY}; dkim=pass header.d=mailer.test; spf=pass smtp.mailfrom=bounce@mailer.test`],
    ]) {
      const { handset, sending } = await mailWith(ada, results);
      await expect(sending).rejects.toThrow(refusal);
      const sent = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
      expect(sent).toEqual([]);
    }
  });

  it("texts a mail that passed DKIM, SPF or DMARC for the sender's domain at the relay", async () => {
    const ada = await agentWithSender(stack);
    for (const results of [
      [`${RELAY} 1; dkim=pass (2048-bit key) header.d=example.com header.s=s1`],
      [`${RELAY}; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=${ada.user.email}`],
      ['mx.attacker.test; dkim=fail', `${RELAY}; dmarc=pass header.from=example.com`],
    ]) {
      const { handset, sending } = await mailWith(ada, results);
      await sending;
      await stack.received(handset, `Checked by the relay (${handset})`);
    }
  });
});

describe('email-to-SMS with SMS_EMAIL_RELAY_ADDRESSES', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({
      SMS_EMAIL_DOMAIN: DOMAIN,
      SMTP_PORT: '0',
      SMS_EMAIL_TRUSTED_RELAY: 'mx.example.test',
      // The relay is elsewhere: a connection from this machine is someone else's.
      SMS_EMAIL_RELAY_ADDRESSES: '192.0.2.25, 2001:db8::25',
    });
  });
  afterAll(() => stack?.close());

  it('refuses a connection from anywhere but the relay, whatever verdict the mail carries', async () => {
    const ada = await agentWithSender(stack);
    const handset = phoneNumber();
    await expect(
      mailer(stack).sendMail({
        from: ada.user.email,
        to: `${handset}@${DOMAIN}`,
        text: 'Vouched for by myself',
        headers: [
          {
            key: 'Authentication-Results',
            value: 'mx.example.test; dmarc=pass header.from=example.com',
          },
        ],
      }),
    ).rejects.toThrow(/554 this server takes mail only from its relay/);
    const sent = await stack.db.select().from(messages).where(eq(messages.toAddress, handset));
    expect(sent).toEqual([]);
  });
});

describe('email-to-SMS with PASSWORD_SIGN_IN=false', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({
      SMS_EMAIL_DOMAIN: DOMAIN,
      SMTP_PORT: '0',
      SMS_EMAIL_REQUIRE_AUTH: 'true',
      // Never asked here: passwords can be off only with single sign-on configured.
      OIDC_ISSUER_URL: 'http://127.0.0.1:9',
      OIDC_CLIENT_ID: 'parley',
      OIDC_CLIENT_SECRET: 'secret',
      PASSWORD_SIGN_IN: 'false',
    });
  });
  afterAll(() => stack?.close());

  it('takes an API token for SMTP AUTH, never the password', async () => {
    const ada = await agentWithSender(stack);
    await expect(
      mailer(stack, { user: ada.user.email, pass: 'correct horse battery' }).sendMail({
        from: ada.user.email,
        to: `${phoneNumber()}@${DOMAIN}`,
        text: 'Hi',
      }),
    ).rejects.toThrow(/535 /);
    const handset = phoneNumber();
    await mailer(stack, { user: ada.user.email, pass: ada.token }).sendMail({
      from: ada.user.email,
      to: `${handset}@${DOMAIN}`,
      text: 'Signed in with a token',
    });
    await stack.received(handset, 'Signed in with a token');
  });
});
