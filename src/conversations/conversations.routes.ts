import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS } from '../addresses.js';
import { idParams, noContent } from '../api-schemas.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import { CONVERSATION_STATES } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { MESSAGE_STATUSES } from '../events.js';
import { readableConversation } from './access.js';
import { markConversationRead } from './conversations.js';
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
      allowAttachments: z.boolean(),
      serviceWindow: serviceWindowView,
      attributes: z.record(z.string(), z.unknown()),
      createdAt: z.date(),
      closedAt: z.date().nullable(),
      closeReason: z.string().nullable(),
    }),
    /** The agent's original text, when this conversation answers their origination. */
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
