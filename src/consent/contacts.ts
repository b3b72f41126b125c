import { eq, sql } from 'drizzle-orm';
import { contacts } from '../db/schema.js';
import type { Executor } from '../db/store.js';

export type Contact = typeof contacts.$inferSelect;

/** Finds or creates the contact for an address, merging what Twilio told us of it. */
export async function upsertContact(
  db: Executor,
  address: string,
  attributes: Record<string, string> = {},
): Promise<Contact> {
  // A returning customer's message reads the row and writes nothing: Twilio sends the same
  // location every time, and a rewrite would cost a dead tuple, WAL and a row lock.
  const [known] = await db.select().from(contacts).where(eq(contacts.address, address));
  if (known && containsAll(known.attributes, attributes)) return known;
  const [written] = await db
    .insert(contacts)
    .values({ address, attributes })
    .onConflictDoUpdate({
      target: contacts.address,
      set: { attributes: sql`${contacts.attributes} || excluded.attributes` },
    })
    .returning();
  return written!;
}

function containsAll(known: Record<string, string>, told: Record<string, string>): boolean {
  return Object.entries(told).every(([key, value]) => known[key] === value);
}
