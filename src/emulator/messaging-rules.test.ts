import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  emulatorClient,
  type Fixture,
  handsetSends,
  type Receiver,
  startFixture,
  startReceiver,
  waitForInbox,
  waitForMessage,
} from './test-support.js';

let fx: Fixture;
let hook: Receiver;

beforeAll(async () => {
  fx = await startFixture();
  hook = await startReceiver();
  await fx.addNumber('+15559100001', { smsUrl: `${hook.url}/sms`, mps: 100 });
});
afterAll(async () => {
  await hook.close();
  await fx.close();
});

async function createError(
  params: Record<string, unknown>,
): Promise<{ status: number; code: number }> {
  try {
    await fx.client.messages.create({
      from: '+15559100001',
      body: 'x',
      to: '+15559000000',
      ...params,
    });
  } catch (err) {
    const e = err as { status: number; code: number };
    return { status: e.status, code: e.code };
  }
  throw new Error('create succeeded');
}

async function storedCount(): Promise<number> {
  const page = await control<{ messages: unknown[] }>(fx.url, 'GET', '/_emulator/messages');
  return page.messages.length;
}

describe('create-time rules', () => {
  it.each([
    ['+15005550001', 21211],
    ['+15005550002', 21612],
    ['+15005550003', 21408],
    ['+15005550004', 21610],
    ['+15005550009', 21614],
  ])('magic To %s answers 400 / %i and stores nothing', async (to, code) => {
    const before = await storedCount();
    expect(await createError({ to })).toEqual({ status: 400, code });
    expect(await storedCount()).toBe(before);
  });

  it('through a Messaging Service, accepts an unreachable recipient and fails it afterwards', async () => {
    const number = await fx.addNumber('+15559200051');
    const service = await fx.client.messaging.v1.services.create({ friendlyName: 'Unreachable' });
    await fx.client.messaging.v1
      .services(service.sid)
      .phoneNumbers.create({ phoneNumberSid: number.sid });
    const sent = await fx.client.messages.create({
      messagingServiceSid: service.sid,
      to: '+15005550002',
      body: 'hello?',
    });
    expect(sent.status).toBe('accepted');
    const failed = await waitForMessage(fx.url, sent.sid, (m) => m.status === 'failed');
    expect(failed.errorCode).toBe(21612);
    // A malformed number is refused at create, service or not.
    await expect(
      fx.client.messages.create({
        messagingServiceSid: service.sid,
        to: '+15005550001',
        body: 'x',
      }),
    ).rejects.toMatchObject({ status: 400, code: 21211 });
  });

  it('rejects a From the account does not own and a missing body', async () => {
    expect(await createError({ from: '+15550000000' })).toEqual({ status: 400, code: 21606 });
    expect(await createError({ body: '' })).toEqual({ status: 400, code: 21602 });
  });
});

