import { randomBytes } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../src/auth/sessions.js';
import { createUser, type Role } from '../src/auth/users.js';
import { consentSender, isOptedOut } from '../src/consent/consent.js';
import { auditEntries, contacts, conversations, media, messages } from '../src/db/schema.js';
import { queryRows } from '../src/db/store.js';
import { buildReport } from '../src/reports/reports.js';
import type { ErasureReport } from '../src/retention/erasure.js';
import { hex, phoneNumber } from './helpers/factories.js';
import { eventually, Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.close());

interface Person {
  id: string;
  email: string;
  headers: Record<string, string>;
}

async function person(role: Role): Promise<Person> {
  const email = `${role}-${hex(3)}@example.com`;
  const user = await createUser(stack.db, {
    email,
    name: `${role} ${hex(2)}`,
    role,
    password: 'correct horse battery',
  });
  const { token } = await createSession(stack.db, user.id, 'api-token');
  return { id: user.id, email, headers: { authorization: `Bearer ${token}` } };
}

function api(path: string, who: Person, method = 'GET') {
  return fetch(`${stack.parley.url}${path}`, { method, headers: who.headers });
}

/** The emulator's record of every message to or from the handset. */
async function onTwilio(handset: string) {
  const list = async (side: 'from' | 'to') =>
    (
      (await stack.control(
        'GET',
        `/_emulator/messages?${side}=${encodeURIComponent(handset)}`,
      )) as { messages: { sid: string; body: string; status: string; media: unknown[] }[] }
    ).messages;
  return [...(await list('from')), ...(await list('to'))];
}

/** The handset's inbound message with its stored media, once Parley has them. */
async function storedMms(handset: string) {
  return eventually(async () => {
    const rows = await stack.db
      .select({ id: media.id, status: media.status, messageId: media.messageId })
      .from(media)
      .innerJoin(messages, eq(messages.id, media.messageId))
      .where(eq(messages.fromAddress, handset));
    return rows.length > 0 && rows.every((row) => row.status === 'stored') ? rows : undefined;
  });
}

