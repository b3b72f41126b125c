import { and, asc, desc, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { currentUser, requireUser } from '../auth/guard.js';
import {
  consents,
  contacts,
  conversations,
  media,
  messages,
  numbers,
  offers,
  users,
} from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { canReadConversation } from './conversations.js';

const idParams = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });

/** Transcripts and contact history, for whoever may read the conversation. */
export function registerConversationRoutes(parent: FastifyInstance, deps: { db: Db }): void {
  const app = parent.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/conversations/:id',
    {
      preHandler: requireUser(),
      schema: {
        tags: ['conversations'],
        summary: 'A conversation with its transcript, media, delivery statuses and contact',
        params: idParams,
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await canReadConversation(deps.db, currentUser(request), id))) {
        throw new AppError('not_found', 'no such conversation');
      }
      return readTranscript(deps.db, id);
    },
  );

  app.get(
    '/api/contacts/:id/history',
    {
      preHandler: requireUser(),
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
}

export async function readTranscript(db: Db, conversationId: string) {
  const [conversation] = await db
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
      attributes: conversations.attributes,
      createdAt: conversations.createdAt,
      closedAt: conversations.closedAt,
      closeReason: conversations.closeReason,
    })
    .from(conversations)
    .innerJoin(numbers, eq(numbers.id, conversations.numberId))
    .leftJoin(users, eq(users.id, conversations.agentId))
    .where(eq(conversations.id, conversationId));
  if (!conversation) throw new AppError('not_found', 'no such conversation');
  const rows = await db
    .select()
    .from(messages)
    .where(eq(messages.conversationId, conversationId))
    .orderBy(asc(messages.createdAt));
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
