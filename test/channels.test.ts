import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateNumber } from '../src/admin/numbers.js';
import { createQueue } from '../src/admin/queues.js';
import { createSession } from '../src/auth/sessions.js';
import { createUser } from '../src/auth/users.js';
import {
  contacts,
  contentTemplates,
  conversations,
  events,
  messages,
  offers,
  users,
} from '../src/db/schema.js';
import { closeConversation } from '../src/flows/closing.js';
import { setPresence } from '../src/routing/presence.js';
import { phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.close());

const sid = () => `HX${randomBytes(16).toString('hex')}`;

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

/** A template of the stack's account, as a sync from Twilio would have stored it. */
async function template(body: string, whatsappStatus = 'approved') {
  const [row] = await stack.db
    .insert(contentTemplates)
    .values({
      accountId: stack.account.id,
      sid: sid(),
      friendlyName: `template-${randomBytes(3).toString('hex')}`,
      language: 'en',
      body,
      variables: { 1: 'Customer' },
      types: ['twilio/text'],
      whatsappStatus,
    })
    .returning();
  return row!;
}

/**
 * A WhatsApp customer who wrote in, their conversation active with a new agent. The
 * customer's messages are moved `hoursAgo` into the past, as if they had written then.
 */
async function whatsappConversation(options: { flow?: { finalMessage: string } } = {}) {
  const { number } = await stack.addNumber({
    address: `whatsapp:${phoneNumber()}`,
    kind: 'whatsapp',
    ...(options.flow && { flow: { name: 'WhatsApp flow', ...options.flow } }),
  });
  const customer = `whatsapp:${phoneNumber()}`;
  await stack.text(customer, number.address, 'Hello?');
  const [conversation] = await stack.db
    .select()
    .from(conversations)
    .where(eq(conversations.customerAddress, customer));
  const me = await agent();
  await stack.db
    .update(conversations)
    .set({ state: 'active', agentId: me.user.id })
    .where(eq(conversations.id, conversation!.id));
  const wroteAgo = (hours: number) =>
    stack.db
      .update(messages)
      .set({ createdAt: sql`now() - make_interval(hours => ${hours})` })
      .where(and(eq(messages.conversationId, conversation!.id), eq(messages.direction, 'inbound')));
  return { number, customer, conversationId: conversation!.id, me, wroteAgo };
}

async function outboundOf(conversationId: string) {
  return stack.db
    .select()
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.direction, 'outbound')));
}

