import { randomBytes } from 'node:crypto';
import { accounts, numbers } from '../../src/db/schema.js';
import type { Executor } from '../../src/db/store.js';

export function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A unique North American number in the 555 range. */
export function phoneNumber(): string {
  return `+1555${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;
}

/** A random US toll-free number. */
export function tollFreeNumber(): string {
  return `+1888${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;
}

/** A random five-digit short code. */
export function shortCodeNumber(): string {
  return String(10_000 + Math.floor(Math.random() * 89_999));
}

export async function buildAccount(
  db: Executor,
  overrides: Partial<typeof accounts.$inferInsert> = {},
) {
  const [row] = await db
    .insert(accounts)
    .values({ name: 'Test', accountSid: `AC${hex(16)}`, authTokenEnc: 'v1.x.y.z', ...overrides })
    .returning();
  return row!;
}

export async function buildNumber(
  db: Executor,
  overrides: Partial<typeof numbers.$inferInsert> = {},
) {
  const accountId = overrides.accountId ?? (await buildAccount(db)).id;
  const [row] = await db
    .insert(numbers)
    .values({ address: phoneNumber(), kind: 'long-code', ...overrides, accountId })
    .returning();
  return row!;
}