describe('opt-out keywords', () => {
  it('on a toll-free number lifts an opt-out only on START or UNSTOP, and answers no HELP meanwhile', async () => {
    await fx.addNumber('+18885550123', { kind: 'toll-free', smsUrl: `${hook.url}/sms`, mps: 100 });
    const handset = '+15559000020';
    const send = (body: string) => handsetSends(fx.url, handset, { to: '+18885550123', body });
    const canText = () =>
      fx.client.messages
        .create({ from: '+18885550123', to: handset, body: 'hello' })
        .then(() => true)
        .catch((e: { code: number }) => (e.code === 21610 ? false : Promise.reject(e)));

    expect((await send('STOP')).autoReply).toMatch(/NETWORK MSG/);
    expect(await canText()).toBe(false);
    expect((await send('YES')).autoReply).toBeNull();
    expect(await canText()).toBe(false);
    expect((await send('HELP')).autoReply).toBeNull();
    expect((await send('UNSTOP')).autoReply).toMatch(/begin receiving messages again/);
    expect(await canText()).toBe(true);
    expect((await send('HELP')).autoReply).toMatch(/Reply STOP/);
  });

  it('leaves SMS keywords alone on a WhatsApp sender outside a Messaging Service', async () => {
    await fx.addNumber('whatsapp:+15559100077', { kind: 'whatsapp', smsUrl: `${hook.url}/sms` });
    const handset = 'whatsapp:+15559000021';
    const stop = await handsetSends(fx.url, handset, { to: 'whatsapp:+15559100077', body: 'STOP' });
    expect(stop.autoReply).toBeNull();
    const [hooked] = await hook.waitFor((r) => r.params.MessageSid === stop.sid);
    expect(hooked?.params.Body).toBe('STOP');
  });

  it('STOP blocks with 21610 and auto-replies; START unblocks; the keywords still reach the webhook', async () => {
    const handset = '+15559000010';
    const ok = await fx.client.messages.create({
      to: handset,
      from: '+15559100001',
      body: 'before',
    });
    await waitForMessage(fx.url, ok.sid, (m) => m.status === 'delivered');
    const [first] = await waitForInbox(fx.url, handset, 1);

    const stop = await handsetSends(fx.url, handset, { to: '+15559100001', body: '  stop ' });
    expect(stop.autoReply).toBe(
      'You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe.',
    );
    const [stopReply] = await waitForInbox(fx.url, handset, 1, first?.id);
    expect(stopReply).toMatchObject({
      kind: 'auto-reply',
      from: '+15559100001',
      body: stop.autoReply,
    });
    const [hooked] = await hook.waitFor((r) => r.params.MessageSid === stop.sid);
    expect(hooked?.params.Body).toBe('  stop ');
    expect(hooked?.params.OptOutType).toBeUndefined(); // only with Advanced Opt-Out

    expect(await createError({ to: handset })).toEqual({ status: 400, code: 21610 });

    const start = await handsetSends(fx.url, handset, { to: '+15559100001', body: 'UNSTOP' });
    expect(start.autoReply).toBe(
      'You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.',
    );
    const after = await fx.client.messages.create({
      to: handset,
      from: '+15559100001',
      body: 'welcome back',
    });
    expect(after.status).toBe('queued');
  });

  const words = ['STOPALL', 'unsubscribe', 'Cancel', 'END', 'quit', 'REVOKE', 'optout'];
  it.each(words)('%s opts out', async (word) => {
    const handset = `+1555902${String(words.indexOf(word)).padStart(4, '0')}`;
    await handsetSends(fx.url, handset, { to: '+15559100001', body: word });
    expect(await createError({ to: handset })).toEqual({ status: 400, code: 21610 });
    await handsetSends(fx.url, handset, { to: '+15559100001', body: 'yes' });
    expect(
      (await fx.client.messages.create({ to: handset, from: '+15559100001', body: 'ok' })).status,
    ).toBe('queued');
  });

  it('a keyword inside a sentence does nothing', async () => {
    const sent = await handsetSends(fx.url, '+15559000011', {
      to: '+15559100001',
      body: 'please stop',
    });
    expect(sent.autoReply).toBeNull();
    expect(
      (await fx.client.messages.create({ to: '+15559000011', from: '+15559100001', body: 'ok' }))
        .status,
    ).toBe('queued');
  });

  it('HELP and INFO get the default help reply', async () => {
    const handset = '+15559000012';
    const help = await handsetSends(fx.url, handset, { to: '+15559100001', body: 'help' });
    const info = await handsetSends(fx.url, handset, { to: '+15559100001', body: 'INFO' });
    expect(help.autoReply).toBe('Reply STOP to unsubscribe. Msg&Data Rates May Apply.');
    expect(info.autoReply).toBe(help.autoReply);
    const inbox = await waitForInbox(fx.url, handset, 2);
    expect(inbox.map((m) => m.body)).toEqual([help.autoReply, help.autoReply]);
  });
});

