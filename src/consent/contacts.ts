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
  // Rewrites the row only when something new is known: a returning customer's message
  // otherwise costs a dead tuple, WAL and a row lock that concurrent messages wait on.
  const [written] = await db
    .insert(contacts)
    .values({ address, attributes })
    .onConflictDoUpdate({
      target: contacts.address,
      set: { attributes: sql`${contacts.attributes} || excluded.attributes` },
      setWhere: sql`NOT ${contacts.attributes} @> excluded.attributes`,
    })
    .returning();
  if (written) return written;
  const [known] = await db.select().from(contacts).where(eq(contacts.address, address));
  return known!;
}
