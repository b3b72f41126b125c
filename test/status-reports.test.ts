import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldStatusReports, messages, outbox } from '../src/db/schema.js';
import { queryRows, type Store } from '../src/db/store.js';
import {
  applyHeldStatusReports,
  holdStatusReport,
  type StatusReport,
  statusReportBatches,
} from '../src/outbound/delivery-status.js';
import { buildNumber, hex, phoneNumber } from './helpers/factories.js';
import { openTestStore } from './helpers/store.js';

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store?.close();
});

async function sentMessages(numberId: string, count: number) {
  return store.db
    .insert(messages)
    .values(
      Array.from({ length: count }, () => ({
        numberId,
        direction: 'outbound' as const,
        author: 'agent' as const,
        fromAddress: '+15550000000',
        toAddress: phoneNumber(),
        body: 'on its way',
        twilioSid: `SM${hex(16)}`,
        status: 'queued' as const,
      })),
    )
    .returning();
}

describe('status reports', () => {
  it('are applied together in one transaction, each only for the account that owns the message', async () => {
    const number = await buildNumber(store.db);
    const other = await buildNumber(store.db);
    const sent = await sentMessages(number.id, 5);
    const batches = statusReportBatches(store.db);
    const report = (sid: string, accountId: string): StatusReport => ({
      messageSid: sid,
      accountId,
      status: 'delivered',
      errorCode: null,
      errorMessage: null,
    });
    const answers = await Promise.all([
      ...sent.map((m) => batches.submit(report(m.twilioSid!, number.accountId))),
      batches.submit(report(`SM${hex(16)}`, number.accountId)),
      batches.submit(report(sent[0]!.twilioSid!, other.accountId)),
    ]);
    expect(answers).toEqual([true, true, true, true, true, false, false]);
    const rows = await queryRows<{ status: string; xmin: string }>(
      store.db,
      sql`SELECT status, xmin::text AS xmin FROM messages WHERE ${inArray(
        messages.id,
        sent.map((m) => m.id),
      )}`,
    );
    expect(rows.map((row) => row.status)).toEqual(Array(5).fill('delivered'));
    expect(new Set(rows.map((row) => row.xmin)).size).toBe(1);
  });

  it('in one batch, move each message once to the furthest status reported, with one event each', async () => {
    const number = await buildNumber(store.db);
    const [late, failed] = await sentMessages(number.id, 2);
    const batches = statusReportBatches(store.db);
    const report = (
      sid: string,
      status: StatusReport['status'],
      errorCode: number | null = null,
    ): StatusReport => ({
      messageSid: sid,
      accountId: number.accountId,
      status,
      errorCode,
      errorMessage: null,
    });
    // A late `sent` after `delivered`; two outcomes, of which the first stands.
    await Promise.all([
      batches.submit(report(late!.twilioSid!, 'delivered')),
      batches.submit(report(late!.twilioSid!, 'sent')),
      batches.submit(report(failed!.twilioSid!, 'undelivered', 30003)),
      batches.submit(report(failed!.twilioSid!, 'delivered')),
    ]);
    const rows = await queryRows<{ id: string; status: string; error_code: number | null }>(
      store.db,
      sql`SELECT id, status, error_code FROM messages WHERE id IN (${late!.id}, ${failed!.id})`,
    );
    expect(Object.fromEntries(rows.map((row) => [row.id, [row.status, row.error_code]]))).toEqual({
      [late!.id]: ['delivered', null],
      [failed!.id]: ['undelivered', 30003],
    });
    const events = await queryRows<{ message_id: string; status: string }>(
      store.db,
      sql`SELECT payload->>'messageId' AS message_id, payload->>'status' AS status FROM events
          WHERE type = 'message.status' AND payload->>'messageId' IN (${late!.id}, ${failed!.id})`,
    );
    expect(events.map((event) => [event.message_id, event.status]).sort()).toEqual(
      [
        [late!.id, 'delivered'],
        [failed!.id, 'undelivered'],
      ].sort(),
    );
  });
});

describe('a status report that overtakes the dispatcher', () => {
  /** A message whose send Twilio has not answered yet: its outbox row `sending`, no SID. */
  async function inFlight(numberId: string) {
    const [message] = await store.db
      .insert(messages)
      .values({
        numberId,
        direction: 'outbound',
        author: 'agent',
        fromAddress: '+15550000000',
        toAddress: phoneNumber(),
        body: 'on its way',
        status: 'queued',
      })
      .returning();
    await store.db
      .insert(outbox)
      .values({ messageId: message!.id, sender: 'test', state: 'sending', claimedAt: new Date() });
    return message!;
  }
  const report = (messageSid: string, accountId: string, status: StatusReport['status']) => ({
    messageSid,
    accountId,
    status,
    errorCode: null,
    errorMessage: null,
  });
  const statusOf = async (id: string) =>
    (await store.db.select({ status: messages.status }).from(messages).where(sql`id = ${id}`))[0]!
      .status;

  it('is held while its account awaits an answer, and applied once the SID is stored', async () => {
    const number = await buildNumber(store.db);
    const message = await inFlight(number.id);
    const sid = `SM${hex(16)}`;
    expect(await statusReportBatches(store.db).submit(report(sid, number.accountId, 'sent'))).toBe(
      false,
    );
    expect(await holdStatusReport(store.db, report(sid, number.accountId, 'sent'))).toBe(true);
    expect(await holdStatusReport(store.db, report(sid, number.accountId, 'delivered'))).toBe(true);
    expect(await applyHeldStatusReports(store.db)).toBe(0);
    expect(await statusOf(message.id)).toBe('queued');

    // The dispatcher stores the SID Twilio answered with.
    await store.db.update(messages).set({ twilioSid: sid }).where(sql`id = ${message.id}`);
    await store.db.update(outbox).set({ state: 'done' }).where(sql`message_id = ${message.id}`);
    expect(await applyHeldStatusReports(store.db)).toBe(2);
    expect(await statusOf(message.id)).toBe('delivered');
    expect(await applyHeldStatusReports(store.db)).toBe(0);
    const held = await store.db.select().from(heldStatusReports).where(sql`message_sid = ${sid}`);
    expect(held).toEqual([]);
  });

  it('is not held once its SID is stored: the route’s last look applies it', async () => {
    const number = await buildNumber(store.db);
    await inFlight(number.id);
    const [stored] = await sentMessages(number.id, 1);
    const delivered = report(stored!.twilioSid!, number.accountId, 'delivered');
    expect(await holdStatusReport(store.db, delivered)).toBe(false);
    expect(await statusReportBatches(store.db).submit(delivered)).toBe(true);
    expect(await statusOf(stored!.id)).toBe('delivered');
  });

  it('is not held for an account with no send awaiting an answer, nor for another account’s SID', async () => {
    const idle = await buildNumber(store.db);
    expect(await holdStatusReport(store.db, report(`SM${hex(16)}`, idle.accountId, 'sent'))).toBe(
      false,
    );
    const busy = await buildNumber(store.db);
    await inFlight(busy.id);
    const sid = `SM${hex(16)}`;
    expect(await holdStatusReport(store.db, report(sid, idle.accountId, 'sent'))).toBe(false);
    // A SID another account's message has is never the answer this account awaits.
    const [others] = await sentMessages(idle.id, 1);
    expect(
      await holdStatusReport(store.db, report(others!.twilioSid!, busy.accountId, 'sent')),
    ).toBe(false);
    const held = await store.db.select().from(heldStatusReports).where(sql`message_sid = ${sid}`);
    expect(held).toEqual([]);
  });
});