describe('the WhatsApp customer-service window', () => {
  it('is open for 24 hours after the customer wrote, and says when it closes', async () => {
    const { conversationId, me, wroteAgo } = await whatsappConversation();
    await wroteAgo(23);
    const open = (await (await api(`/api/conversations/${conversationId}`, me.headers)).json()) as {
      conversation: { serviceWindow: { open: boolean; closesAt: string; channel: string } };
    };
    expect(open.conversation.serviceWindow).toMatchObject({ open: true, channel: 'whatsapp' });
    const left = Date.parse(open.conversation.serviceWindow.closesAt) - Date.now();
    expect(left).toBeGreaterThan(59 * 60_000);
    expect(left).toBeLessThan(61 * 60_000);

    await wroteAgo(25);
    const closed = (await (
      await api(`/api/conversations/${conversationId}`, me.headers)
    ).json()) as { conversation: { serviceWindow: { open: boolean; templatesAllowed: boolean } } };
    expect(closed.conversation.serviceWindow).toMatchObject({
      open: false,
      templatesAllowed: true,
    });
  });

  it('refuses free text after 24 hours with a 409 and queues nothing', async () => {
    const { conversationId, me, wroteAgo } = await whatsappConversation();
    await wroteAgo(25);
    const response = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      body: 'Are you still there?',
    });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({
      error: 'conflict',
      field: 'body',
      message: expect.stringContaining('only an approved template'),
    });
    expect(await outboundOf(conversationId)).toEqual([]);
  });

  it('refuses unknown and unapproved templates and missing values with a 400 naming them', async () => {
    const { conversationId, me, wroteAgo } = await whatsappConversation();
    await wroteAgo(25);
    const send = (template: unknown) =>
      api(`/api/conversations/${conversationId}/messages`, me.headers, { template });

    const unknown = await send({ contentSid: sid(), variables: {} });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ field: 'template.contentSid' });

    const pending = await template('Hi {{1}}, we have news', 'pending');
    const unapproved = await send({ contentSid: pending.sid, variables: { 1: 'Ann' } });
    expect(unapproved.status).toBe(400);
    expect(await unapproved.json()).toMatchObject({
      field: 'template.contentSid',
      message: expect.stringContaining('not approved for WhatsApp'),
    });

    const approved = await template('Hi {{1}}, your order {{2}} is ready');
    const missing = await send({ contentSid: approved.sid, variables: { 1: 'Ann' } });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ field: 'template.variables.2' });

    const stray = await send({
      contentSid: approved.sid,
      variables: { 1: 'Ann', 2: 'A1', 3: 'x' },
    });
    expect(stray.status).toBe(400);
    expect(await stray.json()).toMatchObject({ field: 'template.variables.3' });

    const multiline = await send({ contentSid: approved.sid, variables: { 1: 'Ann\nB', 2: 'A1' } });
    expect(multiline.status).toBe(400);
    expect(await multiline.json()).toMatchObject({ field: 'template.variables.1' });

    // A placeholder Twilio declares outside the text (a media path, a button's URL) too.
    const [linked] = await stack.db
      .insert(contentTemplates)
      .values({
        accountId: stack.account.id,
        sid: sid(),
        friendlyName: 'track_order',
        language: 'en',
        body: 'Track order {{1}} with the button below',
        variables: { 1: 'A-0', 2: 'orders/A-0' },
        types: ['twilio/call-to-action'],
        whatsappStatus: 'approved',
      })
      .returning();
    const withoutUrl = await send({ contentSid: linked!.sid, variables: { 1: 'A-1' } });
    expect(withoutUrl.status).toBe(400);
    expect(await withoutUrl.json()).toMatchObject({ field: 'template.variables.2' });

    const withText = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      body: 'and some text',
      template: { contentSid: approved.sid, variables: { 1: 'Ann', 2: 'A1' } },
    });
    expect(withText.status).toBe(400);
    expect(await outboundOf(conversationId)).toEqual([]);
  });

  it('queues an approved template as its ContentSid and values, with its text as the body', async () => {
    const { conversationId, me, wroteAgo } = await whatsappConversation();
    await wroteAgo(25);
    const approved = await template('Hi {{1}}, this is {{2}} from Acme');
    const response = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      template: {
        contentSid: approved.sid,
        variables: { 1: 'Ann', 2: '{{agentName}}' },
      },
    });
    expect(response.status).toBe(202);
    const [message] = await outboundOf(conversationId);
    expect(message).toMatchObject({
      contentSid: approved.sid,
      contentVariables: { 1: 'Ann', 2: me.user.name },
      body: `Hi Ann, this is ${me.user.name} from Acme`,
    });
  });

  it('lists for the agent only approved templates, within the queue’s picks', async () => {
    const { number, conversationId, me } = await whatsappConversation();
    const approved = await template('Approved {{1}}');
    const pending = await template('Pending {{1}}', 'pending');
    const list = async () =>
      (
        (await (
          await api(
            `/api/content-templates?numberId=${number.id}&conversationId=${conversationId}`,
            me.headers,
          )
        ).json()) as { sid: string }[]
      ).map((t) => t.sid);
    const sids = await list();
    expect(sids).toContain(approved.sid);
    expect(sids).not.toContain(pending.sid);

    const picked = await template('Picked {{1}}');
    const queue = await createQueue(stack.db, { name: 'Picky', contentSids: [picked.sid] });
    await stack.db
      .update(conversations)
      .set({ queueId: queue.id })
      .where(eq(conversations.id, conversationId));
    expect(await list()).toEqual([picked.sid]);
    const outside = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      template: { contentSid: approved.sid, variables: { 1: 'x' } },
    });
    expect(outside.status).toBe(400);
    expect(await outside.json()).toMatchObject({
      field: 'template.contentSid',
      message: expect.stringContaining("not among the templates this queue's agents may send"),
    });
  });

  it('answers 404 to an agent naming a conversation they may not read', async () => {
    const { number, conversationId } = await whatsappConversation();
    const stranger = await agent();
    const response = await api(
      `/api/content-templates?numberId=${number.id}&conversationId=${conversationId}`,
      stranger.headers,
    );
    expect(response.status).toBe(404);
  });
});

