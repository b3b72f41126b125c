import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  control,
  type Fixture,
  handsetSends,
  type InboxMessage,
  type Receiver,
  startFixture,
  startReceiver,
  waitForMessage,
} from './test-support.js';

let fx: Fixture;
let hook: Receiver;
beforeAll(async () => {
  fx = await startFixture();
  hook = await startReceiver();
  await fx.addNumber('+15554100001', { mps: 100, smsUrl: `${hook.url}/sms` });
});
afterAll(async () => {
  await hook.close();
  await fx.close();
});

describe('control API', () => {
  it('long-polls a handset inbox until a message arrives', async () => {
    const poll = control<{ messages: InboxMessage[]; cursor: number }>(
      fx.url,
      'GET',
      `/_emulator/handsets/${encodeURIComponent('+15554000001')}/inbox?wait=10000`,
    );
    const sent = await fx.client.messages.create({
      from: '+15554100001',
      to: '+15554000001',
      body: 'ping',
    });
    const page = await poll;
    expect(page.messages.map((m) => m.sid)).toEqual([sent.sid]);
    expect(page.cursor).toBe(page.messages[0]?.id);
    const empty = await control<{ messages: InboxMessage[] }>(
      fx.url,
      'GET',
      `/_emulator/handsets/${encodeURIComponent('+15554000001')}/inbox?after=${page.cursor}&wait=20`,
    );
    expect(empty.messages).toEqual([]);
  });

  it('streams handset messages and status changes as server-sent events', async () => {
    const abort = new AbortController();
    const res = await fetch(`${fx.url}/_emulator/events`, { signal: abort.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body?.getReader();
    if (!reader) throw new Error('no stream');
    const decoder = new TextDecoder();
    let buffer = '';
    const nextEvent = async (type: string, match: (data: Record<string, unknown>) => boolean) => {
      for (;;) {
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const lines = block.split('\n');
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
          const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
          if (event === type && data) {
            const parsed = JSON.parse(data) as Record<string, unknown>;
            if (match(parsed)) return parsed;
          }
        }
        const chunk = await reader.read();
        if (chunk.done) throw new Error('stream ended');
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    };
    const sent = await handsetSends(fx.url, '+15554000002', {
      to: '+15554100001',
      body: 'live?',
      media: [{ contentType: 'image/png', base64: Buffer.from('px').toString('base64') }],
    });
    const handsetEvent = await nextEvent('handset', (d) => d.sid === sent.sid);
    expect(handsetEvent).toMatchObject({
      direction: 'from-handset',
      body: 'live?',
      business: '+15554100001',
    });
    const media = (handsetEvent.media as { url: string }[])[0];
    expect(await fetch(media?.url ?? '').then((r) => r.text())).toBe('px');

    const out = await fx.client.messages.create({
      from: '+15554100001',
      to: '+15554000002',
      body: 'yes',
    });
    const delivered = await nextEvent(
      'message',
      (d) => d.sid === out.sid && d.status === 'delivered',
    );
    expect(delivered.from).toBe('+15554100001');
    abort.abort();
    await reader.cancel().catch(() => undefined);
  });

  it('makes a handset unreachable: undelivered with the error code in the callback', async () => {
    await control(
      fx.url,
      'POST',
      `/_emulator/handsets/${encodeURIComponent('+15554000003')}/settings`,
      {
        deliveryErrorCode: 30003,
      },
    );
    const m = await fx.client.messages.create({
      from: '+15554100001',
      to: '+15554000003',
      body: 'lost',
      statusCallback: `${hook.url}/status`,
    });
    const done = await waitForMessage(fx.url, m.sid, (v) => v.status === 'undelivered');
    expect(done.errorCode).toBe(30003);
    const [cb] = await hook.waitFor(
      (r) => r.params.MessageSid === m.sid && r.params.MessageStatus === 'undelivered',
    );
    expect(cb?.params.ErrorCode).toBe('30003');
    expect((await fx.client.messages(m.sid).fetch()).errorCode).toBe(30003);
  });

  it('reset clears traffic and opt-outs but keeps accounts and numbers', async () => {
    await handsetSends(fx.url, '+15554000004', { to: '+15554100001', body: 'STOP' });
    await expect(
      fx.client.messages.create({ from: '+15554100001', to: '+15554000004', body: 'x' }),
    ).rejects.toMatchObject({ code: 21610 });
    await control(fx.url, 'POST', '/_emulator/reset', {});
    expect(
      (await control<{ messages: unknown[] }>(fx.url, 'GET', '/_emulator/messages')).messages,
    ).toEqual([]);
    expect(await fx.client.messages.list()).toEqual([]);
    const ok = await fx.client.messages.create({
      from: '+15554100001',
      to: '+15554000004',
      body: 'x',
    });
    expect(ok.status).toBe('queued');
    const numbers = await control<{ phoneNumber: string }[]>(fx.url, 'GET', '/_emulator/numbers');
    expect(numbers.map((n) => n.phoneNumber)).toContain('+15554100001');
  });

  it('serves the phone page', async () => {
    for (const path of ['/', '/phone']) {
      const res = await fetch(`${fx.url}${path}`);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toContain("EventSource('/_emulator/events')");
      expect(html).toContain('<label for="handset" id="handset-label">');
      expect(html).toContain('<option value="messenger">');
    }
  });
});
