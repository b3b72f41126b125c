import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAccountCredentials } from '../src/admin/accounts.js';
import { signIn } from './helpers/app.js';
import { phoneNumber } from './helpers/factories.js';
import { Stack } from './helpers/stack.js';

let stack: Stack;
let admin: Record<string, string>;
beforeAll(async () => {
  stack = await Stack.start();
  admin = {
    ...(await signIn(stack.parley.store, 'admin')).headers,
    'content-type': 'application/json',
  };
});
afterAll(() => stack?.close());

function api(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  return fetch(`${stack.parley.url}${path}`, {
    method,
    headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

describe('who may configure', () => {
  it('admits admins only: 401 signed out, 403 for agents and supervisors', async () => {
    const agent = (await signIn(stack.parley.store, 'agent')).headers;
    const supervisor = (await signIn(stack.parley.store, 'supervisor')).headers;
    for (const path of [
      '/api/admin/accounts',
      '/api/admin/numbers',
      '/api/admin/flows',
      '/api/admin/queues',
      '/api/admin/agents',
    ]) {
      expect((await api('GET', path, {})).status).toBe(401);
      expect((await api('GET', path, agent)).status).toBe(403);
      expect((await api('GET', path, supervisor)).status).toBe(403);
      expect((await api('GET', path, admin)).status).toBe(200);
    }
    const created = await api(
      'POST',
      '/api/admin/flows',
      { ...supervisor, 'content-type': 'application/json' },
      { name: 'x' },
    );
    expect(created.status).toBe(403);
  });
});

describe('accounts', () => {
  it('checks credentials against Twilio and never returns the token', async () => {
    const twilio = (await stack.control('POST', '/_emulator/accounts', {})) as {
      sid: string;
      authToken: string;
    };
    const refused = await api('POST', '/api/admin/accounts', admin, {
      name: 'Wrong',
      accountSid: twilio.sid,
      authToken: 'f'.repeat(32),
    });
    expect(refused.status).toBe(422);
    const created = await api('POST', '/api/admin/accounts', admin, {
      name: 'Right',
      accountSid: twilio.sid,
      authToken: twilio.authToken,
    });
    expect(created.status).toBe(201);
    const text = await created.text();
    expect(text).not.toContain(twilio.authToken);
    const listed = await (await api('GET', '/api/admin/accounts', admin)).text();
    expect(listed).toContain(twilio.sid);
    expect(listed).not.toContain(twilio.authToken);
  });
});

describe('account credentials', () => {
  it('rotates the Auth Token only to one Twilio accepts, and renames without asking Twilio', async () => {
    const twilio = (await stack.control('POST', '/_emulator/accounts', {})) as {
      sid: string;
      authToken: string;
    };
    const created = await api('POST', '/api/admin/accounts', admin, {
      name: 'Rotating',
      accountSid: twilio.sid,
      authToken: twilio.authToken,
    });
    const { id } = (await created.json()) as { id: string };
    const stored = () =>
      getAccountCredentials(stack.db, stack.parley.secretBox, id).then((c) => c.authToken);

    const refused = await api('PATCH', `/api/admin/accounts/${id}`, admin, {
      authToken: 'e'.repeat(32),
    });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ field: 'authToken' });
    expect(await stored()).toBe(twilio.authToken);

    // The token is rotated in Twilio's console, then in Parley.
    const rotated = 'a'.repeat(32);
    await stack.control('POST', '/_emulator/accounts', { sid: twilio.sid, authToken: rotated });
    const accepted = await api('PATCH', `/api/admin/accounts/${id}`, admin, {
      authToken: rotated,
    });
    expect(accepted.status).toBe(200);
    expect(await accepted.text()).not.toContain(rotated);
    expect(await stored()).toBe(rotated);

    const renamed = await api('PATCH', `/api/admin/accounts/${id}`, admin, { name: 'Renamed' });
    expect(await renamed.json()).toMatchObject({ id, name: 'Renamed', accountSid: twilio.sid });
    const unchanged = await api('PATCH', `/api/admin/accounts/${id}`, admin, {});
    expect(await unchanged.json()).toMatchObject({ name: 'Renamed' });

    const halfKey = await api('PATCH', `/api/admin/accounts/${id}`, admin, {
      apiKeySid: `SK${'1'.repeat(32)}`,
    });
    expect(halfKey.status).toBe(400);
    expect(await halfKey.json()).toMatchObject({ field: 'apiKeySecret' });
  });
});

describe('numbers', () => {
  it('validates the address, shows the URLs for Twilio, and sets them on the Twilio number', async () => {
    const bad = await api('POST', '/api/admin/numbers', admin, {
      accountId: stack.account.id,
      address: 'call me',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'address' });

    const address = phoneNumber();
    await stack.control('POST', '/_emulator/numbers', {
      accountSid: stack.twilio.sid,
      phoneNumber: address,
    });
    const created = await api('POST', '/api/admin/numbers', admin, {
      accountId: stack.account.id,
      address,
    });
    expect(created.status).toBe(201);
    const number = (await created.json()) as {
      id: string;
      kind: string;
      webhookUrl: string;
      effectiveSendRate: number;
    };
    expect(number).toMatchObject({
      kind: 'long-code',
      effectiveSendRate: 1,
      webhookUrl: `${stack.config.publicUrl}/webhooks/twilio/messages`,
    });
    const whatsappAddress = `whatsapp:${phoneNumber()}`;
    await stack.control('POST', '/_emulator/numbers', {
      accountSid: stack.twilio.sid,
      phoneNumber: whatsappAddress,
      kind: 'whatsapp',
    });
    const whatsapp = await api('POST', '/api/admin/numbers', admin, {
      accountId: stack.account.id,
      address: whatsappAddress,
    });
    const whatsappNumber = (await whatsapp.json()) as { id: string };
    expect(whatsappNumber).toMatchObject({ kind: 'whatsapp', effectiveSendRate: 80 });

    const configured = await api(
      'POST',
      `/api/admin/numbers/${number.id}/configure-twilio`,
      admin,
      {},
    );
    expect(configured.status).toBe(200);
    const numbers = (await stack.control('GET', '/_emulator/numbers')) as {
      numbers: { phoneNumber?: string; phone_number?: string; smsUrl?: string; sms_url?: string }[];
    };
    const onTwilio = JSON.stringify(numbers).includes(
      `${stack.config.publicUrl}/webhooks/twilio/messages`,
    );
    expect(onTwilio).toBe(true);

    // A WhatsApp sender is configured on the sender (Senders API), where Twilio reads it.
    const sender = await api(
      'POST',
      `/api/admin/numbers/${whatsappNumber.id}/configure-twilio`,
      admin,
      {},
    );
    expect(await sender.json()).toMatchObject({
      configured: 'whatsapp-sender',
      sid: expect.stringMatching(/^XE/),
    });
    const afterSender = (await stack.control('GET', '/_emulator/numbers')) as {
      phoneNumber: string;
      smsUrl: string;
    }[];
    expect(afterSender.find((n) => n.phoneNumber === whatsappAddress)?.smsUrl).toBe(
      `${stack.config.publicUrl}/webhooks/twilio/messages`,
    );
  });

  it('adds a Messenger page, sets its webhooks through its Messaging Service only', async () => {
    const pageAddress = `messenger:${Date.now()}${Math.floor(Math.random() * 1000)}`;
    const created = await api('POST', '/api/admin/numbers', admin, {
      accountId: stack.account.id,
      address: ` Messenger:${pageAddress.slice('messenger:'.length)} `,
    });
    expect(created.status).toBe(201);
    const page = (await created.json()) as { id: string };
    expect(page).toMatchObject({ address: pageAddress, kind: 'messenger', effectiveSendRate: 80 });

    // A page is not a phone number, and a phone number is not a page.
    const asLongCode = await api('PATCH', `/api/admin/numbers/${page.id}`, admin, {
      kind: 'long-code',
    });
    expect(asLongCode.status).toBe(400);
    expect(await asLongCode.json()).toMatchObject({ field: 'kind' });
    const phoneAsPage = await api('POST', '/api/admin/numbers', admin, {
      accountId: stack.account.id,
      address: phoneNumber(),
      kind: 'messenger',
    });
    expect(phoneAsPage.status).toBe(400);
    expect(await phoneAsPage.json()).toMatchObject({ field: 'kind' });

    // Twilio keeps a page's own callback URL in its Console: Parley says so.
    const alone = await api('POST', `/api/admin/numbers/${page.id}/configure-twilio`, admin, {});
    expect(alone.status).toBe(422);
    expect(((await alone.json()) as { message: string }).message).toMatch(/Console/);

    // In a Messaging Service, the service's webhooks are set.
    const service = (await stack.control('POST', '/_emulator/services', {
      accountSid: stack.twilio.sid,
      useInboundWebhookOnNumber: true,
    })) as { sid: string };
    await api('PATCH', `/api/admin/numbers/${page.id}`, admin, {
      messagingServiceSid: service.sid,
    });
    const viaService = await api(
      'POST',
      `/api/admin/numbers/${page.id}/configure-twilio`,
      admin,
      {},
    );
    expect(viaService.status).toBe(200);
    expect(await viaService.json()).toMatchObject({
      configured: 'messaging-service',
      sid: service.sid,
    });
  });
});

describe('flows and queues', () => {
  it('keeps a flow with hours and holidays, and refuses a bad time zone naming the field', async () => {
    const bad = await api('POST', '/api/admin/flows', admin, { name: 'x', timeZone: 'Mars/Base' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'timeZone' });
    // Every problem at once, each a sentence naming its field, for the form to mark them all.
    const twice = await api('POST', '/api/admin/flows', admin, {
      name: '',
      botRetries: 99,
      hours: [{ weekday: 1, opensAt: '18:00', closesAt: '09:00' }],
    });
    expect(twice.status).toBe(400);
    expect(((await twice.json()) as { errors: unknown[] }).errors).toEqual([
      { field: 'name', message: 'Name must not be empty.' },
      { field: 'botRetries', message: 'Bot retries must be at most 10.' },
      { field: 'hours.0', message: 'Hours, row 1: an interval must open before it closes.' },
    ]);

    const queue = (await (
      await api('POST', '/api/admin/queues', admin, { name: 'Support', strategy: 'round-robin' })
    ).json()) as { id: string };
    const created = await api('POST', '/api/admin/flows', admin, {
      name: 'Weekdays',
      timeZone: 'Europe/Paris',
      queueId: queue.id,
      initialMessage: 'Hello from {businessName}',
      hours: [{ weekday: 1, opensAt: '09:00', closesAt: '17:30' }],
      holidays: [{ day: '2026-12-25', name: 'Christmas' }],
    });
    expect(created.status).toBe(201);
    const flow = (await created.json()) as { id: string };
    const patched = await api('PATCH', `/api/admin/flows/${flow.id}`, admin, {
      hours: [
        { weekday: 1, opensAt: '08:00', closesAt: '12:00' },
        { weekday: 2, opensAt: '08:00', closesAt: '12:00' },
      ],
    });
    expect(await patched.json()).toMatchObject({
      queueId: queue.id,
      hours: [
        { weekday: 1, opensAt: '08:00', closesAt: '12:00' },
        { weekday: 2, opensAt: '08:00', closesAt: '12:00' },
      ],
      holidays: [{ day: '2026-12-25', name: 'Christmas' }],
      // Hours without an out-of-hours message: saved, and said.
      warnings: [expect.stringMatching(/^Out of hours, customers get no answer/)],
    });

    const fixed = await api('PATCH', `/api/admin/flows/${flow.id}`, admin, {
      outOfHoursMessage: 'We are closed; we will answer at 8.',
    });
    expect(await fixed.json()).toMatchObject({ warnings: [] });
    const silentClose = await api('PATCH', `/api/admin/flows/${flow.id}`, admin, {
      outOfHoursMessage: null,
      outOfHoursAction: 'close',
      queueId: null,
    });
    expect(((await silentClose.json()) as { warnings: string[] }).warnings).toEqual([
      expect.stringMatching(/^Out of hours, conversations close without a word/),
      expect.stringMatching(/no target queue/),
    ]);
  });

  it('adds agents with capacity and puts them in a queue', async () => {
    const agent = await api('POST', '/api/admin/agents', admin, {
      email: `ana-${Date.now()}@example.com`,
      name: 'Ana',
      role: 'agent',
      password: 'correct horse battery',
      capacitySms: 5,
      capacityMessenger: 0,
      languages: ['en', 'es'],
    });
    expect(agent.status).toBe(201);
    const { id } = (await agent.json()) as { id: string };
    const queue = await api('POST', '/api/admin/queues', admin, {
      name: 'Spanish',
      language: 'es',
      memberIds: [id],
    });
    expect(await queue.json()).toMatchObject({ language: 'es', memberIds: [id] });
    const listed = await (await api('GET', '/api/admin/agents', admin)).text();
    expect(listed).toContain('"capacitySms":5');
    expect(listed).toContain('"capacityMessenger":0');
    expect(listed).not.toContain('password');
  });

  it('overflows only into another queue that exists, naming the field otherwise', async () => {
    const unknown = await api('POST', '/api/admin/queues', admin, {
      name: 'Nowhere',
      overflowQueueId: '00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ field: 'overflowQueueId' });

    const { id } = (await (
      await api('POST', '/api/admin/queues', admin, { name: 'Loop' })
    ).json()) as { id: string };
    const itself = await api('PATCH', `/api/admin/queues/${id}`, admin, { overflowQueueId: id });
    expect(itself.status).toBe(400);
    expect(await itself.json()).toMatchObject({ field: 'overflowQueueId' });

    const other = (await (
      await api('POST', '/api/admin/queues', admin, { name: 'Overflow' })
    ).json()) as { id: string };
    const ok = await api('PATCH', `/api/admin/queues/${id}`, admin, { overflowQueueId: other.id });
    expect(await ok.json()).toMatchObject({ overflowQueueId: other.id });
  });
});
