/**
 * Email-to-SMS origination: an agent mails `<phone>@<SMS_EMAIL_DOMAIN>` from their
 * registered address and the mail's new text goes to that phone as an origination from the
 * agent, exactly as if they had used the desk's New message (same controls, same affinity).
 *
 * Mail is refused during the SMTP session, never accepted and dropped: the sending MTA
 * writes the bounce with the reason given here. Each stage refuses what it can judge: a
 * connection from outside SMS_EMAIL_RELAY_ADDRESSES (loopback with a trusted relay),
 * MAIL FROM an address that is no enabled user's (or not the signed-in user's, with
 * SMS_EMAIL_REQUIRE_AUTH), RCPT TO an address that is not a phone number at the domain,
 * DATA that the trusted relay did not vouch for (SMS_EMAIL_TRUSTED_RELAY: DKIM, SPF or DMARC
 * of the sender's domain, from its Authentication-Results header; see sender-verdict.ts), with no
 * text left once quoted text and signatures are removed, or that `originate`
 * refuses (opted-out customer, origination not allowed, …): its sentence is the reason.
 *
 * The subject is ignored: a text has no subject, and mail apps fill it with "RE:" and the
 * like. `<phone>+<sender>@domain` picks the sending number by its address (E.164 digits or
 * a short code); otherwise the agent's queue's default sender sends.
 */
import { BlockList, isIP } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import type { Logger } from 'pino';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerSession,
} from 'smtp-server';
import { findNumberForWebhook, type NumberRow } from '../admin/numbers.js';
import { verifyPassword } from '../auth/passwords.js';
import { authenticateToken } from '../auth/sessions.js';
import { clearFailures, reserveAttempt, signInKey } from '../auth/sign-in-limit.js';
import { findUserForSignIn } from '../auth/users.js';
import type { SmsEmailConfig } from '../config.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { originate } from '../outbound/agent-messages.js';
import { type Originator, queueDefaultSender } from '../outbound/origination-senders.js';
import { normalisePhone } from '../phone-numbers.js';
import type { Worker } from '../worker-loop.js';
import { replyText } from './reply-text.js';
import { authenticationResults, senderVerified } from './sender-verdict.js';

/** Mail is for a text: a megabyte is ample for one with its quoted thread and HTML part. */
export const MAX_MAIL_BYTES = 1024 * 1024;
const MAX_TEXT = 1600;

export interface SmtpListener extends Worker {
  /** The port it listens on (the configured one, or the one the system gave for 0). */
  readonly port: number;
}

interface Deps {
  db: Db;
  logger: Logger;
  config: SmsEmailConfig;
  shutdownTimeoutMs: number;
}

/** An SMTP reply: the code, and the sentence the bounce will quote. */
class SmtpRefusal extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startSmtpListener(deps: Deps): Promise<SmtpListener> {
  const { db, config } = deps;
  const logger = deps.logger.child({ worker: 'email-to-sms' });

  /** Logs the refusal (never a credential or the mail's text) and returns it for the reply. */
  const refuse = (
    session: SMTPServerSession,
    code: number,
    reason: string,
    extra: Record<string, unknown> = {},
  ) => {
    logger.info(
      { session: session.id, remote: session.remoteAddress, code, reason, ...extra },
      'email-to-SMS mail refused',
    );
    return new SmtpRefusal(code, reason);
  };

  const mailFrom = async (address: SMTPServerAddress, session: SMTPServerSession) => {
    const from = address.address;
    const user = await findUserForSignIn(db, from);
    // One answer for an unknown and a disabled address (the log tells them apart): the
    // bounce must not let an outsider learn which addresses are agents'.
    if (!user || user.disabledAt !== null) {
      throw refuse(
        session,
        550,
        `${from} may not send texts by email: only the registered address of an enabled Parley agent may`,
        { from, known: user !== undefined },
      );
    }
    if (config.requireAuth && session.user !== user.id) {
      throw refuse(session, 550, `${from} is not the address you signed in with`, { from });
    }
  };

  const rcptTo = (address: SMTPServerAddress, session: SMTPServerSession) => {
    if (session.envelope.rcptTo.length > 0) {
      throw refuse(session, 452, 'one text per mail: send to each number in a mail of its own');
    }
    recipientOf(address.address, config, (code, reason) =>
      refuse(session, code, reason, { to: address.address }),
    );
  };

