/**
 * What people did to a conversation besides messaging, for its transcript: internal notes,
 * transfers (with their notes), supervisors' reassignments and the close, each with who did
 * it, and the customer's survey answer and comment once it has closed. Read from the notes and the event log in a fixed number of queries, whatever the
 * length of the history: names of people and queues are looked up once for all entries.
 */
import { asc, eq, inArray } from 'drizzle-orm';
import { conversationNotes, type DispositionCode, queues, users } from '../db/schema.js';
import type { Executor } from '../db/store.js';
import { readConversationEvents } from '../event-log.js';
import type { CloseReason, SurveyScale } from '../events.js';

interface Named {
  id: string | null;
  name: string | null;
}

interface Done {
  at: Date;
  /** Who did it: the note's author, who transferred, reassigned or ended. */
  actorId: string | null;
  actorName: string | null;
}

export type Activity = Done &
  (
    | { kind: 'note'; noteId: string; body: string }
    | {
        kind: 'transfer';
        fromAgent: Named;
        toAgent: Named;
        toQueue: Named;
        note: string | null;
      }
    | { kind: 'reassign'; fromAgent: Named; toAgent: Named }
    | { kind: 'closed'; reason: CloseReason; disposition: DispositionCode | null }
    /** By the customer (no actor): their answer to the survey, and their comment. */
    | { kind: 'survey'; scale: SurveyScale; score: number }
    | { kind: 'survey-comment'; comment: string }
  );

/**
 * The conversation's activity by time. `dispositions`: its queue's codes, which give a
 * close's disposition its label (a code since removed from the queue reads as itself).
 */
export async function readActivity(
  db: Executor,
  conversationId: string,
  dispositions: readonly DispositionCode[],
): Promise<Activity[]> {
  const notes = await db
    .select()
    .from(conversationNotes)
    .where(eq(conversationNotes.conversationId, conversationId))
    .orderBy(asc(conversationNotes.createdAt));
  const logged = await readConversationEvents(db, conversationId, [
    'conversation.transferred',
    'conversation.assigned',
    'conversation.closed',
    'survey.answered',
    'survey.commented',
  ]);
  // Assignments by auto-accept are routing's own doing; only a supervisor's is activity.
  const done = logged.filter(
    (event) => event.type !== 'conversation.assigned' || event.payload.via === 'reassign',
  );

  const userIds = new Set<string>();
  const queueIds = new Set<string>();
  for (const note of notes) if (note.authorId) userIds.add(note.authorId);
  for (const event of done) {
    if (event.type === 'survey.answered' || event.type === 'survey.commented') continue;
    const p = event.payload;
    if (p.byUserId) userIds.add(p.byUserId);
    if (event.type === 'conversation.transferred') {
      if (event.payload.fromAgentId) userIds.add(event.payload.fromAgentId);
      if (event.payload.toAgentId) userIds.add(event.payload.toAgentId);
      if (event.payload.toQueueId) queueIds.add(event.payload.toQueueId);
    } else if (event.type === 'conversation.assigned') {
      userIds.add(event.payload.agentId);
      if (event.payload.previousAgentId) userIds.add(event.payload.previousAgentId);
    }
  }
  const userNames = await namesOf(db, users, [...userIds]);
  const queueNames = await namesOf(db, queues, [...queueIds]);
  const person = (id: string | null): Named => ({
    id,
    name: id ? (userNames.get(id) ?? null) : null,
  });
  const labels = new Map(dispositions.map((choice) => [choice.code, choice.label]));

  const activity: Activity[] = notes.map((note) => ({
    kind: 'note',
    at: note.createdAt,
    actorId: note.authorId,
    actorName: person(note.authorId).name,
    noteId: note.id,
    body: note.body,
  }));
  for (const event of done) {
    if (event.type === 'survey.answered') {
      const { scale, score } = event.payload;
      activity.push({
        kind: 'survey',
        at: event.createdAt,
        actorId: null,
        actorName: null,
        scale,
        score,
      });
      continue;
    }
    if (event.type === 'survey.commented') {
      const { comment } = event.payload;
      activity.push({
        kind: 'survey-comment',
        at: event.createdAt,
        actorId: null,
        actorName: null,
        comment,
      });
      continue;
    }
    const by = person(event.payload.byUserId);
    const base = { at: event.createdAt, actorId: by.id, actorName: by.name };
    switch (event.type) {
      case 'conversation.transferred': {
        const { fromAgentId, toAgentId, toQueueId, note } = event.payload;
        activity.push({
          ...base,
          kind: 'transfer',
          fromAgent: person(fromAgentId),
          toAgent: person(toAgentId),
          toQueue: { id: toQueueId, name: toQueueId ? (queueNames.get(toQueueId) ?? null) : null },
          note,
        });
        break;
      }
      case 'conversation.assigned':
        activity.push({
          ...base,
          kind: 'reassign',
          fromAgent: person(event.payload.previousAgentId),
          toAgent: person(event.payload.agentId),
        });
        break;
      case 'conversation.closed': {
        const code = event.payload.disposition ?? null;
        activity.push({
          ...base,
          kind: 'closed',
          reason: event.payload.reason,
          disposition: code === null ? null : { code, label: labels.get(code) ?? code },
        });
        break;
      }
    }
  }
  return activity.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** Names by id of users or queues, in one query. */
async function namesOf(
  db: Executor,
  table: typeof users | typeof queues,
  ids: string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: table.id, name: table.name })
    .from(table)
    .where(inArray(table.id, ids));
  return new Map(rows.map((row) => [row.id, row.name]));
}