describe('Messaging Service', () => {
  it('under Advanced Opt-Out, honours custom keywords and forgets removed ones', async () => {
    const number = await fx.addNumber('+15559200041', { smsUrl: `${hook.url}/aoo` });
    const service = await fx.client.messaging.v1.services.create({
      friendlyName: 'French',
      inboundRequestUrl: `${hook.url}/aoo`,
      useInboundWebhookOnNumber: false,
    });
    await fx.client.messaging.v1
      .services(service.sid)
      .phoneNumbers.create({ phoneNumberSid: number.sid });
    await control(fx.url, 'POST', `/_emulator/services/${service.sid}`, {
      advancedOptOut: true,
      keywords: { STOP: ['ARRET', 'STOP'], HELP: [] },
    });
    const handset = '+15559000041';
    const say = async (body: string) => {
      const sent = await handsetSends(fx.url, handset, { to: '+15559200041', body });
      const [req] = await hook.waitFor((r) => r.params.MessageSid === sent.sid);
      return { autoReply: sent.autoReply, optOutType: req?.params.OptOutType };
    };
    const canText = () =>
      fx.client.messages
        .create({ from: '+15559200041', to: handset, body: 'bonjour' })
        .then(() => true)
        .catch((e: { code: number }) => (e.code === 21610 ? false : Promise.reject(e)));

    expect(await say('cancel')).toEqual({ autoReply: null, optOutType: undefined });
    expect(await say('help')).toEqual({ autoReply: null, optOutType: undefined });
    expect(await canText()).toBe(true);
    expect((await say(' Arret ')).optOutType).toBe('STOP');
    expect(await canText()).toBe(false);
    expect((await say('START')).optOutType).toBe('START');
    expect(await canText()).toBe(true);
  });

  it('sends from the number with the recipient’s area code, then sticks to it', async () => {
    const first = await fx.addNumber('+15559200031');
    const newYork = await fx.addNumber('+12125550031');
    const service = await fx.client.messaging.v1.services.create({ friendlyName: 'Pool' });
    for (const number of [first, newYork]) {
      await fx.client.messaging.v1
        .services(service.sid)
        .phoneNumbers.create({ phoneNumberSid: number.sid });
    }
    const sendTo = async (to: string) => {
      const sent = await fx.client.messages.create({
        messagingServiceSid: service.sid,
        to,
        body: 'from the pool',
      });
      return (await waitForMessage(fx.url, sent.sid, (m) => m.from !== null)).from;
    };
    expect(await sendTo('+12125550199')).toBe('+12125550031');
    expect(await sendTo('+14155550199')).toBe('+15559200031');
    // A San Francisco number joins; the recipient keeps the number it already knows.
    const sanFrancisco = await fx.addNumber('+14155550031');
    await fx.client.messaging.v1
      .services(service.sid)
      .phoneNumbers.create({ phoneNumberSid: sanFrancisco.sid });
    expect(await sendTo('+14155550199')).toBe('+15559200031');
    expect(await sendTo('+14155550288')).toBe('+14155550031');
  });

  it('routes inbound to InboundRequestUrl with MessagingServiceSid and OptOutType; opt-out covers the service', async () => {
    const serviceHook = await startReceiver();
    try {
      const a = await fx.addNumber('+15559200001', { smsUrl: `${hook.url}/number-a` });
      const b = await fx.addNumber('+15559200002', { smsUrl: `${hook.url}/number-b` });
      const service = await fx.client.messaging.v1.services.create({
        friendlyName: 'Support',
        inboundRequestUrl: `${serviceHook.url}/svc`,
        useInboundWebhookOnNumber: false,
        statusCallback: `${serviceHook.url}/status`,
      });
      await fx.client.messaging.v1
        .services(service.sid)
        .phoneNumbers.create({ phoneNumberSid: a.sid });
      await fx.client.messaging.v1
        .services(service.sid)
        .phoneNumbers.create({ phoneNumberSid: b.sid });
      await control(fx.url, 'POST', `/_emulator/services/${service.sid}`, { advancedOptOut: true });

      const handset = '+15559000020';
      const hi = await handsetSends(fx.url, handset, { to: '+15559200002', body: 'hi service' });
      const [req] = await serviceHook.waitFor((r) => r.params.MessageSid === hi.sid);
      expect(req?.url).toBe(`${serviceHook.url}/svc`);
      expect(req?.params.MessagingServiceSid).toBe(service.sid);
      expect(
        twilio.validateRequest(
          fx.account.authToken,
          req?.signature ?? '',
          req?.url ?? '',
          req?.params ?? {},
        ),
      ).toBe(true);
      expect(hook.requests.some((r) => r.params.MessageSid === hi.sid)).toBe(false);

      const stop = await handsetSends(fx.url, handset, { to: '+15559200002', body: 'STOP' });
      const [stopReq] = await serviceHook.waitFor((r) => r.params.MessageSid === stop.sid);
      expect(stopReq?.params.OptOutType).toBe('STOP');
      // Texted number b, yet number a (same service) may not send either.
      expect(await createError({ from: '+15559200001', to: handset })).toEqual({
        status: 400,
        code: 21610,
      });
      // Through the service, Twilio accepts the message and fails it afterwards.
      const viaService = await fx.client.messages.create({
        messagingServiceSid: service.sid,
        to: handset,
        body: 'x',
      });
      expect(viaService.status).toBe('accepted');
      const refused = await waitForMessage(fx.url, viaService.sid, (m) => m.status === 'failed');
      expect(refused.errorCode).toBe(21610);
      const [failedCallback] = await serviceHook.waitFor(
        (r) => r.params.MessageSid === viaService.sid && r.params.MessageStatus === 'failed',
      );
      expect(failedCallback?.params.ErrorCode).toBe('21610');

      const start = await handsetSends(fx.url, handset, { to: '+15559200001', body: 'START' });
      expect(
        (await serviceHook.waitFor((r) => r.params.MessageSid === start.sid))[0]?.params.OptOutType,
      ).toBe('START');

      const sent = await fx.client.messages.create({
        messagingServiceSid: service.sid,
        to: handset,
        body: 'via service',
      });
      expect(sent).toMatchObject({
        status: 'accepted',
        from: null,
        messagingServiceSid: service.sid,
      });
      const done = await waitForMessage(fx.url, sent.sid, (m) => m.status === 'delivered');
      expect(done.from).toBe('+15559200001'); // the service's first number
      expect(done.history.map((h) => h.status)).toEqual([
        'accepted',
        'queued',
        'sending',
        'sent',
        'delivered',
      ]);
      // No callback for the initial status (accepted): Twilio sends none.
      const callbacks = await serviceHook.waitFor(
        (r) => r.url.endsWith('/status') && r.params.MessageSid === sent.sid,
        4,
      );
      expect(callbacks.map((c) => c.params.MessageStatus)).toEqual([
        'queued',
        'sending',
        'sent',
        'delivered',
      ]);
      expect(callbacks[3]?.params.MessagingServiceSid).toBe(service.sid);

      await fx.client.messaging.v1
        .services(service.sid)
        .update({ useInboundWebhookOnNumber: true });
      const direct = await handsetSends(fx.url, handset, {
        to: '+15559200002',
        body: 'to the number',
      });
      const [numberReq] = await hook.waitFor((r) => r.params.MessageSid === direct.sid);
      expect(numberReq?.url).toBe(`${hook.url}/number-b`);
      expect(numberReq?.params.MessagingServiceSid).toBe(service.sid);
    } finally {
      await serviceHook.close();
    }
  });
});

