import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type SchemaObject } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  type Fixture,
  handsetSends,
  startFixture,
  waitForMessage,
} from './test-support.js';

// Twilio's published OpenAPI descriptions, shipped in @twilio-alpha/mcp.
const require = createRequire(import.meta.url);
const specDir = require
  .resolve('@twilio-alpha/mcp/package.json')
  .replace(/package\.json$/, 'twilio-oai/spec/json/');
type Spec = {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
};
const api2010 = JSON.parse(readFileSync(`${specDir}twilio_api_v2010.json`, 'utf8')) as Spec;
const messagingV1 = JSON.parse(readFileSync(`${specDir}twilio_messaging_v1.json`, 'utf8')) as Spec;
const messagingV2 = JSON.parse(readFileSync(`${specDir}twilio_messaging_v2.json`, 'utf8')) as Spec;
const contentV1 = JSON.parse(readFileSync(`${specDir}twilio_content_v1.json`, 'utf8')) as Spec;

/**
 * Makes every property an object schema lists required, so a field the emulator forgets fails
 * the check too (the published schemas list properties but require none).
 */
function requireAll(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(requireAll);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'examples') out[k] = v;
    else if (k === 'properties' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      // The map of property schemas is not a schema itself, even with a property named
      // `properties` (a WhatsApp sender has one).
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, requireAll(sub)]));
    } else out[k] = requireAll(v);
  }
  if (
    typeof out.properties === 'object' &&
    out.properties !== null &&
    out.title !== 'ListServiceResponse'
  ) {
    out.required = Object.keys(out.properties);
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addFormat(
  'date-time-rfc-2822',
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/,
);
ajv.addFormat('phone-number', /^(whatsapp:)?\+?\d{3,15}$/);
ajv.addFormat('currency', /^[A-Za-z]{3}$/);
ajv.addFormat('http-method', /^(GET|POST)$/);
ajv.addFormat('uri-map', true);
ajv.addFormat('phone-number-capabilities', true);
// Twilio's *_uri fields are paths relative to the API host (its own examples show that).
ajv.addFormat('uri', /^(https?:\/\/[^\s]+|\/[^\s]*)$/);

function validator(spec: Spec, path: string, method: string, status: string) {
  const op = spec.paths[path]?.[method] as
    | { responses: Record<string, { content: { 'application/json': { schema: SchemaObject } } }> }
    | undefined;
  const schema = op?.responses[status]?.content['application/json'].schema;
  if (!schema) throw new Error(`no ${method} ${path} ${status} schema in the spec`);
  return ajv.compile({
    ...(requireAll(schema) as SchemaObject),
    components: requireAll(spec.components),
  });
}

function expectValid(validate: ReturnType<typeof validator>, body: unknown): void {
  const ok = validate(body);
  expect(ok ? [] : validate.errors?.map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
}

/** The Content API takes JSON bodies. */
async function restJson(fx: Fixture, method: string, path: string, body: unknown) {
  const res = await fetch(`${fx.url}${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${fx.account.sid}:${fx.account.authToken}`).toString('base64')}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function rest(
  fx: Fixture,
  method: string,
  path: string,
  form?: Record<string, string | string[]>,
) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form ?? {})) for (const x of [v].flat()) body.append(k, x);
  const res = await fetch(`${fx.url}${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${fx.account.sid}:${fx.account.authToken}`).toString('base64')}`,
      ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? body.toString() : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
  await fx.addNumber('+15558100001');
});
afterAll(() => fx.close());

const A = (fx: Fixture) => `/2010-04-01/Accounts/${fx.account.sid}`;

describe("responses match Twilio's OpenAPI description", () => {
  it('Messages create, fetch and list', async () => {
    const created = await rest(fx, 'POST', `${A(fx)}/Messages.json`, {
      To: '+15558000001',
      From: '+15558100001',
      Body: 'schema 👍',
    });
    expect(created.status).toBe(201);
    expectValid(
      validator(api2010, '/2010-04-01/Accounts/{AccountSid}/Messages.json', 'post', '201'),
      created.json,
    );
    expect(created.json).toMatchObject({
      status: 'queued',
      num_segments: '1',
      num_media: '0',
      price: null,
      direction: 'outbound-api',
    });

    const sid = String(created.json.sid);
    await waitForMessage(fx.url, sid, (m) => m.status === 'delivered');
    const fetched = await rest(fx, 'GET', `${A(fx)}/Messages/${sid}.json`);
    expect(fetched.status).toBe(200);
    expectValid(
      validator(api2010, '/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json', 'get', '200'),
      fetched.json,
    );
    expect(fetched.json.date_sent).toMatch(/\+0000$/);

    const listed = await rest(fx, 'GET', `${A(fx)}/Messages.json?To=%2B15558000001&PageSize=1`);
    expectValid(
      validator(api2010, '/2010-04-01/Accounts/{AccountSid}/Messages.json', 'get', '200'),
      listed.json,
    );
    expect(listed.json).toMatchObject({ page: 0, page_size: 1, start: 0, next_page_uri: null });
    expect((listed.json.messages as { sid: string }[]).map((m) => m.sid)).toEqual([sid]);
  });

  it('Account fetch', async () => {
    const account = await rest(fx, 'GET', `/2010-04-01/Accounts/${fx.account.sid}.json`);
    expect(account.status).toBe(200);
    expectValid(validator(api2010, '/2010-04-01/Accounts/{Sid}.json', 'get', '200'), account.json);
    expect(account.json.sid).toBe(fx.account.sid);
  });

  it('Media list and fetch of an inbound MMS', async () => {
    const sent = await handsetSends(fx.url, '+15558000002', {
      to: '+15558100001',
      media: [
        { contentType: 'image/png', base64: Buffer.from('one').toString('base64') },
        { contentType: 'image/jpeg', base64: Buffer.from('two').toString('base64') },
      ],
    });
    const list = await rest(fx, 'GET', `${A(fx)}/Messages/${sent.sid}/Media.json`);
    expect(list.status).toBe(200);
    expectValid(
      validator(
        api2010,
        '/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json',
        'get',
        '200',
      ),
      list.json,
    );
    const items = list.json.media_list as { sid: string }[];
    expect(items).toHaveLength(2);
    const one = await rest(fx, 'GET', `${A(fx)}/Messages/${sent.sid}/Media/${items[0]?.sid}.json`);
    expectValid(
      validator(
        api2010,
        '/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}.json',
        'get',
        '200',
      ),
      one.json,
    );
  });

  it('IncomingPhoneNumbers list and update, Messaging Service create and fetch', async () => {
    const numbers = await rest(
      fx,
      'GET',
      `${A(fx)}/IncomingPhoneNumbers.json?PhoneNumber=%2B15558100001`,
    );
    expectValid(
      validator(
        api2010,
        '/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json',
        'get',
        '200',
      ),
      numbers.json,
    );
    const [pn] = numbers.json.incoming_phone_numbers as { sid: string }[];
    const updated = await rest(fx, 'POST', `${A(fx)}/IncomingPhoneNumbers/${pn?.sid}.json`, {
      SmsUrl: 'https://example.test/sms',
    });
    expectValid(
      validator(
        api2010,
        '/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json',
        'post',
        '200',
      ),
      updated.json,
    );
    expect(updated.json.sms_url).toBe('https://example.test/sms');

    const service = await rest(fx, 'POST', '/v1/Services', {
      FriendlyName: 'Support',
      InboundRequestUrl: 'https://example.test/in',
    });
    expect(service.status).toBe(201);
    expectValid(validator(messagingV1, '/v1/Services', 'post', '201'), service.json);
    const fetched = await rest(fx, 'GET', `/v1/Services/${service.json.sid}`);
    expectValid(validator(messagingV1, '/v1/Services/{Sid}', 'get', '200'), fetched.json);
    const added = await rest(fx, 'POST', `/v1/Services/${service.json.sid}/PhoneNumbers`, {
      PhoneNumberSid: pn?.sid ?? '',
    });
    expectValid(
      validator(messagingV1, '/v1/Services/{ServiceSid}/PhoneNumbers', 'post', '201'),
      added.json,
    );
  });

  it('ShortCodes list and update; a short code is not an IncomingPhoneNumber', async () => {
    await fx.addNumber('88123', { kind: 'short-code' });
    const asNumber = await rest(fx, 'GET', `${A(fx)}/IncomingPhoneNumbers.json?PhoneNumber=88123`);
    expect(asNumber.json.incoming_phone_numbers).toEqual([]);
    const codes = await rest(fx, 'GET', `${A(fx)}/SMS/ShortCodes.json?ShortCode=88123`);
    expectValid(
      validator(api2010, '/2010-04-01/Accounts/{AccountSid}/SMS/ShortCodes.json', 'get', '200'),
      codes.json,
    );
    const [code] = codes.json.short_codes as { sid: string; short_code: string }[];
    expect(code?.short_code).toBe('88123');
    const updated = await rest(fx, 'POST', `${A(fx)}/SMS/ShortCodes/${code?.sid}.json`, {
      SmsUrl: 'https://example.test/sms',
      SmsFallbackUrl: 'https://example.test/fallback',
    });
    expectValid(
      validator(
        api2010,
        '/2010-04-01/Accounts/{AccountSid}/SMS/ShortCodes/{Sid}.json',
        'post',
        '200',
      ),
      updated.json,
    );
    expect(updated.json).toMatchObject({
      sms_url: 'https://example.test/sms',
      sms_fallback_url: 'https://example.test/fallback',
    });
  });

  it('a response missing a field or with a wrong type fails the check', () => {
    const validate = validator(api2010, '/2010-04-01/Accounts/{Sid}.json', 'get', '200');
    expect(validate({ sid: 'AC123' })).toBe(false);
    const messageValidate = validator(
      api2010,
      '/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json',
      'get',
      '200',
    );
    expect(messageValidate({ num_segments: 1 })).toBe(false);
  });
  it('Content create, fetch, list, approval create and fetch, ContentAndApprovals list', async () => {
    const created = await restJson(fx, 'POST', '/v1/Content', {
      friendly_name: 'receipt',
      language: 'en',
      variables: { 1: 'name' },
      types: {
        'twilio/media': { body: 'Receipt for {{1}}', media: ['https://example.test/r.pdf'] },
        'twilio/text': { body: 'Receipt for {{1}}' },
      },
    });
    expect(created.status).toBe(201);
    expectValid(validator(contentV1, '/v1/Content', 'post', '201'), created.json);
    const sid = String(created.json.sid);

    const fetched = await rest(fx, 'GET', `/v1/Content/${sid}`);
    expectValid(validator(contentV1, '/v1/Content/{Sid}', 'get', '200'), fetched.json);
    const listed = await rest(fx, 'GET', '/v1/Content?PageSize=1');
    expectValid(validator(contentV1, '/v1/Content', 'get', '200'), listed.json);
    expect(listed.json.meta).toMatchObject({ key: 'contents', page_size: 1 });

    const approval = await restJson(fx, 'POST', `/v1/Content/${sid}/ApprovalRequests/whatsapp`, {
      name: 'receipt',
      category: 'UTILITY',
    });
    expect(approval.status).toBe(201);
    expectValid(
      validator(contentV1, '/v1/Content/{ContentSid}/ApprovalRequests/whatsapp', 'post', '201'),
      approval.json,
    );
    const approvalFetched = await rest(fx, 'GET', `/v1/Content/${sid}/ApprovalRequests`);
    expectValid(
      validator(contentV1, '/v1/Content/{Sid}/ApprovalRequests', 'get', '200'),
      approvalFetched.json,
    );
    expect(approvalFetched.json.whatsapp).toMatchObject({
      type: 'whatsapp',
      name: 'receipt',
      content_type: 'twilio/media',
    });
    const both = await rest(fx, 'GET', '/v1/ContentAndApprovals');
    expectValid(validator(contentV1, '/v1/ContentAndApprovals', 'get', '200'), both.json);

    const deleted = await fetch(`${fx.url}/v1/Content/${sid}`, {
      method: 'DELETE',
      headers: {
        Authorization: `Basic ${Buffer.from(`${fx.account.sid}:${fx.account.authToken}`).toString('base64')}`,
      },
    });
    expect(deleted.status).toBe(204);
    expect((await rest(fx, 'GET', `/v1/Content/${sid}`)).status).toBe(404);
  });

  it('Messaging Service ChannelSenders add, list, fetch and remove', async () => {
    await fx.addNumber('messenger:104000000000077', { kind: 'messenger' });
    await fx.addNumber('rcs:schema_agent', { kind: 'rcs' });
    const service = await rest(fx, 'POST', '/v1/Services', { FriendlyName: 'Channels' });
    const base = `/v1/Services/${service.json.sid}/ChannelSenders`;
    const senders = await control<{ sid: string; phoneNumber: string }[]>(
      fx.url,
      'GET',
      '/_emulator/numbers',
    );
    const xe = (address: string) =>
      `XE${senders.find((n) => n.phoneNumber === address)?.sid.slice(2)}`;
    for (const address of ['messenger:104000000000077', 'rcs:schema_agent']) {
      const added = await rest(fx, 'POST', base, { Sid: xe(address) });
      expect(added.status).toBe(201);
      expectValid(
        validator(messagingV1, '/v1/Services/{MessagingServiceSid}/ChannelSenders', 'post', '201'),
        added.json,
      );
    }
    const listed = await rest(fx, 'GET', base);
    expectValid(
      validator(messagingV1, '/v1/Services/{MessagingServiceSid}/ChannelSenders', 'get', '200'),
      listed.json,
    );
    expect(
      (listed.json.senders as { sender: string; sender_type: string }[]).map((x) => [
        x.sender,
        x.sender_type,
      ]),
    ).toEqual([
      ['messenger:104000000000077', 'Messenger'],
      ['rcs:schema_agent', 'RCS'],
    ]);
    const fetched = await rest(fx, 'GET', `${base}/${xe('rcs:schema_agent')}`);
    expectValid(
      validator(
        messagingV1,
        '/v1/Services/{MessagingServiceSid}/ChannelSenders/{Sid}',
        'get',
        '200',
      ),
      fetched.json,
    );
    const numbers = await rest(fx, 'GET', `/v1/Services/${service.json.sid}/PhoneNumbers`);
    expect(numbers.json.phone_numbers).toEqual([]);
    const removed = await fetch(`${fx.url}${base}/${xe('rcs:schema_agent')}`, {
      method: 'DELETE',
      headers: {
        Authorization: `Basic ${Buffer.from(`${fx.account.sid}:${fx.account.authToken}`).toString('base64')}`,
      },
    });
    expect(removed.status).toBe(204);
    expect((await rest(fx, 'GET', base)).json.senders).toHaveLength(1);
  });

  it('WhatsApp senders fetch', async () => {
    await fx.addNumber('whatsapp:+15558100009', { kind: 'whatsapp' });
    const list = await rest(fx, 'GET', '/v2/Channels/Senders?Channel=whatsapp');
    expect(list.status).toBe(200);
    const [sender] = list.json.senders as { sid: string }[];
    const fetched = await rest(fx, 'GET', `/v2/Channels/Senders/${sender?.sid}`);
    expectValid(validator(messagingV2, '/v2/Channels/Senders/{Sid}', 'get', '200'), fetched.json);
  });
});
