import { and, asc, desc, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { channelOfKind } from '../addresses.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import {
  CONVERSATION_STATES,
  consents,
  contacts,
  conversations,
  flows,
  media,
  messages,
  numbers,
  offers,
  queues,
  users,
} from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { canReadConversation, markConversationRead } from './conversations.js';
import { CONVERSATION_FILTERS, listConversations } from './views.js';

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
  channel: z.enum(['sms', 'whatsapp']),
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

/**
 * The preHandler of every route of one conversation (`:id`), run once its params are valid:
 * the one rule of who may read it (canReadConversation). Others' conversations are reported
 * absent, not forbidden, so an agent learns nothing of them.
 */
export function readableConversation(db: Db) {
  return async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    if (!(await canReadConversation(db, currentUser(request), id))) {
      throw new AppError('not_found', 'no such conversation');
    }
  };
}

export async function readTranscript(db: Db, conversationId: string) {
  const [row] = await db
    .select({
      id: conversations.id,
      state: conversations.state,
      origin: conversations.origin,
      numberId: conversations.numberId,
      numberAddress: numbers.address,
      messagingServiceSid: numbers.messagingServiceSid,
      contactId: conversations.contactId,
      customerAddress: conversations.customerAddress,
      agentId: conversations.agentId,
      agentName: users.name,
      queueId: conversations.queueId,
      queueName: queues.name,
      numberKind: numbers.kind,
      flowAllowsAttachments: flows.allowAttachments,
      attributes: conversations.attributes,
      createdAt: conversations.createdAt,
      closedAt: conversations.closedAt,
      closeReason: conversations.closeReason,
    })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .leftJoin(flows, eq(flows.id, numbers.flowId))
    .leftJoin(queues, eq(queues.id, conversations.queueId))
    .leftJoin(users, eq(users.id, conversations.agentId))
    .where(eq(conversations.id, conversationId));
  if (!row) throw new AppError('not_found', 'no such conversation');
  const { numberKind, flowAllowsAttachments, ...fields } = row;
  const conversation = {
    ...fields,
    channel: channelOfKind(numberKind),
    // The composer offers attachments unless the number's flow refuses them.
    allowAttachments: flowAllowsAttachments ?? true,
  };
  // Each message names its agent: a conversation may have changed hands since.
  const rows = (
    await db
      .select({ message: messages, agentName: users.name })
      .from(messages)
      .leftJoin(users, eq(users.id, messages.agentId))
      .where(eq(messages.conversationId, conversationId))
      .orderBy(asc(messages.createdAt))
  ).map((row) => ({ ...row.message, agentName: row.agentName }));
  const mediaRows = rows.length
    ? await db
        .select()
        .from(media)
        .where(
          inArray(
            media.messageId,
            rows.map((m) => m.id),
          ),
        )
        .orderBy(asc(media.position))
    : [];
  const [contact] = await db.select().from(contacts).where(eq(contacts.id, conversation.contactId));
  const [consent] = await db
    .select({ optedOut: consents.optedOut, changedAt: consents.changedAt })
    .from(consents)
    .where(
      and(
        eq(consents.contactId, conversation.contactId),
        eq(consents.sender, conversation.messagingServiceSid ?? conversation.numberAddress),
      ),
    );
  // The agent's original text when this conversation answers their origination.
  const [affinityOffer] = await db
    .select({ originalText: offers.originalText })
    .from(offers)
    .where(and(eq(offers.conversationId, conversationId), isNotNull(offers.originalText)))
    .orderBy(desc(offers.createdAt))
    .limit(1);
  return {
    conversation,
    originalText: affinityOffer?.originalText ?? null,
    contact: contact && {
      id: contact.id,
      address: contact.address,
      name: contact.name,
      location: contact.attributes,
      optedOut: consent?.optedOut ?? false,
    },
    messages: rows.map((m) => ({
      id: m.id,
      direction: m.direction,
      author: m.author,
      agentId: m.agentId,
      agentName: m.agentName,
      body: m.body,
      status: m.status,
      errorCode: m.errorCode,
      errorMessage: m.errorMessage,
      segments: m.segments,
      createdAt: m.createdAt,
      media: mediaRows
        .filter((x) => x.messageId === m.id)
        .map((x) => ({
          id: x.id,
          contentType: x.contentType,
          status: x.status,
          url: x.status === 'stored' ? `/api/media/${x.id}` : null,
        })),
    })),
  };
}

export async function contactHistory(db: Db, contactId: string) {
  const [contact] = await db.select().from(contacts).where(eq(contacts.id, contactId));
  if (!contact) throw new AppError('not_found', 'no such contact');
  const past = await db
    .select({
      id: conversations.id,
      state: conversations.state,
      numberAddress: numbers.address,
      agentId: conversations.agentId,
      agentName: users.name,
      createdAt: conversations.createdAt,
      closedAt: conversations.closedAt,
      closeReason: conversations.closeReason,
    })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .leftJoin(users, eq(users.id, conversations.agentId))
    .where(eq(conversations.contactId, contactId))
    .orderBy(desc(conversations.createdAt));
  // Originations sent `on-reply` belong to no conversation until the customer answers.
  const originations = await db
    .select({
      messageId: messages.id,
      numberAddress: numbers.address,
      agentId: messages.agentId,
      agentName: users.name,
      body: messages.body,
      status: messages.status,
      createdAt: messages.createdAt,
    })
    .from(messages)
    .innerJoin(numbers, eq(numbers.id, messages.numberId))
    .leftJoin(users, eq(users.id, messages.agentId))
    .where(
      and(
        eq(messages.toAddress, contact.address),
        eq(messages.author, 'agent'),
        isNull(messages.conversationId),
      ),
    )
    .orderBy(desc(messages.createdAt))
    .limit(100);
  return {
    contact: {
      id: contact.id,
      address: contact.address,
      name: contact.name,
      location: contact.attributes,
    },
    conversations: past,
    originations,
  };
}
