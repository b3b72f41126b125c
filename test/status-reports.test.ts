import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages } from '../src/db/schema.js';
import { queryRows, type Store } from '../src/db/store.js';
import { type StatusReport, statusReportBatches } from '../src/outbound/delivery-status.js';
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
