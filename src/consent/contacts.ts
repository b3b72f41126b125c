import { sql } from 'drizzle-orm';
import { contacts } from '../db/schema.js';
import type { Executor } from '../db/store.js';

export type Contact = typeof contacts.$inferSelect;

/** Finds or creates the contact for an address, merging what Twilio told us of it. */
export async function upsertContact(
  db: Executor,
  address: string,
  attributes: Record<string, string> = {},
): Promise<Contact> {
  const [row] = await db
    .insert(contacts)
    .values({ address, attributes })
    .onConflictDoUpdate({
      target: contacts.address,
      set: { attributes: sql`${contacts.attributes} || excluded.attributes` },
    })
    .returning();
  return row!;
}
