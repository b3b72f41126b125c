import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  type Fixture,
  handsetSends,
  type Receiver,
  startFixture,
  startReceiver,
  waitForInbox,
  waitForMessage,
} from './test-support.js';

const HANDSET = '+15557000001';

let fx: Fixture;
let hook: Receiver;

beforeAll(async () => {
  fx = await startFixture();
  hook = await startReceiver();
});

afterAll(async () => {
  await hook.close();
  await fx.close();
});

function signed(
  token: string,
  r: { signature: string; url: string; params: Record<string, string> },
): boolean {
  return twilio.validateRequest(token, r.signature, r.url, r.params);
}

describe('handset → webhook → twilio client reply → handset', () => {
  it('signs the webhook, delivers the reply and reports every status in order', async () => {
    await fx.addNumber('+15557100001', {
      smsUrl: `${hook.url}/sms?tenant=a%20b&x=1`,
      city: 'OAKLAND',
      state: 'CA',
    });
    const sent = await handsetSends(fx.url, HANDSET, {
      to: '+15557100001',
      body: 'Hello there',
      fromCity: 'SF',
    });
    expect(sent.webhook).toMatchObject({ status: 200, fallbackUsed: false });

    const [req] = await hook.waitFor((r) => r.params.MessageSid === sent.sid);
    expect(req?.url).toBe(`${hook.url}/sms?tenant=a%20b&x=1`);
    expect(signed(fx.account.authToken, req!)).toBe(true);
    expect(signed('not-the-token', req!)).toBe(false);
    expect(req?.headers['content-type']).toContain('application/x-www-form-urlencoded');
    expect(req?.params).toMatchObject({
      MessageSid: sent.sid,
      SmsSid: sent.sid,
      SmsMessageSid: sent.sid,
      AccountSid: fx.account.sid,
      From: HANDSET,
      To: '+15557100001',
      Body: 'Hello there',
      NumMedia: '0',
      NumSegments: '1',
      SmsStatus: 'received',
      ApiVersion: '2010-04-01',
      FromCity: 'SF',
      ToCity: 'OAKLAND',
      ToState: 'CA',
      ToCountry: 'US',
    });
    expect(req?.params.MessagingServiceSid).toBeUndefined();

    const inbound = await fx.client.messages(sent.sid).fetch();
    expect(inbound).toMatchObject({
      direction: 'inbound',
      status: 'received',
      body: 'Hello there',
      from: HANDSET,
    });

    const reply = await fx.client.messages.create({
      to: HANDSET,
      from: '+15557100001',
      body: 'Hi, an agent here',
      statusCallback: `${hook.url}/status`,
    });
    expect(reply.status).toBe('queued');
    expect(reply.sid).toMatch(/^SM[0-9a-f]{32}$/);

    const [delivered] = await waitForInbox(fx.url, HANDSET, 1);
    expect(delivered).toMatchObject({
      sid: reply.sid,
      from: '+15557100001',
      body: 'Hi, an agent here',
    });

    // No callback for the initial status (queued): Twilio sends none.
    const callbacks = await hook.waitFor(
      (r) => r.url.endsWith('/status') && r.params.MessageSid === reply.sid,
      3,
    );
    expect(callbacks.map((c) => c.params.MessageStatus)).toEqual(['sending', 'sent', 'delivered']);
    for (const c of callbacks) {
      expect(signed(fx.account.authToken, c)).toBe(true);
      expect(c.params).toMatchObject({
        SmsSid: reply.sid,
        SmsStatus: c.params.MessageStatus,
        AccountSid: fx.account.sid,
        From: '+15557100001',
        To: HANDSET,
        ApiVersion: '2010-04-01',
      });
      expect(c.params.ErrorCode).toBeUndefined();
    }
    const fetched = await fx.client.messages(reply.sid).fetch();
    expect(fetched.status).toBe('delivered');
    expect(fetched.dateSent).toBeInstanceOf(Date);
  });

  it('keeps one slow status-callback endpoint from holding up other messages’ callbacks', async () => {
    await fx.addNumber('+15557100011', { mps: 50 });
    hook.answer((r) => (r.url.endsWith('/slow-status') ? { delayMs: 3000 } : {}));
    try {
      const send = (path: string) =>
        fx.client.messages.create({
          to: '+15557000011',
          from: '+15557100011',
          body: path,
          statusCallback: `${hook.url}${path}`,
        });
      const slow = await send('/slow-status');
      const fast = await send('/fast-status');
      await hook.waitFor(
        (r) => r.params.MessageSid === fast.sid && r.params.MessageStatus === 'delivered',
      );
      // The slow endpoint has not answered its first callback yet; the fast one got all three.
      expect(hook.requests.filter((r) => r.params.MessageSid === slow.sid)).toHaveLength(1);
      expect(hook.requests.filter((r) => r.params.MessageSid === fast.sid)).toHaveLength(3);
    } finally {
      hook.answer(() => ({}));
    }
  });

  it('skips, repeats and reorders callbacks under callbackDisorder, never losing an outcome', async () => {
    await fx.addNumber('+15557100009');
    const send = async (body: string) =>
      (
        await fx.client.messages.create({
          to: HANDSET,
          from: '+15557100009',
          body,
          statusCallback: `${hook.url}/disorder`,
        })
      ).sid;
    const statusesOf = (sid: string) =>
      hook.requests
        .filter((r) => r.url.endsWith('/disorder') && r.params.MessageSid === sid)
        .map((r) => r.params.MessageStatus);
    try {
      // Every sending / sent skipped, every callback twice.
      await control(fx.url, 'POST', '/_emulator/settings', {
        callbackDisorder: { seed: 7, skipRatio: 1, duplicateRatio: 1 },
      });
      const doubled = await send('skipped and doubled');
      await hook.waitFor((r) => r.params.MessageSid === doubled, 2);
      expect(statusesOf(doubled)).toEqual(['delivered', 'delivered']);

      // Each callback delayed at random: some overtake the ones before them.
      await control(fx.url, 'POST', '/_emulator/settings', {
        callbackDisorder: { seed: 11, reorderMs: 300 },
      });
      const sids = await Promise.all(Array.from({ length: 10 }, (_, i) => send(`shuffled ${i}`)));
      for (const sid of sids) await hook.waitFor((r) => r.params.MessageSid === sid, 3);
      const orders = sids.map(statusesOf);
      for (const order of orders)
        expect([...order].sort()).toEqual(['delivered', 'sending', 'sent']);
      expect(orders.some((order) => order.join() !== 'sending,sent,delivered')).toBe(true);
    } finally {
      await control(fx.url, 'POST', '/_emulator/settings', { callbackDisorder: null });
    }
  });

  it('delivers a TwiML answer (text, then Body + Media) to the handset', async () => {
    const picture = await startReceiver();
    picture.answer(() => ({ body: 'PNGBYTES', contentType: 'image/png' }));
    try {
      await fx.addNumber('+15557100002', { smsUrl: `${hook.url}/twiml`, mps: 50 });
      hook.answer((r) =>
        r.url.endsWith('/twiml')
          ? {
              body: `<?xml version="1.0"?><Response><Message>Thanks &amp; bye</Message><Message><Body>See this</Body><Media>${picture.url}/pic.png</Media></Message></Response>`,
            }
          : {},
      );
      const handset = '+15557000002';
      const sent = await handsetSends(fx.url, handset, { to: '+15557100002', body: 'hi' });
      expect(sent.replies).toHaveLength(2);
      const inbox = await waitForInbox(fx.url, handset, 2);
      expect(inbox.map((m) => m.body)).toEqual(['Thanks & bye', 'See this']);
      expect(inbox[1]?.media).toHaveLength(1);
      const bytes = await fetch(inbox[1]?.media[0]?.url ?? '').then((r) => r.text());
      expect(bytes).toBe('PNGBYTES');
      const reply = await fx.client.messages(sent.replies[1] ?? '').fetch();
      expect(reply).toMatchObject({
        direction: 'outbound-reply',
        from: '+15557100002',
        to: handset,
        numMedia: '1',
      });
      expect(reply.sid).toMatch(/^MM/);
    } finally {
      hook.answer(() => ({}));
      await picture.close();
    }
  });

  it('falls back to SmsFallbackUrl, signed for that URL, when the primary answers 500', async () => {
    const fallback = await startReceiver();
    fallback.answer(() => ({ body: '<Response><Message>from the fallback</Message></Response>' }));
    try {
      await fx.addNumber('+15557100003', {
        smsUrl: `${hook.url}/broken`,
        smsFallbackUrl: `${fallback.url}/fb?k=v`,
      });
      hook.answer((r) => (r.url.endsWith('/broken') ? { status: 500, body: 'boom' } : {}));
      const handset = '+15557000003';
      const sent = await handsetSends(fx.url, handset, { to: '+15557100003', body: 'anyone?' });
      expect(sent.webhook).toMatchObject({
        status: 500,
        fallbackUsed: true,
        fallback: { status: 200 },
      });
      const [req] = await fallback.waitFor((r) => r.params.MessageSid === sent.sid);
      expect(req?.url).toBe(`${fallback.url}/fb?k=v`);
      expect(signed(fx.account.authToken, req!)).toBe(true);
      expect(req?.params.Body).toBe('anyone?');
      expect(req?.params.ErrorCode).toBe('11200');
      expect(req?.params.ErrorUrl).toBe(`${hook.url}/broken`);
      expect(req?.headers['content-type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
      const [reply] = await waitForInbox(fx.url, handset, 1);
      expect(reply?.body).toBe('from the fallback');
    } finally {
      hook.answer(() => ({}));
      await fallback.close();
    }
  });

  it('tries a connection that failed once more before falling back, as Twilio does', async () => {
    await fx.addNumber('+15557100008', { smsUrl: `${hook.url}/flaky` });
    let resets = 0;
    hook.answer((r) => (r.url.endsWith('/flaky') && resets++ === 0 ? { reset: true } : {}));
    try {
      const sent = await handsetSends(fx.url, '+15557000008', {
        to: '+15557100008',
        body: 'second time lucky',
      });
      expect(sent.webhook).toMatchObject({ status: 200, fallbackUsed: false });
      expect(hook.requests.filter((r) => r.params.MessageSid === sent.sid)).toHaveLength(2);
    } finally {
      hook.answer(() => ({}));
    }
  });

  it('falls back when the primary does not answer within the webhook timeout', async () => {
    const fallback = await startReceiver();
    await fetch(`${fx.url}/_emulator/settings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ webhookTimeoutMs: 200 }),
    });
    try {
      await fx.addNumber('+15557100004', {
        smsUrl: `${hook.url}/slow`,
        smsFallbackUrl: `${fallback.url}/fb`,
      });
      hook.answer((r) => (r.url.endsWith('/slow') ? { delayMs: 1000 } : {}));
      const sent = await handsetSends(fx.url, '+15557000004', {
        to: '+15557100004',
        body: 'slow?',
      });
      expect(sent.webhook?.status).toBeNull();
      expect(sent.webhook?.error).toMatch(/200 ms/);
      expect(sent.webhook?.fallbackUsed).toBe(true);
      expect(fallback.requests.map((r) => r.params.MessageSid)).toEqual([sent.sid]);
      expect(fallback.requests[0]?.params.ErrorCode).toBe('11205');
    } finally {
      hook.answer(() => ({}));
      await fetch(`${fx.url}/_emulator/settings`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ webhookTimeoutMs: 15000 }),
      });
      await fallback.close();
    }
  });

  it('hands three MMS pictures to the webhook, served with Basic auth only', async () => {
    await fx.addNumber('+15557100005', { smsUrl: `${hook.url}/mms` });
    const pictures = [
      { contentType: 'image/png', bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) },
      { contentType: 'image/jpeg', bytes: Buffer.from([0xff, 0xd8, 0xff, 4, 5, 6, 7, 8]) },
      { contentType: 'image/gif', bytes: Buffer.from('GIF89a-fake') },
    ];
    const sent = await handsetSends(fx.url, '+15557000005', {
      to: '+15557100005',
      body: 'three pics',
      media: pictures.map((p) => ({
        contentType: p.contentType,
        base64: p.bytes.toString('base64'),
      })),
    });
    expect(sent.sid).toMatch(/^MM/);
    const [req] = await hook.waitFor((r) => r.params.MessageSid === sent.sid);
    expect(req?.params.NumMedia).toBe('3');
    expect(signed(fx.account.authToken, req!)).toBe(true);
    const auth = `Basic ${Buffer.from(`${fx.account.sid}:${fx.account.authToken}`).toString('base64')}`;
    for (const [i, picture] of pictures.entries()) {
      const url = req?.params[`MediaUrl${i}`] ?? '';
      expect(
        url.startsWith(
          `${fx.url}/2010-04-01/Accounts/${fx.account.sid}/Messages/${sent.sid}/Media/ME`,
        ),
      ).toBe(true);
      expect(req?.params[`MediaContentType${i}`]).toBe(picture.contentType);
      // The authenticated URL redirects to the CDN, which refuses the credentials.
      const redirect = await fetch(url, { headers: { Authorization: auth }, redirect: 'manual' });
      expect(redirect.status).toBe(307);
      const cdn = new URL(redirect.headers.get('location') ?? '', url).toString();
      expect((await fetch(cdn, { headers: { Authorization: auth } })).status).toBe(400);
      const res = await fetch(cdn);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(picture.contentType);
      expect(Buffer.from(await res.arrayBuffer()).equals(picture.bytes)).toBe(true);
      const anonymous = await fetch(url);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ code: 20003, status: 401 });
    }
    const media = await fx.client.messages(sent.sid).media.list();
    expect(media.map((m) => m.contentType).sort()).toEqual([
      'image/gif',
      'image/jpeg',
      'image/png',
    ]);
  });

  it('fails an outbound MMS whose MediaUrl cannot be fetched, with 11200 in the callback', async () => {
    await fx.addNumber('+15557100006');
    hook.answer((r) => (r.url.endsWith('/missing.png') ? { status: 404 } : {}));
    const message = await fx.client.messages.create({
      to: '+15557000006',
      from: '+15557100006',
      body: 'picture',
      mediaUrl: [`${hook.url}/missing.png`],
      statusCallback: `${hook.url}/mms-status`,
    });
    const failed = await waitForMessage(fx.url, message.sid, (m) => m.status === 'failed');
    expect(failed.errorCode).toBe(11200);
    const [cb] = await hook.waitFor(
      (r) => r.url.endsWith('/mms-status') && r.params.MessageStatus === 'failed',
    );
    expect(cb?.params.ErrorCode).toBe('11200');
    hook.answer(() => ({}));
  });

  it('refuses a malformed MediaUrl (21620), fails media over 5 MB (63034) or of a type MMS does not carry (12300), deletes media', async () => {
    await fx.addNumber('+15557100010');
    const send = (mediaUrl: string[]) =>
      fx.client.messages.create({ to: '+15557000010', from: '+15557100010', mediaUrl });
    await expect(send(['not a url'])).rejects.toMatchObject({ status: 400, code: 21620 });

    hook.answer((r) =>
      r.url.endsWith('/huge.png')
        ? { body: 'x'.repeat(5 * 1024 * 1024 + 1), contentType: 'image/png' }
        : r.url.endsWith('/small.png')
          ? { body: 'tiny', contentType: 'image/png' }
          : r.url.endsWith('/program.exe')
            ? { body: 'MZ', contentType: 'application/x-msdownload' }
            : {},
    );
    try {
      const huge = await send([`${hook.url}/huge.png`]);
      const failed = await waitForMessage(fx.url, huge.sid, (m) => m.status === 'failed');
      expect(failed.errorCode).toBe(63034);

      const program = await send([`${hook.url}/program.exe`]);
      const refused = await waitForMessage(fx.url, program.sid, (m) => m.status === 'failed');
      expect(refused.errorCode).toBe(12300);

      const small = await send([`${hook.url}/small.png`]);
      await waitForMessage(fx.url, small.sid, (m) => m.status === 'delivered');
      const [media] = await fx.client.messages(small.sid).media.list();
      expect(media?.contentType).toBe('image/png');
      expect(await fx.client.messages(small.sid).media(media!.sid).remove()).toBe(true);
      expect(await fx.client.messages(small.sid).media.list()).toEqual([]);
    } finally {
      hook.answer(() => ({}));
    }
  });
});