describe('WhatsApp', () => {
  it('carries WaId and ProfileName, replies over whatsapp:, refuses mixed channels', async () => {
    await fx.addNumber('whatsapp:+15559300001', { smsUrl: `${hook.url}/wa` });
    const handset = 'whatsapp:+15559000060';
    const sent = await handsetSends(fx.url, handset, {
      to: 'whatsapp:+15559300001',
      body: 'hola',
      profileName: 'Ana',
    });
    const [req] = await hook.waitFor((r) => r.params.MessageSid === sent.sid);
    expect(req?.params).toMatchObject({
      From: handset,
      To: 'whatsapp:+15559300001',
      WaId: '15559000060',
      ProfileName: 'Ana',
    });
    // No carrier geography on WhatsApp.
    for (const field of ['FromCountry', 'FromCity', 'FromState', 'FromZip', 'ToCountry']) {
      expect(req?.params, field).not.toHaveProperty(field);
    }
    expect(req?.params).not.toHaveProperty('ButtonPayload');
    expect(req?.params).not.toHaveProperty('ReferralSourceUrl');
    const tapped = await handsetSends(fx.url, handset, {
      to: 'whatsapp:+15559300001',
      body: 'Track my order',
      button: { text: 'Track my order', payload: 'track-order' },
      referral: { headline: 'Spring sale', sourceType: 'ad', sourceUrl: 'https://fb.me/ad1' },
    });
    const [tap] = await hook.waitFor((r) => r.params.MessageSid === tapped.sid);
    expect(tap?.params).toMatchObject({
      ButtonText: 'Track my order',
      ButtonPayload: 'track-order',
      ReferralHeadline: 'Spring sale',
      ReferralSourceType: 'ad',
      ReferralSourceUrl: 'https://fb.me/ad1',
    });
    const reply = await fx.client.messages.create({
      from: 'whatsapp:+15559300001',
      to: handset,
      body: 'hi Ana',
    });
    const [got] = await waitForInbox(fx.url, handset, 1);
    expect(got).toMatchObject({ sid: reply.sid, body: 'hi Ana' });
    await expect(
      fx.client.messages.create({
        from: 'whatsapp:+15559300001',
        to: '+15559000060',
        body: 'sms?',
      }),
    ).rejects.toMatchObject({ status: 400, code: 21910 });
  });
});