  const data = async (mail: ParsedMail, session: SMTPServerSession): Promise<string> => {
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const rcpt = session.envelope.rcptTo[0]?.address ?? '';
    const context = { from, to: rcpt };
    const refuseData = (reason: string) => refuse(session, 550, reason, context);
    const recipient = recipientOf(rcpt, config, (_, reason) => refuseData(reason));
    const user = await findUserForSignIn(db, from);
    if (!user || user.disabledAt !== null) throw refuseData(`${from} is no enabled Parley user`);
    const originator: Originator = { id: user.id, name: user.name, role: user.role };
    // What a relay's DKIM and DMARC checks vouch for is the header From: it must be the
    // envelope sender Parley trusts, else a forged envelope passes behind a genuine header.
    const headerFrom = mail.from?.value.map((entry) => entry.address?.toLowerCase() ?? '') ?? [];
    if (headerFrom.length !== 1 || headerFrom[0] !== from.toLowerCase()) {
      throw refuseData(
        `the From header (${headerFrom.join(', ') || 'none'}) must be the sender ${from}`,
      );
    }

    if (
      config.trustedRelay !== undefined &&
      !senderVerified(authenticationResults(mail.headerLines), config.trustedRelay, from)
    ) {
      throw refuseData(
        `${config.trustedRelay} did not find that ${from} sent this mail: it passed neither DKIM, SPF nor DMARC for ${from.slice(from.lastIndexOf('@') + 1)}`,
      );
    }

    const text = replyText(mail.text ?? '');
    if (!text) {
      throw refuseData('the message has no text after removing quoted text and signatures');
    }
    if (text.length > MAX_TEXT) {
      throw refuseData(
        `the text has ${text.length} characters after removing quoted text and signatures; a text has at most ${MAX_TEXT}`,
      );
    }
    const sender = await senderOf(recipient.sender, originator, refuseData);
    try {
      const { message } = await originate(db, originator, {
        to: recipient.phone,
        numberId: sender.id,
        strategy: config.strategy,
        body: text,
        attachments: [],
      });
      logger.info(
        {
          session: session.id,
          from,
          to: recipient.phone,
          numberId: sender.id,
          messageId: message.id,
        },
        'email-to-SMS mail accepted',
      );
      return `OK: texting ${recipient.phone} from ${sender.address}`;
    } catch (error) {
      if (error instanceof AppError) throw refuseData(error.message);
      throw error;
    }
  };

  /** The number named by the sub-address, else the user's queue's default sender. */
  const senderOf = async (
    named: string | undefined,
    user: Originator,
    refuseData: (reason: string) => SmtpRefusal,
  ): Promise<NumberRow> => {
    if (named) {
      const number = await findNumberForWebhook(db, { to: named });
      if (!number) throw refuseData(`${named} is not one of Parley's numbers`);
      return number;
    }
    const fallback = await queueDefaultSender(db, user);
    if (!fallback) {
      throw refuseData(
        `you have no default sender number: an admin sets one on your queue (Default sender), or write to <phone>+<sender number>@${config.domain}`,
      );
    }
    return fallback;
  };

  const authenticate = async (auth: SMTPServerAuthentication, session: SMTPServerSession) => {
    const email = auth.username ?? '';
    const key = signInKey(session.remoteAddress, email);
    const attempt = await reserveAttempt(db, key);
    if (!attempt.allowed) {
      throw refuse(session, 454, 'too many failed sign-ins; try again later', { from: email });
    }
    const user = await findUserForSignIn(db, email);
    const password = auth.password ?? '';
    let matches = false;
    if (user && user.disabledAt === null) {
      const byToken = await authenticateToken(db, password, 'api-token');
      // Checked even when passwords are off, so that every refusal takes as long.
      const passwordMatches = await verifyPassword(password, user.passwordHash);
      matches = byToken?.id === user.id || (config.passwords && passwordMatches);
    } else {
      // As costly as a known address, so timing does not tell which addresses are users'.
      await verifyPassword(password, undefined);
    }
    if (!user || user.disabledAt !== null || !matches) {
      throw refuse(
        session,
        535,
        'the email address and password (or API token) do not match an enabled Parley user',
        { from: email },
      );
    }
    await clearFailures(db, key);
    return user.id;
  };

