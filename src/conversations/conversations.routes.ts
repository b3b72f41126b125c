import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS } from '../addresses.js';
import { dispositionCode, idParams, noContent } from '../api-schemas.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import { CONVERSATION_STATES } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { CLOSE_REASONS, MESSAGE_STATUSES, SURVEY_SCALES } from '../events.js';
import { readableConversation } from './access.js';
import { markConversationRead } from './conversations.js';
import { addNote } from './notes.js';
import { serviceWindowView } from './service-window.js';
import { CONVERSATION_FILTERS, listConversations, readTranscript } from './views.js';

const listQuery = z.object({
  state: z
    .enum(CONVERSATION_FILTERS, {
      error: `state must be one of ${CONVERSATION_FILTERS.join(', ')}`,
    })
    .default('open'),
  limit: z.coerce
    .number()
    .int()
    .min(1, { error: 'limit must be between 1 and 500' })
    .max(500, { error: 'limit must be between 1 and 500' })
    .default(200),
});
const conversationSummary = z
  .object({
    id: z.string(),
    state: z.enum(CONVERSATION_STATES),
    customerAddress: z.string(),
    numberAddress: z.string(),
    channel: z.enum(CHANNELS),
    queueId: z.string().nullable(),
    queueName: z.string().nullable(),
    agentId: z.string().nullable(),
    agentName: z.string().nullable(),
    queuedAt: z.iso.datetime().nullable(),
    lastMessageAt: z.iso.datetime(),
    createdAt: z.iso.datetime(),
    closedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ConversationSummary' });
const channel = z.enum(CHANNELS);
const named = z.object({ id: z.string().nullable(), name: z.string().nullable() });
const done = {
  at: z.date(),
  /** Who did it: the note's author, who transferred, reassigned or ended it. */
  actorId: z.string().nullable(),
  actorName: z.string().nullable(),
};
const activityEntry = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('note'), ...done, noteId: z.string(), body: z.string() }),
    z.object({
      kind: z.literal('transfer'),
      ...done,
      fromAgent: named,
      toAgent: named,
      toQueue: named,
      note: z.string().nullable(),
    }),
    z.object({ kind: z.literal('reassign'), ...done, fromAgent: named, toAgent: named }),
    z.object({
      kind: z.literal('closed'),
      ...done,
      reason: z.enum(CLOSE_REASONS),
      disposition: dispositionCode.nullable(),
    }),
    z.object({
      kind: z.literal('survey'),
      ...done,
      scale: z.enum(SURVEY_SCALES),
      score: z.number(),
    }),
    z.object({ kind: z.literal('survey-comment'), ...done, comment: z.string() }),
  ])
  .meta({ id: 'ConversationActivity' });
const noteBody = z.object({
  body: z
    .string()
    .trim()
    .min(1, { error: 'body must not be empty' })
    .max(4000, { error: 'body has at most 4000 characters' }),
});
const noteView = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    authorId: z.string().nullable(),
    body: z.string(),
    createdAt: z.date(),
  })
  .meta({ id: 'ConversationNote' });
