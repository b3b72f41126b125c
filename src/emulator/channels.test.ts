import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  type Fixture,
  handsetSends,
  type MessageView,
  type Receiver,
  startFixture,
  startReceiver,
  waitForInbox,
  waitForMessage,
} from './test-support.js';

let fx: Fixture;
let hook: Receiver;
/** Serves a PNG at any path, for MediaUrl. */
let pictures: Receiver;

const HOUR = 60 * 60 * 1000;
const WA_SENDER = 'whatsapp:+15557100001';
const PAGE = 'messenger:104000000000001';
const RCS_AGENT = 'rcs:parley_test_agent';

beforeAll(async () => {
  fx = await startFixture();
  hook = await startReceiver();
  pictures = await startReceiver();
  pictures.answer(() => ({ contentType: 'image/png', body: 'PNGBYTES' }));
  await fx.addNumber(WA_SENDER, { smsUrl: `${hook.url}/wa` });
  await fx.addNumber(PAGE, { kind: 'messenger', smsUrl: `${hook.url}/fbm` });
});
afterAll(async () => {
  await pictures.close();
  await hook.close();
  await fx.close();
});

const path = (handset: string) => `/_emulator/handsets/${encodeURIComponent(handset)}`;

/** Says the handset last wrote to the sender `hoursAgo` hours ago. */
function lastWrote(handset: string, sender: string, hoursAgo: number) {
  return control<{ windowOpen: boolean }>(fx.url, 'POST', `${path(handset)}/last-inbound`, {
    sender,
    at: new Date(Date.now() - hoursAgo * HOUR).toISOString(),
  });
}

/**
 * Delivered, whatever came after: a WhatsApp message moves on to `read` moments later, and a
 * poll may see it only then.
 */
const wasDelivered = (m: MessageView) => m.history.some((h) => h.status === 'delivered');

/** The status callbacks of a message, once `count` have arrived. */
async function callbacks(sid: string, count: number) {
  const requests = await hook.waitFor((r) => r.params.MessageSid === sid, count);
  return requests.map((r) => r.params);
}

async function template(status: 'approved' | 'pending') {
  return control<{ sid: string }>(fx.url, 'POST', '/_emulator/contents', {
    accountSid: fx.account.sid,
    friendlyName: `order update ${status}`,
    variables: { 1: 'customer' },
    types: { 'twilio/text': { body: 'Hello {{1}}, your order has shipped.' } },
    whatsapp: { status },
  });
}