describe('automated messages outside the window', () => {
  it('are skipped with an event saying why when the flow names no template', async () => {
    const { conversationId, wroteAgo } = await whatsappConversation({
      flow: { finalMessage: 'Thanks for writing to us' },
    });
    await wroteAgo(25);
    await stack.db.transaction((tx) => closeConversation(tx, conversationId, { reason: 'ended' }));
    expect(await outboundOf(conversationId)).toEqual([]);
    const [skipped] = await stack.db
      .select()
      .from(events)
      .where(and(eq(events.conversationId, conversationId), eq(events.type, 'message.skipped')));
    expect(skipped?.payload).toMatchObject({
      automated: 'final',
      body: 'Thanks for writing to us',
      reason: expect.stringContaining('the flow names no template'),
    });
  });

  it("use the flow's template for that message, with Parley's values filled in", async () => {
    const approved = await template('Goodbye {{1}}, from {{2}}');
    const { conversationId, customer, wroteAgo } = await whatsappConversation({
      flow: { finalMessage: 'Thanks for writing to us' },
    });
    await stack.db.execute(
      sql`UPDATE flows SET window_templates = ${JSON.stringify({
        final: { contentSid: approved.sid, variables: { 1: 'friend', 2: '{{agentName}}' } },
      })}::jsonb WHERE id = (SELECT flow_id FROM numbers n JOIN conversations c ON c.number_id = n.id WHERE c.id = ${conversationId})`,
    );
    await wroteAgo(25);
    await stack.db.transaction((tx) => closeConversation(tx, conversationId, { reason: 'ended' }));
    const [final] = await outboundOf(conversationId);
    expect(final).toMatchObject({ contentSid: approved.sid, toAddress: customer });
    expect(final?.body).toMatch(/^Goodbye friend, from agent-/);
  });

  it('go out as free text while the window is open', async () => {
    const { conversationId, wroteAgo } = await whatsappConversation({
      flow: { finalMessage: 'Thanks for writing to us' },
    });
    await wroteAgo(1);
    await stack.db.transaction((tx) => closeConversation(tx, conversationId, { reason: 'ended' }));
    await eventually(async () => {
      const [final] = await outboundOf(conversationId);
      return final?.body === 'Thanks for writing to us' && final.contentSid === null;
    });
  });
});

describe('templates through the emulator, as on Twilio', () => {
  async function admin() {
    const user = await createUser(stack.db, {
      email: `admin-${randomBytes(3).toString('hex')}@example.com`,
      name: 'Admin',
      role: 'admin',
      password: 'correct horse battery',
    });
    const { token } = await createSession(stack.db, user.id, 'api-token');
    return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  }

  /** A template built on the emulator's account, with WhatsApp's verdict on it. */
  async function twilioTemplate(body: string, status: string) {
    const created = (await stack.control('POST', '/_emulator/contents', {
      accountSid: stack.twilio.sid,
      friendlyName: `order_${randomBytes(3).toString('hex')}`,
      types: { 'twilio/text': { body } },
      variables: { 1: 'Customer', 2: 'A-0' },
      whatsapp: { status, category: 'UTILITY' },
    })) as { sid: string };
    return created.sid;
  }

  it('refuses free text after 24 hours, sends an approved template the handset reads rendered, and takes free text once the customer answers', async () => {
    const approved = await twilioTemplate('Hi {{1}}, your order {{2}} has shipped', 'approved');
    const pending = await twilioTemplate('Hi {{1}}, a new offer for you', 'pending');
    const adminHeaders = await admin();
    const sync = await api(
      `/api/admin/accounts/${stack.account.id}/content-templates/sync`,
      adminHeaders,
      {},
    );
    expect(sync.status).toBe(200);
    const listed = (await (
      await api(`/api/admin/content-templates?accountId=${stack.account.id}`, adminHeaders)
    ).json()) as { sid: string; whatsappStatus: string }[];
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ sid: approved, whatsappStatus: 'approved' }),
        expect.objectContaining({ sid: pending, whatsappStatus: 'pending' }),
      ]),
    );

    const { number, customer, conversationId, me, wroteAgo } = await whatsappConversation();
    await wroteAgo(25);
    await stack.control(
      'POST',
      `/_emulator/handsets/${encodeURIComponent(customer)}/last-inbound`,
      {
        sender: number.address,
        at: Date.now() - 25 * 3600_000,
      },
    );
    const refused = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      body: 'Your order has shipped',
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /customer-service window is closed .* only an approved template/,
    );
    const unapproved = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      template: { contentSid: pending, variables: { 1: 'Ann' } },
    });
    expect(unapproved.status).toBe(400);
    expect(await unapproved.json()).toMatchObject({ field: 'template.contentSid' });

    const sent = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      template: { contentSid: approved, variables: { 1: 'Ann', 2: 'A-1138' } },
    });
    expect(sent.status).toBe(202);
    await stack.received(customer, 'Hi Ann, your order A-1138 has shipped');
    const { id } = (await sent.json()) as { id: string };
    await eventually(async () => {
      const [row] = await stack.db.select().from(messages).where(eq(messages.id, id));
      return row?.status === 'delivered' || row?.status === 'read';
    });

    await stack.text(customer, number.address, 'Great, thanks!');
    const again = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      body: 'You are welcome',
    });
    expect(again.status).toBe(202);
    await stack.received(customer, 'You are welcome');
  });

  it("reads Twilio's 63016, when the window closed on Twilio's side only, as a reason an agent understands", async () => {
    const { number, customer, conversationId, me } = await whatsappConversation();
    await stack.control(
      'POST',
      `/_emulator/handsets/${encodeURIComponent(customer)}/last-inbound`,
      {
        sender: number.address,
        at: Date.now() - 25 * 3600_000,
      },
    );
    const sent = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
      body: 'Still there?',
    });
    expect(sent.status).toBe(202);
    const { id } = (await sent.json()) as { id: string };
    const failed = await eventually(async () => {
      const [row] = await stack.db.select().from(messages).where(eq(messages.id, id));
      return row?.status === 'failed' ? row : undefined;
    });
    expect(failed).toMatchObject({
      errorCode: 63016,
      errorMessage: expect.stringContaining('customer-service window'),
    });
  });
});

