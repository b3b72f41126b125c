/**
 * The customer-service window of WhatsApp and Messenger: a business may send free text to a
 * customer only within 24 hours of the customer's last message to that sender, and on
 * WhatsApp an approved template at any time. Parley reads the window from the messages it
 * received, so it refuses what Twilio would fail (63016) before anything is sent.
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import {
  acceptsTemplates,
  CHANNELS,
  type Channel,
  channelOfKind,
  hasServiceWindow,
  SERVICE_WINDOW_MS,
} from '../addresses.js';
import { type Executor, queryRows } from '../db/store.js';
import { AppError } from '../errors.js';

export interface ServiceWindow {
  channel: Channel;
  /** Free text may be sent now. Always true on SMS. */
  open: boolean;
  /** When free text stops being accepted; null on SMS, or when the customer never wrote. */
  closesAt: Date | null;
  lastInboundAt: Date | null;
  /** An approved template may be sent while the window is closed. */
  templatesAllowed: boolean;
}

/** A window as the API shows it. */
export const serviceWindowView = z
  .object({
    channel: z.enum(CHANNELS),
    open: z.boolean(),
    closesAt: z.date().nullable(),
    lastInboundAt: z.date().nullable(),
    templatesAllowed: z.boolean(),
  })
  .meta({ id: 'ServiceWindow' });

/** A customer of a number: the pair a window belongs to. */
export interface WindowPair {
  numberId: string;
  customerAddress: string;
}

const pairKey = (pair: WindowPair) => `${pair.numberId} ${pair.customerAddress}`;

/**
 * When each customer last wrote to each number (pairs on an SMS number are not read: SMS
 * has no window). Reads the customer's conversations on that number through the contact,
 * so no index beyond the conversations' and messages' own is needed.
 */
async function lastInbound(
  db: Executor,
  pairs: readonly WindowPair[],
): Promise<Map<string, { kind: string; at: Date | null }>> {
  if (pairs.length === 0) return new Map();
  const values = sql.join(
    pairs.map((p) => sql`(${p.numberId}::uuid, ${p.customerAddress})`),
    sql`, `,
  );
  const rows = await queryRows<{
    number_id: string;
    customer_address: string;
    kind: string;
    last_inbound_at: Date | string | null;
  }>(
    db,
    sql`SELECT p.number_id, p.customer_address, n.kind,
               CASE WHEN parley_channel_of_kind(n.kind) <> 'sms' THEN
                 (SELECT max(m.created_at) FROM contacts k
                    JOIN conversations c ON c.contact_id = k.id AND c.number_id = p.number_id
                    JOIN messages m ON m.conversation_id = c.id AND m.direction = 'inbound'
                  WHERE k.address = p.customer_address)
               END AS last_inbound_at
        FROM (VALUES ${values}) AS p(number_id, customer_address)
        JOIN numbers n ON n.id = p.number_id`,
  );
  return new Map(
    rows.map((row) => [
      pairKey({ numberId: row.number_id, customerAddress: row.customer_address }),
      { kind: row.kind, at: row.last_inbound_at === null ? null : new Date(row.last_inbound_at) },
    ]),
  );
}

/** The window on a number of this kind for a customer who last wrote then (null: never). */
export function windowOf(
  kind: string,
  lastInboundAt: Date | null,
  now = Date.now(),
): ServiceWindow {
  const channel = channelOfKind(kind);
  if (!hasServiceWindow(channel)) {
    return { channel, open: true, closesAt: null, lastInboundAt, templatesAllowed: true };
  }
  const closesAt = lastInboundAt && new Date(lastInboundAt.getTime() + SERVICE_WINDOW_MS);
  return {
    channel,
    open: closesAt !== null && closesAt.getTime() > now,
    closesAt,
    lastInboundAt,
    templatesAllowed: acceptsTemplates(channel),
  };
}

/** The windows of several (number, customer) pairs, keyed as windowKey gives. */
export async function serviceWindows(
  db: Executor,
  pairs: readonly WindowPair[],
): Promise<Map<string, ServiceWindow>> {
  const found = await lastInbound(db, pairs);
  const now = Date.now();
  const windows = new Map<string, ServiceWindow>();
  for (const pair of pairs) {
    const row = found.get(pairKey(pair));
    if (row) windows.set(pairKey(pair), windowOf(row.kind, row.at, now));
  }
  return windows;
}

export const windowKey = pairKey;

/** The window of one customer on one number. */
export async function serviceWindow(db: Executor, pair: WindowPair): Promise<ServiceWindow> {
  const window = (await serviceWindows(db, [pair])).get(pairKey(pair));
  if (!window)
    throw new AppError('bad_request', `number ${pair.numberId} does not exist`, 'numberId');
  return window;
}

/**
 * Why free text cannot go out now, as an agent reads it: without the time the customer last
 * wrote, which the transcript shows those who may read it.
 */
export function closedWindowReason(window: ServiceWindow): string {
  const channel = window.channel === 'whatsapp' ? 'WhatsApp' : 'Messenger';
  const since =
    "the customer-service window is closed (it stays open 24 hours after the customer's last message)";
  return window.templatesAllowed
    ? `${since}: ${channel} accepts only an approved template until the customer writes again`
    : `${since}: ${channel} accepts no message from the business until the customer writes again`;
}