describe('WhatsApp customer-service window', () => {
  it('accepts a free-form message to a customer who wrote 25 hours ago, then fails it with 63016', async () => {
    const customer = 'whatsapp:+15557000001';
    expect((await lastWrote(customer, WA_SENDER, 25)).windowOpen).toBe(false);
    const sent = await fx.client.messages.create({
      from: WA_SENDER,
      to: customer,
      body: 'Are you still there?',
      statusCallback: `${hook.url}/status`,
    });
    expect(sent.status).toBe('queued');
    const [failed] = await callbacks(sent.sid, 1);
    expect(failed).toMatchObject({ MessageStatus: 'failed', ErrorCode: '63016', From: WA_SENDER });
    const fetched = await fx.client.messages(sent.sid).fetch();
    expect({ status: fetched.status, errorCode: fetched.errorCode }).toEqual({
      status: 'failed',
      errorCode: 63016,
    });
  });

  it('fails a picture to a customer who never wrote, and lets a message through 23 hours after', async () => {
    const stranger = 'whatsapp:+15557000002';
    const picture = await fx.client.messages.create({
      from: WA_SENDER,
      to: stranger,
      mediaUrl: [`${pictures.url}/a.png`],
      statusCallback: `${hook.url}/status`,
    });
    expect((await callbacks(picture.sid, 1))[0]).toMatchObject({ ErrorCode: '63016' });

    const regular = 'whatsapp:+15557000003';
    expect((await lastWrote(regular, WA_SENDER, 23)).windowOpen).toBe(true);
    const reply = await fx.client.messages.create({ from: WA_SENDER, to: regular, body: 'Yes!' });
    const delivered = await waitForMessage(fx.url, reply.sid, wasDelivered);
    expect(delivered.errorCode).toBeNull();
  });

  it('sends an approved template outside the window, but fails one still pending', async () => {
    const customer = 'whatsapp:+15557000004';
    await lastWrote(customer, WA_SENDER, 30);
    const approved = await template('approved');
    const pending = await template('pending');
    const ok = await fx.client.messages.create({
      from: WA_SENDER,
      to: customer,
      contentSid: approved.sid,
      contentVariables: JSON.stringify({ 1: 'Alice' }),
    });
    const delivered = await waitForMessage(fx.url, ok.sid, wasDelivered);
    expect(delivered).toMatchObject({
      body: 'Hello Alice, your order has shipped.',
      contentSid: approved.sid,
    });
    const notYet = await fx.client.messages.create({
      from: WA_SENDER,
      to: customer,
      contentSid: pending.sid,
    });
    const failed = await waitForMessage(fx.url, notYet.sid, (m) => m.status === 'failed');
    expect(failed.errorCode).toBe(63016);
  });

  it('through a Messaging Service, answers accepted with no from, then fails from the WhatsApp sender', async () => {
    await fx.addNumber('whatsapp:+15557100002');
    const service = await control<{ sid: string }>(fx.url, 'POST', '/_emulator/services', {
      accountSid: fx.account.sid,
      numbers: ['whatsapp:+15557100002'],
    });
    const sent = await fx.client.messages.create({
      messagingServiceSid: service.sid,
      to: 'whatsapp:+15557000007',
      body: 'Your order shipped',
      statusCallback: `${hook.url}/status`,
    });
    expect(sent).toMatchObject({ status: 'accepted', from: null });
    const [failed] = await callbacks(sent.sid, 1);
    expect(failed).toMatchObject({
      MessageStatus: 'failed',
      ErrorCode: '63016',
      From: 'whatsapp:+15557100002',
      MessagingServiceSid: service.sid,
    });
  });

  it('refuses to backdate a window with a sender it does not know', async () => {
    await expect(lastWrote('whatsapp:+15557000006', 'whatsapp:+15550000000', 1)).rejects.toThrow(
      /404/,
    );
  });

  it('reopens when the customer writes again', async () => {
    const customer = 'whatsapp:+15557000005';
    await lastWrote(customer, WA_SENDER, 48);
    const before = await fx.client.messages.create({ from: WA_SENDER, to: customer, body: 'hi?' });
    await waitForMessage(fx.url, before.sid, (m) => m.status === 'failed');
    await handsetSends(fx.url, customer, { to: WA_SENDER, body: 'I am back' });
    const after = await fx.client.messages.create({ from: WA_SENDER, to: customer, body: 'hi!' });
    await waitForMessage(fx.url, after.sid, wasDelivered);
    const [received] = await waitForInbox(fx.url, customer, 1);
    expect(received).toMatchObject({ sid: after.sid, body: 'hi!', channel: 'whatsapp' });
  });
});

describe('Facebook Messenger', () => {
  it("posts the user's message with messenger: addresses, signed, without carrier geography or WhatsApp fields", async () => {
    const user = 'messenger:2400000000000001';
    const sent = await handsetSends(fx.url, user, {
      to: PAGE,
      body: 'Hello page',
      profileName: 'Ann',
    });
    const [req] = await hook.waitFor((r) => r.params.MessageSid === sent.sid);
    expect(req?.params).toMatchObject({
      From: user,
      To: PAGE,
      Body: 'Hello page',
      NumMedia: '0',
      SmsStatus: 'received',
      AccountSid: fx.account.sid,
    });
    for (const field of ['FromCountry', 'FromCity', 'ToCountry', 'ToZip', 'WaId', 'ProfileName']) {
      expect(req?.params[field], field).toBeUndefined();
    }
    expect(
      twilio.validateRequest(
        fx.account.authToken,
        req?.signature ?? '',
        req?.url ?? '',
        req?.params ?? {},
      ),
    ).toBe(true);
  });

  it('sends text and a picture to a user who wrote within 24 hours', async () => {
    const user = 'messenger:2400000000000002';
    await handsetSends(fx.url, user, { to: PAGE, body: 'Do you have it in blue?' });
    const sent = await fx.client.messages.create({
      from: PAGE,
      to: user,
      body: 'Here it is',
      mediaUrl: [`${pictures.url}/blue.png`],
      statusCallback: `${hook.url}/status`,
    });
    const statuses = await callbacks(sent.sid, 3);
    expect(statuses.map((p) => p.MessageStatus)).toEqual(['sending', 'sent', 'delivered']);
    expect(statuses[2]).toMatchObject({ From: PAGE, To: user });
    const [received] = await waitForInbox(fx.url, user, 1);
    expect(received).toMatchObject({ from: PAGE, body: 'Here it is', channel: 'messenger' });
    expect(received?.media.map((m) => m.contentType)).toEqual(['image/png']);
  });

  it('sends a Content template, approved or not, inside the window: Messenger has no WhatsApp approval', async () => {
    const user = 'messenger:2400000000000006';
    await handsetSends(fx.url, user, { to: PAGE, body: 'Where is my order?' });
    const pending = await template('pending');
    const sent = await fx.client.messages.create({
      from: PAGE,
      to: user,
      contentSid: pending.sid,
      contentVariables: JSON.stringify({ 1: 'Bo' }),
    });
    const delivered = await waitForMessage(fx.url, sent.sid, wasDelivered);
    expect(delivered).toMatchObject({
      body: 'Hello Bo, your order has shipped.',
      channel: 'messenger',
    });
  });

  it('fails a message to a user who wrote 25 hours ago, or who never wrote, with 63016', async () => {
    const lapsed = 'messenger:2400000000000003';
    await lastWrote(lapsed, PAGE, 25);
    for (const to of [lapsed, 'messenger:2400000000000004']) {
      const sent = await fx.client.messages.create({ from: PAGE, to, body: 'News!' });
      expect(sent.status).toBe('queued');
      const failed = await waitForMessage(fx.url, sent.sid, (m) => m.status === 'failed');
      expect(failed.errorCode).toBe(63016);
    }
  });

  it('refuses mixed channels with 21910 and leaves STOP to the business', async () => {
    const user = 'messenger:2400000000000005';
    await expect(
      fx.client.messages.create({ from: PAGE, to: '+15557000009', body: 'x' }),
    ).rejects.toMatchObject({ status: 400, code: 21910 });
    await expect(
      fx.client.messages.create({ from: WA_SENDER, to: user, body: 'x' }),
    ).rejects.toMatchObject({ status: 400, code: 21910 });
    const stop = await handsetSends(fx.url, user, { to: PAGE, body: 'STOP' });
    expect(stop.autoReply).toBeNull();
    const after = await fx.client.messages.create({ from: PAGE, to: user, body: 'Noted.' });
    await waitForMessage(fx.url, after.sid, wasDelivered);
  });
});

