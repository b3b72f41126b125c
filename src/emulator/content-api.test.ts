import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  emulatorClient,
  type Fixture,
  type Receiver,
  startFixture,
  startReceiver,
  waitForInbox,
  waitForMessage,
} from './test-support.js';

let fx: Fixture;
let pictures: Receiver;

beforeAll(async () => {
  fx = await startFixture();
  pictures = await startReceiver();
  pictures.answer(() => ({ contentType: 'image/jpeg', body: 'JPEGBYTES' }));
  await fx.addNumber('+15556100001', { mps: 100 });
});
afterAll(async () => {
  await pictures.close();
  await fx.close();
});

/** A template made through the control API, as if built in the Console. */
function makeTemplate(types: Record<string, unknown>, variables: Record<string, string> = {}) {
  return control<{ sid: string }>(fx.url, 'POST', '/_emulator/contents', {
    accountSid: fx.account.sid,
    friendlyName: 'shipping',
    variables,
    types,
  });
}

async function createError(params: Record<string, string>) {
  const before = await control<{ messages: unknown[] }>(fx.url, 'GET', '/_emulator/messages');
  const error = await fx.client.messages
    .create({ from: '+15556100001', to: '+15556000001', ...params })
    .then(
      () => null,
      (e: { status: number; code: number }) => ({ status: e.status, code: e.code }),
    );
  const after = await control<{ messages: unknown[] }>(fx.url, 'GET', '/_emulator/messages');
  expect(after.messages.length, 'nothing stored').toBe(before.messages.length);
  return error;
}

describe('Content API through the official client', () => {
  it('creates, reads, lists, submits for WhatsApp approval and deletes a template', async () => {
    const content = fx.client.content.v1;
    // The library sends the object as given: the wire format is Twilio's snake_case JSON.
    const request = {
      friendly_name: 'order_ready',
      language: 'en',
      variables: { 1: 'name' },
      types: { 'twilio/text': { body: 'Hi {{1}}, your order is ready.' } },
    };
    const created = await content.contents.create(
      request as unknown as Parameters<typeof content.contents.create>[0],
    );
    expect(created).toMatchObject({
      friendlyName: 'order_ready',
      language: 'en',
      accountSid: fx.account.sid,
      types: request.types,
    });
    expect(created.sid).toMatch(/^HX[0-9a-f]{32}$/);
    expect((await content.contents(created.sid).fetch()).variables).toEqual({ 1: 'name' });
    expect((await content.contents.list()).map((c) => c.sid)).toContain(created.sid);

    const unsubmitted = await content.contents(created.sid).approvalFetch().fetch();
    expect(unsubmitted.whatsapp).toMatchObject({ status: 'unsubmitted' });
    const submitted = await content
      .contents(created.sid)
      .approvalCreate.create({ name: 'order_ready', category: 'UTILITY' });
    expect(submitted).toMatchObject({
      name: 'order_ready',
      category: 'UTILITY',
      contentType: 'twilio/text',
      status: 'received',
    });

    await control(fx.url, 'POST', `/_emulator/contents/${created.sid}/approval`, {
      status: 'rejected',
      rejectionReason: 'INVALID_FORMAT',
    });
    const listed = await content.contentAndApprovals.list();
    expect(listed.find((c) => c.sid === created.sid)?.approvalRequests).toMatchObject({
      status: 'rejected',
      rejection_reason: 'INVALID_FORMAT',
      name: 'order_ready',
    });

    await content.contents(created.sid).remove();
    await expect(content.contents(created.sid).fetch()).rejects.toMatchObject({ status: 404 });
  });

  it("pages with Twilio's meta and hides another account's templates", async () => {
    for (let i = 0; i < 3; i++) await makeTemplate({ 'twilio/text': { body: `page ${i}` } });
    const res = await fetch(`${fx.url}/v1/Content?PageSize=2`, {
      headers: {
        Authorization: `Basic ${Buffer.from(`${fx.account.sid}:${fx.account.authToken}`).toString('base64')}`,
      },
    });
    const page = (await res.json()) as { contents: unknown[]; meta: Record<string, unknown> };
    expect(page.contents).toHaveLength(2);
    expect(page.meta).toMatchObject({
      key: 'contents',
      page: 0,
      page_size: 2,
      previous_page_url: null,
      first_page_url: 'https://content.twilio.com/v1/Content?PageSize=2&Page=0',
    });
    expect(page.meta.next_page_url).toMatch(/^https:\/\/content\.twilio\.com\/v1\/Content\?/);

    const other = await control<{ sid: string; authToken: string }>(
      fx.url,
      'POST',
      '/_emulator/accounts',
      {},
    );
    const otherClient = emulatorClient(fx.url, other.sid, other.authToken);
    expect(await otherClient.content.v1.contents.list()).toEqual([]);
  });
});

