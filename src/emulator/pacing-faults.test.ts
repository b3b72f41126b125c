import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  type Fixture,
  type MessageView,
  startFixture,
  waitForMessage,
} from './test-support.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.close());

/** The most segments any sender put out in a 1-second window starting at one of its sends. */
function busiestSecond(sent: MessageView[]): number {
  const times = sent.map((m) => m.sentAtMs ?? Number.NaN).sort((a, b) => a - b);
  return Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
}

describe('pacing per sender', () => {
  it('never exceeds 1 segment/s on a long code nor 3/s on a toll-free number', async () => {
    await fx.addNumber('+15556100001', { kind: 'long-code' });
    await fx.addNumber('+18005550100', { kind: 'toll-free' });
    const created = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) =>
        fx.client.messages.create({ from: '+15556100001', to: '+15556000001', body: `long ${i}` }),
      ),
      ...Array.from({ length: 30 }, (_, i) =>
        fx.client.messages.create({ from: '+18005550100', to: '+15556000002', body: `free ${i}` }),
      ),
    ]);
    const done = await Promise.all(
      created.map((m) => waitForMessage(fx.url, m.sid, (v) => v.status === 'delivered', 20_000)),
    );
    const longCode = done.filter((m) => m.from === '+15556100001');
    const tollFree = done.filter((m) => m.from === '+18005550100');
    expect(longCode).toHaveLength(12);
    expect(tollFree).toHaveLength(30);
    expect(busiestSecond(longCode)).toBeLessThanOrEqual(1);
    expect(busiestSecond(tollFree)).toBeLessThanOrEqual(3);
    // …and pacing does not throttle below the rate either (generous slack for a loaded machine).
    const span = (ms: MessageView[]) =>
      Math.max(...ms.map((m) => m.sentAtMs ?? 0)) - Math.min(...ms.map((m) => m.sentAtMs ?? 0));
    expect(span(longCode)).toBeGreaterThanOrEqual(11_000);
    expect(span(longCode)).toBeLessThan(13_000);
    expect(span(tollFree)).toBeGreaterThanOrEqual(9_666);
    expect(span(tollFree)).toBeLessThan(11_700);
    // Messages leave in the order they were created.
    const longOrder = [...longCode]
      .sort((a, b) => (a.sentAtMs ?? 0) - (b.sentAtMs ?? 0))
      .map((m) => m.body);
    expect(longOrder).toEqual(Array.from({ length: 12 }, (_, i) => `long ${i}`));
    // date_sent is when the message left the queue, visible over REST too.
    const last = await fx.client.messages(created[11]?.sid ?? '').fetch();
    expect(
      Math.abs((last.dateSent?.getTime() ?? 0) - (longCode.at(-1)?.sentAtMs ?? 0)),
    ).toBeLessThan(1000);
  }, 30_000);

  it('a multi-segment message holds its sender for one second per segment', async () => {
    await fx.addNumber('+15556100002', { kind: 'long-code' });
    const long = await fx.client.messages.create({
      from: '+15556100002',
      to: '+15556000003',
      body: 'x'.repeat(200),
    });
    const next = await fx.client.messages.create({
      from: '+15556100002',
      to: '+15556000003',
      body: 'after',
    });
    expect(long.numSegments).toBe('2');
    const [a, b] = await Promise.all(
      [long, next].map((m) => waitForMessage(fx.url, m.sid, (v) => v.status === 'delivered')),
    );
    expect((b?.sentAtMs ?? 0) - (a?.sentAtMs ?? 0)).toBeGreaterThanOrEqual(2000);
  });

  it('answers 21611 once a sender has more queued than the bound, storing nothing', async () => {
    await control(fx.url, 'POST', '/_emulator/settings', { queueBoundSeconds: 2 });
    try {
      await fx.addNumber('+15556100003', { kind: 'long-code' });
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          fx.client.messages
            .create({ from: '+15556100003', to: '+15556000004', body: `b${i}` })
            .then((m) => m.sid)
            .catch((e: { status: number; code: number }) => `${e.status}/${e.code}`),
        ),
      );
      expect(outcomes.filter((o) => o.startsWith('SM'))).toHaveLength(3);
      expect(outcomes.filter((o) => o === '400/21611')).toHaveLength(3);
      const stored = await control<{ messages: MessageView[] }>(
        fx.url,
        'GET',
        '/_emulator/messages?from=%2B15556100003',
      );
      expect(stored.messages).toHaveLength(3);
    } finally {
      await control(fx.url, 'POST', '/_emulator/settings', { queueBoundSeconds: 36_000 });
    }
  });

  it('through a Messaging Service accepts every message and fails the overflow with 30001', async () => {
    await control(fx.url, 'POST', '/_emulator/settings', { queueBoundSeconds: 2 });
    try {
      const number = await fx.addNumber('+15556100004', { kind: 'long-code' });
      const service = await fx.client.messaging.v1.services.create({ friendlyName: 'Overflow' });
      await fx.client.messaging.v1
        .services(service.sid)
        .phoneNumbers.create({ phoneNumberSid: number.sid });
      const created = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          fx.client.messages.create({
            messagingServiceSid: service.sid,
            to: '+15556000005',
            body: `s${i}`,
          }),
        ),
      );
      expect(created.map((m) => m.status)).toEqual(Array(6).fill('accepted'));
      const failed = await Promise.all(
        created.slice(3).map((m) => waitForMessage(fx.url, m.sid, (v) => v.status === 'failed')),
      );
      expect(failed.map((m) => m.errorCode)).toEqual([30001, 30001, 30001]);
    } finally {
      await control(fx.url, 'POST', '/_emulator/settings', { queueBoundSeconds: 36_000 });
    }
  });
});