describe('WhatsApp senders', () => {
  it('are configured through the Senders API, not as phone numbers', async () => {
    await fx.addNumber('whatsapp:+15559300003', { smsUrl: `${hook.url}/old` });
    const senders = await fx.client.messaging.v2.channelsSenders.list({ channel: 'whatsapp' });
    const sender = senders.find((one) => one.senderId === 'whatsapp:+15559300003');
    expect(sender?.sid).toMatch(/^XE[0-9a-f]{32}$/);
    const numbers = await fx.client.incomingPhoneNumbers.list({ phoneNumber: '+15559300003' });
    expect(numbers).toEqual([]);

    // The library sends the body as given: Twilio's JSON is snake_case.
    const update = {
      webhook: { callback_url: `${hook.url}/sender`, callback_method: 'POST' },
    } as unknown as Parameters<
      ReturnType<typeof fx.client.messaging.v2.channelsSenders>['update']
    >[0];
    const updated = await fx.client.messaging.v2.channelsSenders(sender!.sid).update(update);
    expect(updated.webhook).toMatchObject({ callbackUrl: `${hook.url}/sender` });
    const sent = await handsetSends(fx.url, 'whatsapp:+15559000070', {
      to: 'whatsapp:+15559300003',
      body: 'hola',
    });
    const [req] = await hook.waitFor((r) => r.params.MessageSid === sent.sid);
    expect(req?.url).toBe(`${hook.url}/sender`);
  });
});

describe('outcomes past delivered', () => {
  it('reports read for WhatsApp when the handset reads, and partially_delivered for an MMS taken in part', async () => {
    await fx.addNumber('whatsapp:+15559300002', { smsUrl: `${hook.url}/wa` });
    const reader = 'whatsapp:+15559000061';
    const silent = 'whatsapp:+15559000062';
    await control(fx.url, 'POST', `/_emulator/handsets/${encodeURIComponent(silent)}/settings`, {
      readReceipts: false,
    });
    // Free-form WhatsApp messages need the customer to have written within 24 hours.
    for (const handset of [reader, silent]) {
      await handsetSends(fx.url, handset, { to: 'whatsapp:+15559300002', body: 'hi' });
    }
    const toReader = await fx.client.messages.create({
      from: 'whatsapp:+15559300002',
      to: reader,
      body: 'seen?',
      statusCallback: `${hook.url}/outcomes`,
    });
    const toSilent = await fx.client.messages.create({
      from: 'whatsapp:+15559300002',
      to: silent,
      body: 'seen?',
      statusCallback: `${hook.url}/outcomes`,
    });
    await waitForMessage(fx.url, toReader.sid, (m) => m.status === 'read');
    const readCallbacks = await hook.waitFor((r) => r.params.MessageSid === toReader.sid, 4);
    expect(readCallbacks.map((r) => r.params.MessageStatus)).toEqual([
      'sending',
      'sent',
      'delivered',
      'read',
    ]);
    await waitForMessage(fx.url, toSilent.sid, (m) => m.status === 'delivered');

    const partial = '+15559000063';
    await control(fx.url, 'POST', `/_emulator/handsets/${encodeURIComponent(partial)}/settings`, {
      partialMms: true,
    });
    hook.answer((r) => (r.url.endsWith('.png') ? { contentType: 'image/png', body: 'png' } : {}));
    const mms = await fx.client.messages.create({
      from: '+15559100001',
      to: partial,
      body: 'two pictures',
      mediaUrl: [`${hook.url}/a.png`, `${hook.url}/b.png`],
      statusCallback: `${hook.url}/outcomes`,
    });
    const done = await waitForMessage(fx.url, mms.sid, (m) => m.status === 'partially_delivered');
    expect(done.errorCode).toBe(30008);
    const [outcome] = await hook.waitFor(
      (r) => r.params.MessageSid === mms.sid && r.params.MessageStatus === 'partially_delivered',
    );
    expect(outcome?.params.ErrorCode).toBe('30008');
    hook.answer(() => ({}));
    expect(
      hook.requests
        .filter((r) => r.params.MessageSid === toSilent.sid)
        .map((r) => r.params.MessageStatus),
    ).not.toContain('read');
  });
});

