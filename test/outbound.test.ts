import { randomBytes } from 'node:crypto';
import { eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../src/auth/sessions.js';
import { createUser } from '../src/auth/users.js';
import { conversations, messages } from '../src/db/schema.js';
import { phoneNumber, shortCodeNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start({ OUTBOX_RETRY_BASE_MS: '50' });
});
afterAll(() => stack?.close());

async function agent() {
  const name = `agent-${randomBytes(3).toString('hex')}`;
  const user = await createUser(stack.db, {
    email: `${name}@example.com`,
    name,
    role: 'agent',
    password: 'correct horse battery',
  });
  const { token } = await createSession(stack.db, user.id, 'api-token');
  return {
    user,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  };
}

function api(path: string, headers: Record<string, string>, body?: unknown) {
  return fetch(`${stack.parley.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function messageStatus(id: string) {
  const [row] = await stack.db.select().from(messages).where(eq(messages.id, id));
  return row!;
}

describe('origination assign-now', () => {
  it('texts the handset and opens the conversation active for the agent', async () => {
    const { number } = await stack.addNumber();
    const me = await agent();
    const handset = phoneNumber();
    const response = await api('/api/originations', me.headers, {
      to: handset,
      numberId: number.id,
      body: 'Hi, this is Acme about your order',
      strategy: 'assign-now',
    });
    expect(response.status).toBe(202);
    const { conversationId, message } = (await response.json()) as {
      conversationId: string;
      message: { id: string; status: string };
    };
    expect(message.status).toBe('queued');
    await stack.received(handset, 'Hi, this is Acme about your order');
    const [conversation] = await stack.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, conversationId));
    expect(conversation).toMatchObject({ state: 'active', agentId: me.user.id, origin: 'agent' });
    // Status callbacks carry the message to delivered.
    await eventually(async () => (await messageStatus(message.id)).status === 'delivered');

    // The customer's answer joins the same conversation, pinned to the agent.
    await stack.text(handset, number.address, 'Thanks!');
    const [reply] = await stack.db.select().from(messages).where(eq(messages.fromAddress, handset));
    expect(reply?.conversationId).toBe(conversationId);
  });

  it('answers 400 naming the field for a number that is not a phone number', async () => {
    const { number } = await stack.addNumber();
    const me = await agent();
    const response = await api('/api/originations', me.headers, {
      to: '12',
      numberId: number.id,
      body: 'x',
      strategy: 'assign-now',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ field: 'to' });
    const national = await api('/api/originations', me.headers, {
      to: '(555) 010-4477',
      defaultCountry: 'US',
      numberId: number.id,
      body: 'national format works',
      strategy: 'assign-now',
    });
    expect(national.status).toBe(202);
    await stack.received('+15550104477', 'national format works');
  });
});

describe('sending through Twilio', () => {
  it('retries 429 answers and delivers the message once', async () => {
    const { number } = await stack.addNumber();
    const me = await agent();
    const handset = phoneNumber();
    await stack.control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: '429',
      count: 5,
    });
    const response = await api('/api/originations', me.headers, {
      to: handset,
      numberId: number.id,
      body: 'after five 429s',
      strategy: 'assign-now',
    });
    const { message } = (await response.json()) as { message: { id: string } };
    await stack.received(handset, 'after five 429s');
    const delivered = await eventually(async () => {
      const row = await messageStatus(message.id);
      return row.status === 'delivered' ? row : undefined;
    });
    expect(delivered.twilioSid).toMatch(/^SM/);
    const all = (await stack.control(
      'GET',
      `/_emulator/messages?to=${encodeURIComponent(handset)}`,
    )) as {
      messages: { body: string }[];
    };
    expect(all.messages.filter((m) => m.body === 'after five 429s')).toHaveLength(1);
    await stack.control('DELETE', '/_emulator/faults');
  });

  it('sends each message once when Twilio created it but answered 500 or hung up', async () => {
    const shortCode = await stack.addNumber({
      kind: 'short-code',
      address: shortCodeNumber(),
    });
    await stack.control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'create-then-500',
      ratio: 0.1,
    });
    await stack.control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'create-then-drop',
      count: 3,
    });
    try {
      await stack.fillOutbox(
        Array.from({ length: 40 }, () => shortCode.number),
        'ambiguous',
      );
      // Parley settles each message with the SID Twilio created for it…
      const stored = await eventually(async () => {
        const rows = await stack.db
          .select({ sid: messages.twilioSid, status: messages.status })
          .from(messages)
          .where(like(messages.body, 'ambiguous %'));
        return rows.length === 40 && rows.every((row) => row.sid !== null) ? rows : undefined;
      }, 30_000);
      // …and Twilio holds every body once.
      const all = (await stack.control('GET', '/_emulator/messages')) as {
        messages: { sid: string; body: string }[];
      };
      const created = all.messages.filter((m) => m.body.startsWith('ambiguous '));
      expect(created).toHaveLength(40);
      expect(new Set(created.map((m) => m.body)).size).toBe(40);
      expect(new Set(stored.map((row) => row.sid))).toEqual(new Set(created.map((m) => m.sid)));
      expect(stored.filter((row) => row.status === 'failed')).toEqual([]);
      const faults = (await stack.control('GET', '/_emulator/faults')) as {
        faults: { mode: string; applied: number }[];
      };
      expect(faults.faults.find((f) => f.mode === 'create-then-500')?.applied).toBeGreaterThan(0);
    } finally {
      await stack.control('DELETE', '/_emulator/faults');
    }
  });

  it('fails a 21610 at once, without retrying, with the reason, and learns the opt-out', async () => {
    const { number } = await stack.addNumber();
    const me = await agent();
    const before = (await stack.control('GET', '/_emulator/requests')) as { requests: unknown[] };
    const response = await api('/api/originations', me.headers, {
      to: '+15005550004',
      numberId: number.id,
      body: 'to an unsubscribed handset',
      strategy: 'assign-now',
    });
    const { message } = (await response.json()) as { message: { id: string } };
    const failed = await eventually(async () => {
      const row = await messageStatus(message.id);
      return row.status === 'failed' ? row : undefined;
    });
    expect(failed.errorCode).toBe(21610);
    expect(failed.errorMessage).toBe('The recipient has opted out (replied STOP)');
    const after = (await stack.control('GET', '/_emulator/requests')) as {
      requests: { endpoint: string; errorCode?: number }[];
    };
    const creates = after.requests
      .slice(before.requests.length)
      .filter((r) => r.endpoint === 'messages.create');
    expect(creates).toHaveLength(1);
    // The opt-out Twilio reported is Parley's too: the next text is refused before Twilio.
    const again = await api('/api/originations', me.headers, {
      to: '+15005550004',
      numberId: number.id,
      body: 'once more',
      strategy: 'assign-now',
    });
    expect(again.status).toBe(409);
  });

  it('refuses to text a customer who opted out, at the API, and says so', async () => {
    const { number } = await stack.addNumber();
    const me = await agent();
    const handset = phoneNumber();
    await stack.text(handset, number.address, 'STOP');
    const response = await api('/api/originations', me.headers, {
      to: handset,
      numberId: number.id,
      body: 'please come back',
      strategy: 'assign-now',
    });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { message: string }).message).toMatch(/opted out/);
  });

  it('sends an agent reply with a picture, which the handset receives', async () => {
    const { number } = await stack.addNumber();
    const me = await agent();
    const handset = phoneNumber();
    const started = await api('/api/originations', me.headers, {
      to: handset,
      numberId: number.id,
      body: 'Hello',
      strategy: 'assign-now',
    });
    const { conversationId } = (await started.json()) as { conversationId: string };
    const picture = randomBytes(200);
    const upload = await fetch(`${stack.parley.url}/api/uploads`, {
      method: 'POST',
      headers: { authorization: me.headers.authorization, 'content-type': 'image/png' },
      body: picture,
    });
    expect(upload.status).toBe(201);
    const { token } = (await upload.json()) as { token: string };
    const sent = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      body: 'Here is your receipt',
      attachments: [token],
    });
    expect(sent.status).toBe(202);
    const received = await stack.received(handset, 'Here is your receipt');
    expect(received.media).toHaveLength(1);
    const bytes = Buffer.from(
      await (await fetch(new URL(received.media[0]!.url, stack.emulator.url))).arrayBuffer(),
    );
    expect(bytes).toEqual(picture);
  });

  it("refuses another agent's conversation and a forged attachment token", async () => {
    const { number } = await stack.addNumber();
    const owner = await agent();
    const other = await agent();
    const started = await api('/api/originations', owner.headers, {
      to: phoneNumber(),
      numberId: number.id,
      body: 'Mine',
      strategy: 'assign-now',
    });
    const { conversationId } = (await started.json()) as { conversationId: string };
    expect((await api(`/api/conversations/${conversationId}`, other.headers)).status).toBe(404);
    expect(
      (await api(`/api/conversations/${conversationId}/messages`, other.headers, { body: 'x' }))
        .status,
    ).toBe(404);
    const forged = await api(`/api/conversations/${conversationId}/messages`, owner.headers, {
      body: 'x',
      attachments: [`${'a'.repeat(64)}.aW1hZ2UvcG5n.10.forged`],
    });
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ field: 'attachments' });
  });

  it('counts segments for the composer', async () => {
    const me = await agent();
    const response = await api('/api/segments', me.headers, { text: 'ç'.repeat(71) });
    expect(await response.json()).toMatchObject({ encoding: 'UCS-2', segments: 2 });
  });
});