describe('fault switch', () => {
  const create = () =>
    fx.client.messages
      .create({ from: '+15556200001', to: '+15556000010', body: 'f' })
      .then((m) => m.sid)
      .catch((e: { status: number; code: number }) => `${e.status}/${e.code}`);

  beforeAll(async () => {
    await fx.addNumber('+15556200001', { kind: 'toll-free', mps: 100 });
  });

  it('answers 429 / 20429 for the next N creates, storing nothing, then succeeds', async () => {
    await control(fx.url, 'POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: '429',
      count: 2,
    });
    const before = (
      await control<{ messages: unknown[] }>(
        fx.url,
        'GET',
        '/_emulator/messages?from=%2B15556200001',
      )
    ).messages.length;
    expect(await create()).toBe('429/20429');
    expect(await create()).toBe('429/20429');
    expect(await create()).toMatch(/^SM/);
    const after = (
      await control<{ messages: unknown[] }>(
        fx.url,
        'GET',
        '/_emulator/messages?from=%2B15556200001',
      )
    ).messages.length;
    expect(after - before).toBe(1);
    const log = await control<{
      requests: { endpoint: string; status: number; errorCode: number | null }[];
    }>(fx.url, 'GET', '/_emulator/requests');
    expect(
      log.requests
        .filter((r) => r.endpoint === 'messages.create')
        .map((r) => r.status)
        .slice(-3),
    ).toEqual([429, 429, 201]);
  });

  it('answers 500 for a ratio of fetches and only on the named endpoint', async () => {
    const sid = await create();
    await control(fx.url, 'POST', '/_emulator/faults', {
      endpoint: 'messages.fetch',
      mode: '500',
      ratio: 0.5,
    });
    const results: string[] = [];
    for (let i = 0; i < 4; i++) {
      results.push(
        await fx.client
          .messages(sid)
          .fetch()
          .then(() => 'ok')
          .catch((e: { status: number; code: number }) => `${e.status}/${e.code}`),
      );
    }
    expect(results).toEqual(['ok', '500/20500', 'ok', '500/20500']);
    expect((await fx.client.api.v2010.accounts(fx.account.sid).fetch()).sid).toBe(fx.account.sid);
    await control(fx.url, 'DELETE', '/_emulator/faults');
    expect((await fx.client.messages(sid).fetch()).sid).toBe(sid);
  });

  it('creates and sends the message, then answers 500 or hangs up, under create-then-*', async () => {
    const to = '+15556000011';
    const sentTo = async () =>
      (
        (await control(fx.url, 'GET', `/_emulator/messages?to=${encodeURIComponent(to)}`)) as {
          messages: { body: string }[];
        }
      ).messages.map((m) => m.body);
    await control(fx.url, 'POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'create-then-500',
      count: 1,
    });
    const answered = await fx.client.messages
      .create({ from: '+15556200001', to, body: 'created, then 500' })
      .then(() => 'ok')
      .catch((e: { status: number; code: number }) => `${e.status}/${e.code}`);
    expect(answered).toBe('500/20500');
    await control(fx.url, 'POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'create-then-drop',
      count: 1,
    });
    const dropped = await fx.client.messages
      .create({ from: '+15556200001', to, body: 'created, then dropped' })
      .then(() => undefined)
      .catch((e: { status?: number; code?: string | number }) => e);
    expect(dropped).toBeDefined();
    expect(dropped?.status).toBeUndefined();
    expect((await sentTo()).sort()).toEqual(['created, then 500', 'created, then dropped']);
    expect(await create()).toMatch(/^SM/);
  });

  it('slows responses down by delayMs', async () => {
    await control(fx.url, 'POST', '/_emulator/faults', {
      endpoint: 'account.fetch',
      mode: 'slow',
      delayMs: 300,
      count: 1,
    });
    const t0 = Date.now();
    await fx.client.api.v2010.accounts(fx.account.sid).fetch();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    const t1 = Date.now();
    await fx.client.api.v2010.accounts(fx.account.sid).fetch();
    expect(Date.now() - t1).toBeLessThan(300);
  });

  it('rejects unknown fault endpoints', async () => {
    await expect(
      control(fx.url, 'POST', '/_emulator/faults', { endpoint: 'calls.create', mode: '500' }),
    ).rejects.toThrow(/400/);
  });
});