describe('RCS through a Messaging Service', () => {
  let serviceSid: string;
  beforeAll(async () => {
    await fx.addNumber('+15557300001', { mps: 100 });
    await fx.addNumber(RCS_AGENT, { kind: 'rcs' });
    const service = await control<{ sid: string }>(fx.url, 'POST', '/_emulator/services', {
      accountSid: fx.account.sid,
      statusCallback: `${hook.url}/rcs-status`,
      numbers: ['+15557300001', RCS_AGENT],
    });
    serviceSid = service.sid;
  });

  it('goes as RCS to a capable handset: from is the RCS sender in the resource, callbacks and thread', async () => {
    const handset = '+15557000020';
    await control(fx.url, 'POST', `${path(handset)}/settings`, { rcsCapable: true });
    const sent = await fx.client.messages.create({
      messagingServiceSid: serviceSid,
      to: handset,
      body: 'Your table is ready',
    });
    expect(sent).toMatchObject({ status: 'accepted', from: null });
    const delivered = await waitForMessage(fx.url, sent.sid, wasDelivered);
    expect(delivered).toMatchObject({ from: RCS_AGENT, to: handset, channel: 'rcs' });
    const statuses = await callbacks(sent.sid, 4);
    expect(statuses.map((p) => [p.MessageStatus, p.From])).toEqual([
      ['queued', RCS_AGENT],
      ['sending', RCS_AGENT],
      ['sent', RCS_AGENT],
      ['delivered', RCS_AGENT],
    ]);
    expect((await fx.client.messages(sent.sid).fetch()).from).toBe(RCS_AGENT);
    const [received] = await waitForInbox(fx.url, handset, 1);
    expect(received).toMatchObject({
      from: RCS_AGENT,
      channel: 'rcs',
      body: 'Your table is ready',
    });
  });

  it("falls back to SMS from the service's number for a handset without RCS", async () => {
    const handset = '+15557000021';
    const sent = await fx.client.messages.create({
      messagingServiceSid: serviceSid,
      to: handset,
      body: 'Your table is ready',
    });
    const delivered = await waitForMessage(fx.url, sent.sid, wasDelivered);
    expect(delivered).toMatchObject({ from: '+15557300001', channel: 'sms' });
    const statuses = await callbacks(sent.sid, 4);
    expect(new Set(statuses.map((p) => p.From))).toEqual(new Set(['+15557300001']));
    const [received] = await waitForInbox(fx.url, handset, 1);
    expect(received).toMatchObject({ from: '+15557300001', channel: 'sms' });
  });
});