describe('Messenger through the emulator', () => {
  /** A 2×2 red PNG. */
  const PICTURE = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
    'base64',
  );
  const fbId = () => String(10n ** 15n + BigInt(`0x${randomBytes(6).toString('hex')}`));

  it('routes a person who writes to the page, and delivers the agent’s reply with a picture; agents cannot start one', async () => {
    const me = await agent();
    await stack.db.update(users).set({ capacityMessenger: 2 }).where(eq(users.id, me.user.id));
    await setPresence(stack.db, me.user.id, 'available', me.user.id);
    const queue = await createQueue(stack.db, { name: 'Messenger', memberIds: [me.user.id] });
    const { number } = await stack.addNumber({
      address: `messenger:${fbId()}`,
      kind: 'messenger',
      flow: { name: 'Page flow', queueId: queue.id },
    });
    const person = `messenger:${fbId()}`;
    await stack.text(person, number.address, 'Do you ship to Canada?');

    const offer = await eventually(async () => {
      const [row] = await stack.db
        .select({ id: offers.id, conversationId: offers.conversationId })
        .from(offers)
        .where(and(eq(offers.agentId, me.user.id), eq(offers.state, 'pending')));
      return row;
    });
    expect((await api(`/api/offers/${offer.id}/accept`, me.headers, {})).status).toBe(200);

    const upload = await fetch(`${stack.parley.url}/api/uploads`, {
      method: 'POST',
      headers: { authorization: me.headers.authorization, 'content-type': 'image/png' },
      body: PICTURE,
    });
    const { token } = (await upload.json()) as { token: string };
    const reply = await api(`/api/conversations/${offer.conversationId}/messages`, me.headers, {
      body: 'Yes, here is the map',
      attachments: [token],
    });
    expect(reply.status).toBe(202);
    const received = await stack.received(person, 'Yes, here is the map');
    expect(received.from).toBe(number.address);
    expect(received.media).toEqual([expect.objectContaining({ contentType: 'image/png' })]);

    const origination = await api('/api/originations', me.headers, {
      to: person,
      numberId: number.id,
      body: 'Hello from the page',
    });
    expect(origination.status).toBe(400);
    expect(await origination.json()).toMatchObject({
      field: 'numberId',
      message: expect.stringContaining('start only when the customer writes'),
    });
  });
});

