/**
 * Internal notes: what agents and supervisors write on a conversation for one another. A
 * note is in the transcript and the event log (note.added), never in the outbox: the
 * customer does not receive it. Closed conversations take notes too (a follow-up, a call
 * back).
 */
import { eq } from 'drizzle-orm';
import { conversationNotes, conversations } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { inTransaction } from '../db/transactions.js';
import { AppError } from '../errors.js';
import { appendEvent } from '../event-log.js';

export type Note = typeof conversationNotes.$inferSelect;

/** Adds a note by `authorId` to the conversation, with its event, in one transaction. */
export async function addNote(
  db: Db,
  conversationId: string,
  authorId: string,
  body: string,
): Promise<Note> {
  return inTransaction(db, async (tx) => {
    // Supervisors may read any id, even one that names no conversation.
    const [conversation] = await tx
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.id, conversationId));
    if (!conversation) throw new AppError('not_found', 'no such conversation');
    const [note] = await tx
      .insert(conversationNotes)
      .values({ conversationId, authorId, body })
      .returning();
    await appendEvent(tx, 'note.added', { conversationId }, { noteId: note!.id, authorId, body });
    return note!;
  });
}
