import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS } from '../addresses.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import { CONVERSATION_STATES } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { readableConversation } from './access.js';
import { markConversationRead } from './conversations.js';
import {
  CONVERSATION_FILTERS,
  contactHistory,
  listConversations,
  readTranscript,
} from './views.js';

const idParams = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });
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
const conversationSummary = z.object({
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
});
const isoOrNull = (date: Date | null) => (date ? date.toISOString() : null);

/**
 * Transcripts, read marks and contact history for whoever may read the conversation; the
 * list of conversations by state for supervisors.
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
        },
      },
      async (request, reply) => {
        if (!(await markConversationRead(deps.db, request.params.id, currentUser(request).id))) {
          throw new AppError('not_found', 'no such conversation');
        }
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/contacts/:id/history',
      {
        schema: {
          tags: ['conversations'],
          summary: "A contact's past conversations and agents' originations to them",
          params: idParams,
        },
      },
      async (request) => {
        const user = currentUser(request);
        const history = await contactHistory(deps.db, request.params.id);
        // Agents see the history of contacts they are talking to now.
        if (user.role === 'agent') {
          const mine = history.conversations.some(
            (c) => c.agentId === user.id && c.state !== 'closed',
          );
          if (!mine) throw new AppError('not_found', 'no such contact');
        }
        return history;
      },
    );
  });
}
