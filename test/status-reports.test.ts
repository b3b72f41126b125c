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
});
