import { eq, sql } from 'drizzle-orm';
import { contacts } from '../db/schema.js';
import { type Executor, queryPrepared, type Tx } from '../db/store.js';

export type Contact = typeof contacts.$inferSelect;

/**
 * The contact's name as agents see it: the one kept on the contact, else the profile name
 * the channel sent with their last message (WhatsApp's ProfileName, and Messenger's when
 * Twilio sends one), which the inbound pipeline keeps as the `profileName` attribute.
 */
export function contactName(contact: Pick<Contact, 'name' | 'attributes'>): string | null {
  return contact.name ?? contact.attributes.profileName ?? null;
}

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

/**
 * What Twilio told of several senders (FromCity, …, by address) merged into their contacts,
 * as upsertContact does for one: only the contacts it changes are written, in address order,
 * so two batches cannot deadlock on them. Returns each sender's contact id.
 */
export async function mergeContactAttributes(
  tx: Tx,
  told: ReadonlyMap<string, Record<string, string>>,
): Promise<Map<string, string>> {
  const idOf = new Map<string, string>();
  if (told.size === 0) return idOf;
  const known = await queryPrepared<{
    id: string;
    address: string;
    attributes: Record<string, string>;
  }>(
    tx,
    sql`SELECT id, address, attributes FROM contacts
        WHERE address IN (SELECT jsonb_array_elements_text(${JSON.stringify([...told.keys()])}::jsonb))`,
  );
  const knownOf = new Map(known.map((row) => [row.address, row.attributes]));
  for (const row of known) idOf.set(row.address, row.id);
  const changed = [...told]
    .filter(([address, attributes]) => {
      const current = knownOf.get(address);
      return current === undefined || !containsAll(current, attributes);
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (changed.length === 0) return idOf;
  const written = await tx
    .insert(contacts)
    .values(changed.map(([address, attributes]) => ({ address, attributes })))
    .onConflictDoUpdate({
      target: contacts.address,
      set: { attributes: sql`${contacts.attributes} || excluded.attributes` },
    })
    .returning({ id: contacts.id, address: contacts.address });
  for (const row of written) idOf.set(row.address, row.id);
  return idOf;
}

function containsAll(known: Record<string, string>, told: Record<string, string>): boolean {
  return Object.entries(told).every(([key, value]) => known[key] === value);
}