describe('RCS through a Messaging Service', () => {
  it('finds the service’s RCS sender at Set in Twilio, and shows each message as RCS or its SMS fallback', async () => {
    const adminHeaders = await (async () => {
      const user = await createUser(stack.db, {
        email: `rcs-admin-${randomBytes(3).toString('hex')}@example.com`,
        name: 'Admin',
        role: 'admin',
        password: 'correct horse battery',
      });
      const { token } = await createSession(stack.db, user.id, 'api-token');
      return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    })();
    const { number } = await stack.addNumber();
    const rcsSender = `rcs:acme_${randomBytes(3).toString('hex')}_agent`;
    await stack.control('POST', '/_emulator/numbers', {
      accountSid: stack.twilio.sid,
      phoneNumber: rcsSender,
      kind: 'rcs',
    });
    const service = (await stack.control('POST', '/_emulator/services', {
      accountSid: stack.twilio.sid,
      numbers: [number.address, rcsSender],
    })) as { sid: string };
    await updateNumber(stack.db, number.id, { messagingServiceSid: service.sid });
    const configured = await api(
      `/api/admin/numbers/${number.id}/configure-twilio`,
      adminHeaders,
      {},
    );
    expect(configured.status).toBe(200);
    expect(await configured.json()).toMatchObject({ configured: 'messaging-service', rcsSender });

    const me = await agent();
    const capable = phoneNumber();
    const plain = phoneNumber();
    await stack.control('POST', `/_emulator/handsets/${encodeURIComponent(capable)}/settings`, {
      rcsCapable: true,
    });
    const sentAs = async (to: string, body: string) => {
      const response = await api('/api/originations', me.headers, {
        to,
        numberId: number.id,
        body,
        strategy: 'assign-now',
      });
      expect(response.status).toBe(202);
      const { message } = (await response.json()) as { message: { id: string } };
      const received = await stack.received(to, body);
      const row = await eventually(async () => {
        const [found] = await stack.db.select().from(messages).where(eq(messages.id, message.id));
        return found?.status === 'delivered' ? found : undefined;
      });
      return { from: received.from, sentAs: row.sentAs };
    };
    expect(await sentAs(capable, 'Your table is ready')).toEqual({
      from: rcsSender,
      sentAs: 'rcs',
    });
    expect(await sentAs(plain, 'Your table is ready too')).toEqual({
      from: number.address,
      sentAs: 'sms',
    });
  });
});

describe('templates the customer reads as Twilio renders them', () => {
  it("are sent once when Twilio created one but answered 500, though Parley's copy of the text differs", async () => {
    const created = (await stack.control('POST', '/_emulator/contents', {
      accountSid: stack.twilio.sid,
      friendlyName: `pick_time_${randomBytes(3).toString('hex')}`,
      // Parley keeps the first body (the quick reply's); Twilio sends the text type's here.
      types: {
        'twilio/quick-reply': {
          body: 'Pick a time, {{1}}',
          actions: [{ title: 'Morning', id: 'am' }],
        },
        'twilio/text': { body: 'Reply with a time, {{1}}' },
      },
      variables: { 1: 'Customer' },
      whatsapp: { status: 'approved', category: 'UTILITY' },
    })) as { sid: string };
    const user = await createUser(stack.db, {
      email: `sync-${randomBytes(3).toString('hex')}@example.com`,
      name: 'Admin',
      role: 'admin',
      password: 'correct horse battery',
    });
    const { token } = await createSession(stack.db, user.id, 'api-token');
    const adminHeaders = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect(
      (
        await api(
          `/api/admin/accounts/${stack.account.id}/content-templates/sync`,
          adminHeaders,
          {},
        )
      ).status,
    ).toBe(200);

    const { customer, conversationId, me } = await whatsappConversation();
    // The name WhatsApp gave, the only one Parley has of this customer.
    await stack.db
      .update(contacts)
      .set({ attributes: { profileName: 'Ann' } })
      .where(eq(contacts.address, customer));
    await stack.control('POST', '/_emulator/faults', {
      endpoint: 'messages.create',
      mode: 'create-then-500',
      count: 1,
    });
    try {
      const sent = await api(`/api/conversations/${conversationId}/messages`, me.headers, {
        template: { contentSid: created.sid, variables: { 1: '{{customerName}}' } },
      });
      expect(sent.status).toBe(202);
      const { id } = (await sent.json()) as { id: string };
      const settled = await eventually(async () => {
        const [row] = await stack.db.select().from(messages).where(eq(messages.id, id));
        return row?.twilioSid ? row : undefined;
      }, 30_000);
      expect(settled.contentVariables).toEqual({ 1: 'Ann' });
      await stack.received(customer, 'Reply with a time, Ann');
      const onTwilio = (await stack.control(
        'GET',
        `/_emulator/messages?to=${encodeURIComponent(customer)}`,
      )) as { messages: { sid: string; contentSid: string | null }[] };
      const copies = onTwilio.messages.filter((m) => m.contentSid === created.sid);
      expect(copies.map((m) => m.sid)).toEqual([settled.twilioSid]);
    } finally {
      await stack.control('DELETE', '/_emulator/faults');
    }
  });
});
