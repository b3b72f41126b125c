import { eq, type SQL, sql } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { textArray } from '../db/json-params.js';
import { contacts } from '../db/schema.js';
import { type Executor, queryPrepared, type Tx } from '../db/store.js';
import { AppError } from '../errors.js';

export type Contact = typeof contacts.$inferSelect;

/**
 * The attributes Twilio's incoming-message webhook tells of a contact (FromCity, FromState,
 * FromZip, FromCountry, ProfileName and the Referral fields, as channels/twilio's locationOf
 * names them). Every message may rewrite them, so they are not the agents' to edit; every
 * other key of `contacts.attributes` is a custom attribute that agents keep.
 */
export const TWILIO_ATTRIBUTES: readonly string[] = [
  'city',
  'state',
  'zip',
  'country',
  'profileName',
  'referralHeadline',
  'referralSourceType',
  'referralSourceUrl',
];

/** How many custom attributes a contact may have. */
export const MAX_CUSTOM_ATTRIBUTES = 50;

/** A contact's attributes apart: what Twilio told, and the custom ones agents keep. */
export function splitAttributes(attributes: Record<string, string>): {
  twilio: Record<string, string>;
  custom: Record<string, string>;
} {
  const twilio: Record<string, string> = {};
  const custom: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (TWILIO_ATTRIBUTES.includes(key)) twilio[key] = value;
    else custom[key] = value;
  }
  return { twilio, custom };
}

/** An edit of a contact's record: only the fields given change; null clears. */
export interface ContactEdit {
  name?: string | null;
  email?: string | null;
  notes?: string | null;
  /** Custom attributes to set, by key; a null value deletes the key. */
  attributes?: Record<string, string | null>;
}

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
  // location every time, and a rewrite would cost a dead tuple, WAL and a row lock. It is
  // locked as a row naming it would lock it (FOR KEY SHARE), for the caller's transaction:
  // an erasure under way (FOR UPDATE) is waited for, then the row, renamed `erased:<id>`, no
  // longer matches, and the address's own contact is found or made below; nothing new (a
  // conversation, a consent) hangs on the anonymous row.
  const [known] = await db
    .select()
    .from(contacts)
    .where(eq(contacts.address, address))
    .for('key share');
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
        WHERE address = ANY(${textArray(told.keys())})`,
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

/**
 * The languages customers asked to be written in (their contact's `language` attribute), by
 * address; an address without one is absent.
 */
export async function contactLanguages(
  db: Executor,
  addresses: readonly string[],
): Promise<Map<string, string>> {
  if (addresses.length === 0) return new Map();
  const rows = await queryPrepared<{ address: string; language: string }>(
    db,
    sql`SELECT address, attributes->>'language' AS language FROM contacts
        WHERE address = ANY(${textArray(new Set(addresses))})
          AND attributes ? 'language'`,
  );
  return new Map(rows.map((row) => [row.address, row.language]));
}

function containsAll(known: Record<string, string>, told: Record<string, string>): boolean {
  return Object.entries(told).every(([key, value]) => known[key] === value);
}

/** SQL: how many custom attributes (not Twilio's) the jsonb object `attributes` has. */
function customCount(attributes: SQL): SQL {
  return sql`(SELECT count(*) FROM jsonb_object_keys(${attributes}) AS k(key)
               WHERE k.key <> ALL(${textArray(TWILIO_ATTRIBUTES)}))`;
}

/**
 * Applies an edit to a contact. Attributes are merged by the UPDATE itself, never read and
 * written back, so that two agents setting different keys at once both keep theirs; the same
 * statement refuses an edit that would leave more than MAX_CUSTOM_ATTRIBUTES custom ones.
 */
export async function updateContact(
  tx: Executor,
  contactId: string,
  edit: ContactEdit,
): Promise<Contact> {
  const set: PgUpdateSetSource<typeof contacts> = {};
  // A blank field is an empty one: contactName then falls back to the profile name.
  if (edit.name !== undefined) set.name = edit.name?.trim() || null;
  if (edit.email !== undefined) set.email = edit.email?.trim() || null;
  if (edit.notes !== undefined) set.notes = edit.notes?.trim() ? edit.notes : null;
  let within = sql`true`;
  const entries = Object.entries(edit.attributes ?? {});
  if (entries.length > 0) {
    const setting = Object.fromEntries(entries.filter(([, value]) => value !== null));
    const deleting = entries.filter(([, value]) => value === null).map(([key]) => key);
    const merged = sql`((${contacts.attributes} || ${JSON.stringify(setting)}::jsonb)
      - ${textArray(deleting)})`;
    set.attributes = merged;
    // An edit that adds none past the limit passes, even on a contact already over it.
    within = sql`${customCount(merged)} <= greatest(${MAX_CUSTOM_ATTRIBUTES}::bigint, ${customCount(sql`${contacts.attributes}`)})`;
  }
  if (Object.keys(set).length === 0) {
    const [contact] = await tx.select().from(contacts).where(eq(contacts.id, contactId));
    if (!contact) throw new AppError('not_found', 'no such contact');
    return contact;
  }
  // An erased contact stays anonymous: a form opened before the erasure must not refill it.
  const [updated] = await tx
    .update(contacts)
    .set(set)
    .where(sql`${contacts.id} = ${contactId} AND ${contacts.erasedAt} IS NULL AND ${within}`)
    .returning();
  if (updated) return updated;
  const [known] = await tx
    .select({ erasedAt: contacts.erasedAt })
    .from(contacts)
    .where(eq(contacts.id, contactId));
  if (!known) throw new AppError('not_found', 'no such contact');
  if (known.erasedAt) {
    throw new AppError('conflict', 'the contact was erased: nothing more is kept about them');
  }
  throw new AppError(
    'bad_request',
    `a contact keeps at most ${MAX_CUSTOM_ATTRIBUTES} custom attributes: remove some first`,
    'attributes',
  );
}