describe('Messages created with ContentSid', () => {
  it('renders the variables, falling back to the sample values, and the handset sees the text', async () => {
    const template = await makeTemplate(
      { 'twilio/text': { body: 'Hi {{1}}, order {{order}} ships {{2}}.' } },
      { 1: 'there', order: '0000', 2: 'today' },
    );
    const sent = await fx.client.messages.create({
      from: '+15556100001',
      to: '+15556000010',
      contentSid: template.sid,
      contentVariables: JSON.stringify({ 1: 'Alice', order: 42 }),
    });
    expect(sent.body).toBe('Hi Alice, order 42 ships today.');
    const [received] = await waitForInbox(fx.url, '+15556000010', 1);
    expect(received).toMatchObject({ sid: sent.sid, body: 'Hi Alice, order 42 ships today.' });
    const thread = await control<{ messages: { body: string }[] }>(
      fx.url,
      'GET',
      `/_emulator/handsets/${encodeURIComponent('+15556000010')}/thread?with=${encodeURIComponent('+15556100001')}`,
    );
    expect(thread.messages.map((m) => m.body)).toEqual(['Hi Alice, order 42 ships today.']);
  });

  it('sends the media of a twilio/media template, placeholders filled in its URLs', async () => {
    const template = await makeTemplate(
      { 'twilio/media': { body: 'Your receipt, {{1}}', media: [`${pictures.url}/{{2}}.jpg`] } },
      { 1: 'friend', 2: 'receipt' },
    );
    const sent = await fx.client.messages.create({
      from: '+15556100001',
      to: '+15556000011',
      contentSid: template.sid,
      contentVariables: '{"2":"r-77"}',
    });
    const delivered = await waitForMessage(fx.url, sent.sid, (m) => m.status === 'delivered');
    expect(delivered.body).toBe('Your receipt, friend');
    expect(delivered.media.map((m) => m.contentType)).toEqual(['image/jpeg']);
    expect(pictures.requests.map((r) => new URL(r.url).pathname)).toContain('/r-77.jpg');
  });

  it('refuses at create an unknown or foreign ContentSid (21655) and bad ContentVariables (21656, 21654)', async () => {
    const mine = await makeTemplate({ 'twilio/text': { body: 'Hello {{1}}' } });
    const other = await control<{ sid: string }>(fx.url, 'POST', '/_emulator/accounts', {});
    const foreign = await control<{ sid: string }>(fx.url, 'POST', '/_emulator/contents', {
      accountSid: other.sid,
      types: { 'twilio/text': { body: 'theirs' } },
    });
    const invalid = { status: 400, code: 21655 };
    expect(await createError({ contentSid: `HX${'0'.repeat(32)}` })).toEqual(invalid);
    expect(await createError({ contentSid: 'HX123' })).toEqual(invalid);
    expect(await createError({ contentSid: foreign.sid })).toEqual(invalid);

    const badVariables = { status: 400, code: 21656 };
    expect(await createError({ contentSid: mine.sid, contentVariables: '{1: Alice}' })).toEqual(
      badVariables,
    );
    expect(await createError({ contentSid: mine.sid, contentVariables: '["Alice"]' })).toEqual(
      badVariables,
    );
    expect(await createError({ contentSid: mine.sid, contentVariables: '{"1":null}' })).toEqual(
      badVariables,
    );
    // No value given and no sample to fall back to.
    expect(await createError({ contentSid: mine.sid })).toEqual(badVariables);
    expect(await createError({ body: 'x', contentVariables: '{"1":"A"}' })).toEqual({
      status: 400,
      code: 21654,
    });
  });
});