const transcriptView = z
  .object({
    conversation: z.object({
      id: z.string(),
      state: z.enum(CONVERSATION_STATES),
      origin: z.enum(['customer', 'agent']),
      numberId: z.string(),
      numberAddress: z.string(),
      messagingServiceSid: z.string().nullable(),
      contactId: z.string(),
      customerAddress: z.string(),
      agentId: z.string().nullable(),
      agentName: z.string().nullable(),
      queueId: z.string().nullable(),
      queueName: z.string().nullable(),
      channel,
      /** Whether agents may send attachments here (the number's flow's agent switch). */
      allowAttachments: z.boolean(),
      serviceWindow: serviceWindowView,
      attributes: z.record(z.string(), z.unknown()),
      createdAt: z.date(),
      closedAt: z.date().nullable(),
      closeReason: z.string().nullable(),
      /** The wrap-up code its closer picked (label from the queue's codes), and their summary. */
      disposition: dispositionCode.nullable(),
      wrapUpSummary: z.string().nullable(),
      /** The queue's codes to end it with, and whether ending needs one. */
      dispositions: z.array(dispositionCode),
      dispositionRequired: z.boolean(),
    }),
    /**
     * The agent's original text, when this conversation answers their origination and its
     * transcript does not start with it (conversations from before originations joined).
     */
    originalText: z.string().nullable(),
    contact: z
      .object({
        id: z.string(),
        address: z.string(),
        name: z.string().nullable(),
        location: z.record(z.string(), z.string()),
        optedOut: z.boolean(),
      })
      .optional(),
    /** Notes, transfers, reassignments and the close, by time, each with who did it. */
    activity: z.array(activityEntry),
    messages: z.array(
      z.object({
        id: z.string(),
        direction: z.enum(['inbound', 'outbound']),
        author: z.enum(['customer', 'agent', 'flow', 'bot']),
        agentId: z.string().nullable(),
        agentName: z.string().nullable(),
        body: z.string(),
        status: z.enum(MESSAGE_STATUSES),
        errorCode: z.number().nullable(),
        errorMessage: z.string().nullable(),
        segments: z.number().nullable(),
        /** Sent as this content template; body is its text. */
        contentSid: z.string().nullable(),
        /** How an RCS sender's Messaging Service carried it: as RCS, or SMS/MMS fallback. */
        sentAs: z.enum(['rcs', 'sms', 'mms']).nullable(),
        /** When retention or an erasure emptied the body and removed the media; null: intact. */
        redactedAt: z.date().nullable(),
        createdAt: z.date(),
        media: z.array(
          z.object({
            id: z.string(),
            contentType: z.string(),
            status: z.enum(['pending', 'stored', 'failed', 'refused']),
            /** Where an agent fetches it, once stored. */
            url: z.string().nullable(),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'Transcript' });
const isoOrNull = (date: Date | null) => (date ? date.toISOString() : null);

/**
 * Transcripts and read marks for whoever may read the conversation; the list of
 * conversations by state for supervisors.
 */
export function registerConversationRoutes(parent: FastifyInstance, deps: { db: Db }): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const readable = readableConversation(deps.db);

    // A static path: the router matches it before `/api/conversations/:id` and apart from
    // `/api/conversations/mine`, whatever the order of registration.
    app.get(
      '/api/conversations',
      {
        onRequest: requireRole('supervisor', 'admin'),
        schema: {
          tags: ['conversations'],
          summary:
            'Conversations in a state (open: every state but closed), most recently active first (supervisors and admins)',
          querystring: listQuery,
          response: { 200: z.array(conversationSummary) },
        },
      },
      async (request) => {
        const rows = await listConversations(deps.db, request.query);
        return rows.map((row) => ({
          ...row,
          queuedAt: isoOrNull(row.queuedAt),
          lastMessageAt: row.lastMessageAt.toISOString(),
          createdAt: row.createdAt.toISOString(),
          closedAt: isoOrNull(row.closedAt),
        }));
      },
    );

    app.get(
      '/api/conversations/:id',
      {
        preHandler: readable,
        schema: {
          tags: ['conversations'],
          summary: 'A conversation with its transcript, media, delivery statuses and contact',
          params: idParams,
          response: { 200: transcriptView },
        },
      },
      async (request) => readTranscript(deps.db, request.params.id),
    );

    app.post(
      '/api/conversations/:id/notes',
      {
        preHandler: readable,
        schema: {
          tags: ['conversations'],
          summary:
            'Add an internal note to a conversation (open or closed): in the transcript, never sent to the customer; by whoever may read it',
          params: idParams,
          body: noteBody,
          response: { 201: noteView },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(
            await addNote(deps.db, request.params.id, currentUser(request).id, request.body.body),
          ),
    );

    app.post(
      '/api/conversations/:id/read',
      {
        preHandler: readable,
        schema: {
          tags: ['conversations'],
          summary:
            "Mark a conversation read up to now: its unread count is 0 until the customer's next message",
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        if (!(await markConversationRead(deps.db, request.params.id, currentUser(request).id))) {
          throw new AppError('not_found', 'no such conversation');
        }
        return reply.status(204).send();
      },
    );
  });
}