  const fromRelay = config.relayAddresses && addressIn(config.relayAddresses);
  const server = new SMTPServer({
    name: config.domain,
    banner: `Parley email-to-SMS for ${config.domain}`,
    logger: false,
    size: MAX_MAIL_BYTES,
    authOptional: !config.requireAuth,
    // AUTH is offered only when it is required: otherwise the sender address decides.
    disabledCommands: config.requireAuth ? [] : ['AUTH'],
    // The built-in STARTTLS certificate is self-signed; operators who expose the port put a
    // relay with a real certificate in front, or keep it on a private network.
    allowInsecureAuth: true,
    closeTimeout: deps.shutdownTimeoutMs,
    onConnect: (session, callback) => {
      if (fromRelay === undefined || fromRelay(session.remoteAddress)) return callback();
      callback(refuse(session, 554, 'this server takes mail only from its relay'));
    },
    onAuth: (auth, session, callback) => {
      authenticate(auth, session).then(
        (user) => callback(null, { user }),
        (error: unknown) => callback(asSmtpError(error, logger, session)),
      );
    },
    onMailFrom: (address, session, callback) => {
      mailFrom(address, session).then(
        () => callback(),
        (error: unknown) => callback(asSmtpError(error, logger, session)),
      );
    },
    onRcptTo: (address, session, callback) => {
      try {
        rcptTo(address, session);
        callback();
      } catch (error) {
        callback(asSmtpError(error, logger, session));
      }
    },
    onData: (stream, session, callback) => {
      simpleParser(stream)
        .then((mail) => {
          // Over the limit: smtp-server answers 552 itself once the stream has ended.
          if (stream.sizeExceeded) return 'OK';
          return data(mail, session);
        })
        .then(
          (reply) => callback(null, reply),
          (error: unknown) => callback(asSmtpError(error, logger, session)),
        );
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.warn({ err: error }, 'SMTP listener error'));
  const address = server.server.address();
  const port = address && typeof address === 'object' ? address.port : config.port;
  logger.info({ host: config.host, port, domain: config.domain }, 'email-to-SMS listening');
  let stopping: Promise<void> | undefined;
  return {
    name: 'email-to-sms',
    port,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return stopping;
    },
  };
}

/**
 * The phone of `<phone>[+<sender>]@<domain>`: E.164 with or without its `+`, or national
 * format in the configured country; the sender, if named, as a number's address.
 */
function recipientOf(
  address: string,
  config: SmsEmailConfig,
  refuse: (code: number, reason: string) => SmtpRefusal,
): { phone: string; sender: string | undefined } {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  if (at < 0 || domain !== config.domain) {
    throw refuse(
      550,
      `${address} is not an address Parley texts: write to <phone number>@${config.domain}`,
    );
  }
  const match = /^(\+?[\d().-]+)(?:\+(\d{3,15}))?$/.exec(local);
  const typed = match?.[1] ?? '';
  const phone = normalisePhone(typed, config.country);
  if (!match || !phone) {
    throw refuse(
      553,
      `${local} is not a phone number: write it in E.164 (14255550123 or +14255550123) or ${config.country} national format before @${config.domain}`,
    );
  }
  const sub = match[2];
  const sender = sub === undefined ? undefined : /^\d{3,8}$/.test(sub) ? sub : `+${sub}`;
  return { phone, sender };
}

/** An SMTP reply for what went wrong: a refusal as it is, anything else a temporary 451. */
/** Whether a connection's remote address is one of `addresses` (an IPv4 one also as ::ffff:a.b.c.d). */
function addressIn(addresses: readonly string[]): (remote: string) => boolean {
  const list = new BlockList();
  for (const address of addresses) list.addAddress(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return (remote) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
    const address = mapped ? mapped[1]! : remote;
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

function asSmtpError(error: unknown, logger: Logger, session: SMTPServerSession): SmtpRefusal {
  if (error instanceof SmtpRefusal) return error;
  logger.error({ err: error, session: session.id }, 'email-to-SMS mail failed');
  return new SmtpRefusal(451, 'Parley could not take the mail now; try again later');
}