describe('POST /api/contacts/:id/erase', () => {
  it('erases the contact here and on Twilio, keeps their opt-out and anonymous conversations, and is harmless twice', async () => {
    const admin = await person('admin');
    const supervisor = await person('supervisor');
    const { number } = await stack.addNumber({
      flow: { name: `Erasure ${hex(2)}`, initialMessage: 'Hello from the shop' },
    });
    const customer = phoneNumber();
    const neighbour = phoneNumber();
    const picture = Buffer.from(`x-ray ${randomBytes(8).toString('hex')}`);
    const png = [{ contentType: 'image/png', base64: picture.toString('base64') }];
    await stack.text(customer, number.address, 'my diagnosis is zebrafever', png);
    await stack.received(customer, 'Hello from the shop');
    // Another customer sends the same picture: its bytes are shared, and must stay.
    await stack.text(neighbour, number.address, 'same picture', png);
    const [customerMedia] = await storedMms(customer);
    const [neighbourMedia] = await storedMms(neighbour);
    // Twilio has finished with every message of theirs before they are erased.
    await eventually(async () => {
      const all = await onTwilio(customer);
      return all.length >= 2 && all.every((m) => ['received', 'delivered'].includes(m.status));
    });
    // STOP closes their conversation and opts them out of the number.
    await stack.text(customer, number.address, 'STOP');
    const [contact] = await stack.db.select().from(contacts).where(eq(contacts.address, customer));
    const conversationIds = await eventually(async () => {
      const rows = await stack.db
        .select({ id: conversations.id, state: conversations.state })
        .from(conversations)
        .where(eq(conversations.contactId, contact!.id));
      return rows.length > 0 && rows.every((row) => row.state === 'closed')
        ? rows.map((row) => row.id)
        : undefined;
    });
    await stack.db
      .update(contacts)
      .set({ name: 'Zebra Patient', email: 'zebra@example.com', attributes: { language: 'fr' } })
      .where(eq(contacts.id, contact!.id));
    const note = await fetch(`${stack.parley.url}/api/conversations/${conversationIds[0]}/notes`, {
      method: 'POST',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'zebrafever follow-up' }),
    });
    expect(note.status).toBe(201);
    const search = async () =>
      Promise.all(
        [
          '/api/search/conversations?q=zebrafever',
          `/api/search/conversations?phone=${encodeURIComponent(customer)}`,
          '/api/search/contacts?q=Zebra',
          `/api/search/contacts?q=${encodeURIComponent(customer)}`,
        ].map(async (path) => ((await (await api(path, admin)).json()) as { results: [] }).results),
      );
    expect((await search()).map((results) => results.length)).toEqual([1, 1, 1, 1]);

    // Admins only: not even a supervisor, who reads every conversation.
    const refused = await api(`/api/contacts/${contact!.id}/erase`, supervisor, 'POST');
    expect(refused.status).toBe(403);

    const period = {
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 3_600_000),
      timeZone: 'UTC',
      serviceLevelSeconds: 60,
      numberId: number.id,
    };
    const figures = await buildReport(stack.db, period);
    expect(figures.totals).toMatchObject({ in: 2, messagesIn: 3 });

    const response = await api(`/api/contacts/${contact!.id}/erase`, admin, 'POST');
    expect(response.status).toBe(200);
    const report = (await response.json()) as ErasureReport;
    expect(report).toMatchObject({
      contactId: contact!.id,
      optOutsKept: 1,
      parley: { conversations: 1, messages: 3, media: 1, mediaFilesScheduled: 0, notes: 1 },
      twilio: { messages: 3, redacted: 3, gone: 0, mediaDeleted: 1, failures: [] },
    });
    expect(report.parley.events).toBeGreaterThan(0);
    // Their conversations stay as anonymous records: the reports give the same figures.
    expect(await buildReport(stack.db, period)).toEqual(figures);

    // Nothing of them in Parley: transcripts, the event log, search, media, the profile.
    for (const id of conversationIds) {
      const transcript = await (await api(`/api/conversations/${id}`, admin)).text();
      for (const secret of ['zebrafever', 'Hello from the shop', customer, 'Zebra']) {
        expect(transcript).not.toContain(secret);
      }
    }
    const traces = await queryRows<{ type: string }>(
      stack.db,
      sql`SELECT type FROM events
           WHERE payload::text LIKE '%zebrafever%' OR payload::text LIKE ${`%${customer}%`}
              OR (conversation_id IN (${sql.join(
                conversationIds.map((id) => sql`${id}::uuid`),
                sql`, `,
              )}) AND payload::text LIKE '%Hello from the shop%')`,
    );
    expect(traces).toEqual([]);
    expect((await search()).map((results) => results.length)).toEqual([0, 0, 0, 0]);
    expect((await api(`/api/media/${customerMedia!.id}`, admin)).status).toBe(404);
    expect((await api(`/api/media/${neighbourMedia!.id}`, admin)).status).toBe(200);
    const record = (await (await api(`/api/contacts/${contact!.id}`, admin)).json()) as {
      consents: { optedOut: boolean; changedAt: string | null }[];
      conversations: unknown[];
    };
    expect(record).toMatchObject({
      address: `erased:${contact!.id}`,
      name: null,
      email: null,
      attributes: {},
      twilioAttributes: {},
      erasedAt: expect.any(String),
    });
    // The anonymous row keeps no consent: senders are listed as never changed.
    for (const consent of record.consents) {
      expect(consent).toMatchObject({ optedOut: false, changedAt: null });
    }
    expect(record.conversations).toHaveLength(1);

    // Nothing of them on Twilio: every message Parley knew redacted, its media deleted.
    const sids = await stack.db
      .select({ sid: messages.twilioSid })
      .from(messages)
      .where(inArray(messages.conversationId, conversationIds));
    expect(sids).toHaveLength(3);
    const twilio = new Map((await onTwilio(customer)).map((m) => [m.sid, m]));
    for (const { sid } of sids) {
      expect(twilio.get(sid!)).toMatchObject({ body: '', media: [] });
    }

    // Their opt-out stays, and only it: their address in a record of its own.
    expect(await isOptedOut(stack.db, customer, consentSender(number))).toBe(true);
    const [kept] = await stack.db.select().from(contacts).where(eq(contacts.address, customer));
    expect(kept).toMatchObject({
      id: report.optOutRecordId,
      name: null,
      email: null,
      attributes: {},
      erasedAt: expect.any(Date),
    });

    const [audit] = await stack.db
      .select()
      .from(auditEntries)
      .where(
        and(eq(auditEntries.action, 'contact.erased'), eq(auditEntries.targetId, contact!.id)),
      );
    expect(audit).toMatchObject({ actorId: admin.id, actor: admin.email, targetType: 'contact' });
    expect(audit!.detail).toEqual(report);

    // Again: nothing left to change in Parley; Twilio is asked again, harmlessly.
    const again = await api(`/api/contacts/${contact!.id}/erase`, admin, 'POST');
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      optOutRecordId: null,
      optOutsKept: 0,
      parley: {
        conversations: 0,
        messages: 0,
        media: 0,
        mediaFilesScheduled: 0,
        notes: 0,
        events: 0,
      },
      twilio: { messages: 3, failures: [] },
    });
    expect(await isOptedOut(stack.db, customer, consentSender(number))).toBe(true);
    expect(await stack.db.$count(contacts, eq(contacts.address, customer))).toBe(1);

    // When they write again, their new conversation is theirs and found; the old ones are not.
    await stack.text(customer, number.address, 'I am back');
    const [words, byPhone, byName, contactByPhone] = await eventually(async () => {
      const found = await search();
      return found[1]!.length > 0 ? found : undefined;
    });
    expect(byPhone).toHaveLength(1);
    expect([words, byName]).toEqual([[], []]);
    expect(contactByPhone).toMatchObject([{ id: report.optOutRecordId, conversations: 1 }]);
    expect(await isOptedOut(stack.db, customer, consentSender(number))).toBe(true);
  });

  it('retries a Twilio failure, reports one that lasts, and erases it on a second erase', async () => {
    const admin = await person('admin');
    const { number } = await stack.addNumber({ flow: { name: `Faults ${hex(2)}` } });
    const customer = phoneNumber();
    await stack.text(customer, number.address, 'first words');
    await stack.text(customer, number.address, 'STOP');
    const contact = await eventually(async () => {
      const [row] = await stack.db.select().from(contacts).where(eq(contacts.address, customer));
      const closed = row
        ? await stack.db.$count(
            conversations,
            and(eq(conversations.contactId, row.id), eq(conversations.state, 'closed')),
          )
        : 0;
      return closed === 1 ? row : undefined;
    });
    // Three failures use up the first message's attempts; the fourth is retried and passes.
    await stack.control('POST', '/_emulator/faults', {
      endpoint: 'messages.update',
      mode: '500',
      count: 4,
    });
    let first: ErasureReport;
    try {
      first = (await (
        await api(`/api/contacts/${contact.id}/erase`, admin, 'POST')
      ).json()) as ErasureReport;
    } finally {
      await stack.control('DELETE', '/_emulator/faults');
    }
    expect(first.parley.messages).toBe(2);
    expect(first.twilio).toMatchObject({ messages: 2, redacted: 1 });
    expect(first.twilio.failures).toHaveLength(1);
    const failed = first.twilio.failures[0]!.messageSid;
    const body = async () =>
      (
        (await stack.control('GET', `/_emulator/messages?sid=${failed}`)) as {
          messages: { body: string }[];
        }
      ).messages[0]!.body;
    expect(await body()).toBe('first words');

    const second = (await (
      await api(`/api/contacts/${contact.id}/erase`, admin, 'POST')
    ).json()) as ErasureReport;
    expect(second.twilio).toMatchObject({ messages: 2, redacted: 2, failures: [] });
    expect(await body()).toBe('');
  });

  it('erases a keyword text sent with no conversation open, here and on Twilio', async () => {
    const admin = await person('admin');
    const { number } = await stack.addNumber({ flow: { name: `Keywords ${hex(2)}` } });
    const customer = phoneNumber();
    // HELP opens no conversation: the message is stored with none, from the customer.
    const { sid } = await stack.text(customer, number.address, 'HELP');
    const contact = await eventually(async () => {
      const [row] = await stack.db.select().from(contacts).where(eq(contacts.address, customer));
      const [help] = await stack.db
        .select({ conversationId: messages.conversationId, status: messages.status })
        .from(messages)
        .where(eq(messages.twilioSid, sid));
      return row && help ? { ...row, help } : undefined;
    });
    expect(contact.help.conversationId).toBeNull();
    await eventually(async () => {
      const all = await onTwilio(customer);
      return all.length > 0 && all.every((m) => ['received', 'delivered'].includes(m.status));
    });

    const response = await api(`/api/contacts/${contact.id}/erase`, admin, 'POST');
    expect(response.status).toBe(200);
    const report = (await response.json()) as ErasureReport;
    expect(report.parley.messages).toBeGreaterThanOrEqual(1);
    expect(report.twilio.failures).toEqual([]);

    const [help] = await stack.db
      .select({ body: messages.body, from: messages.fromAddress })
      .from(messages)
      .where(eq(messages.twilioSid, sid));
    expect(help).toEqual({ body: '', from: `erased:${contact.id}` });
    const traces = await queryRows<{ type: string }>(
      stack.db,
      sql`SELECT type FROM events WHERE payload::text LIKE ${`%${customer}%`}`,
    );
    expect(traces).toEqual([]);
    const onTwilioNow = await onTwilio(customer);
    expect(onTwilioNow.find((m) => m.sid === sid)).toMatchObject({ body: '' });
  });

  it('refuses while a conversation of theirs is open, and for an unknown contact', async () => {
    const admin = await person('admin');
    const { number } = await stack.addNumber({ flow: { name: `Open ${hex(2)}` } });
    const customer = phoneNumber();
    await stack.text(customer, number.address, 'still talking');
    const contact = await eventually(async () => {
      const [row] = await stack.db.select().from(contacts).where(eq(contacts.address, customer));
      return row;
    });
    const open = await api(`/api/contacts/${contact.id}/erase`, admin, 'POST');
    expect(open.status).toBe(409);
    const [message] = await stack.db
      .select({ body: messages.body })
      .from(messages)
      .where(eq(messages.fromAddress, customer));
    expect(message!.body).toBe('still talking');
    const unknown = await api(
      '/api/contacts/00000000-0000-4000-8000-000000000000/erase',
      admin,
      'POST',
    );
    expect(unknown.status).toBe(404);
  });

  it('keeps an erased contact anonymous: an edit from a form opened before is refused', async () => {
    const admin = await person('admin');
    const [contact] = await stack.db
      .insert(contacts)
      .values({ address: phoneNumber(), name: 'Ada Lovelace', email: 'ada@example.com' })
      .returning();
    expect((await api(`/api/contacts/${contact!.id}/erase`, admin, 'POST')).status).toBe(200);
    const edit = await fetch(`${stack.parley.url}/api/contacts/${contact!.id}`, {
      method: 'PATCH',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada Lovelace', notes: 'prefers email' }),
    });
    expect(edit.status).toBe(409);
    expect(((await edit.json()) as { message: string }).message).toMatch(/erased/);
    const [row] = await stack.db
      .select({ name: contacts.name, email: contacts.email, notes: contacts.notes })
      .from(contacts)
      .where(eq(contacts.id, contact!.id));
    expect(row).toEqual({ name: null, email: null, notes: null });
  });
});