describe('REST details', () => {
  it('pages lists with next_page_uri and filters by To and DateSent', async () => {
    const handset = '+15559000030';
    const sids: string[] = [];
    for (let i = 0; i < 5; i++) {
      sids.push(
        (await fx.client.messages.create({ to: handset, from: '+15559100001', body: `n${i}` })).sid,
      );
    }
    await Promise.all(
      sids.map((sid) => waitForMessage(fx.url, sid, (m) => m.status === 'delivered')),
    );
    const all = await fx.client.messages.list({ to: handset, pageSize: 2 });
    expect(all.map((m) => m.sid)).toEqual([...sids].reverse());
    const page = await fx.client.messages.page({ to: handset, pageSize: 2 });
    expect(page.nextPageUrl).toContain('Page=1');
    const today = new Date();
    expect(
      await fx.client.messages.list({
        to: handset,
        dateSentAfter: new Date(today.getTime() - 60_000),
      }),
    ).toHaveLength(5);
    expect(
      await fx.client.messages.list({
        to: handset,
        dateSentBefore: new Date(today.getTime() - 86_400_000 * 2),
      }),
    ).toHaveLength(0);
  });

  it('cancels a queued message, redacts a finished body, deletes only final messages', async () => {
    await fx.addNumber('+15559100002'); // a long code: the second message waits its turn
    // The first stays in flight until it is released below: with the fixture's 25 ms it
    // could be delivered before a loaded machine tries to delete it.
    const delays = (delivered: number) =>
      control(fx.url, 'POST', '/_emulator/settings', {
        statusDelaysMs: { sending: 5, sent: 10, delivered },
      });
    await delays(60_000);
    let first: Awaited<ReturnType<typeof fx.client.messages.create>>;
    try {
      first = await fx.client.messages.create({
        to: '+15559000040',
        from: '+15559100002',
        body: 'first',
      });
      const second = await fx.client.messages.create({
        to: '+15559000040',
        from: '+15559100002',
        body: 'second',
      });
      const canceled = await fx.client.messages(second.sid).update({ status: 'canceled' });
      expect(canceled.status).toBe('canceled');
      await expect(
        fx.client.messages(second.sid).update({ status: 'canceled' }),
      ).rejects.toMatchObject({ code: 30409 });
      await expect(fx.client.messages(first.sid).remove()).rejects.toMatchObject({ code: 20009 });
      // A body is redacted only once the message has finished, and never with a cancel.
      await expect(fx.client.messages(first.sid).update({ body: '' })).rejects.toMatchObject({
        status: 400,
        code: 20009,
      });
      await expect(
        fx.client.messages(first.sid).update({ body: '', status: 'canceled' }),
      ).rejects.toMatchObject({ status: 400, code: 30400 });
      expect((await fx.client.messages(first.sid).fetch()).body).toBe('first');
    } finally {
      await delays(10);
    }
    // A message's delays are fixed when it leaves; the next one from the number is quick.
    first = await fx.client.messages.create({
      to: '+15559000040',
      from: '+15559100002',
      body: 'first again',
    });
    await waitForMessage(fx.url, first.sid, (m) => m.status === 'delivered');
    expect((await fx.client.messages(first.sid).update({ body: '' })).body).toBe('');
    expect(await fx.client.messages(first.sid).remove()).toBe(true);
    await expect(fx.client.messages(first.sid).fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
  });

  it('authenticates with an API key, refuses wrong credentials with 20003', async () => {
    const key = await control<{ sid: string; secret: string }>(
      fx.url,
      'POST',
      `/_emulator/accounts/${fx.account.sid}/keys`,
      {},
    );
    expect(key.sid).toMatch(/^SK[0-9a-f]{32}$/);
    const viaKey = emulatorClient(fx.url, key.sid, key.secret, fx.account.sid);
    expect((await viaKey.api.v2010.accounts(fx.account.sid).fetch()).sid).toBe(fx.account.sid);
    const created = await viaKey.messages.create({
      to: '+15559000050',
      from: '+15559100001',
      body: 'via key',
    });
    expect(created.accountSid).toBe(fx.account.sid);

    const wrong = emulatorClient(fx.url, fx.account.sid, 'wrong-token');
    await expect(wrong.messages.list()).rejects.toMatchObject({ status: 401, code: 20003 });
    const wrongKey = emulatorClient(fx.url, key.sid, 'wrong', fx.account.sid);
    await expect(wrongKey.messages.list()).rejects.toMatchObject({ status: 401, code: 20003 });

    const res = await fetch(`${fx.url}/2010-04-01/Accounts/${fx.account.sid}/Messages.json`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      code: 20003,
      message: 'Authenticate',
      more_info: 'https://www.twilio.com/docs/errors/20003',
      status: 401,
    });
    await expect(fx.client.messages(`SM${'0'.repeat(32)}`).fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
  });
});
