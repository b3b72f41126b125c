/**
 * Routing's HTTP API: presence, offers, the agent's conversations, transfer, reassign, end,
 * queue statistics, queue positions and the directory of transfer targets. Thin: parse,
 * authorise, call one function.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS, perChannel } from '../addresses.js';
import { idParams, noContent } from '../api-schemas.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import { ROLES } from '../auth/users.js';
import { readableConversation } from '../conversations/access.js';
import type { Db } from '../db/store.js';
import { OFFER_REASONS, PRESENCES } from '../events.js';
import {
  type CloseEnded,
  endConversation,
  reassignConversation,
  transferConversation,
} from './handover.js';
import { acceptOffer, rejectOffer } from './offer-decisions.js';
import { listPendingOffers } from './offers.js';
import { type PresenceView, setPresence } from './presence.js';
import { queuePosition } from './queueing.js';
import { directory, listMyConversations, queueStats } from './views.js';

const presenceBody = z.object({
  presence: z.enum(PRESENCES, { error: `presence must be one of ${PRESENCES.join(', ')}` }),
});
const presenceView = z
  .object({
    agentId: z.string(),
    presence: z.enum(PRESENCES),
    presenceChangedAt: z.iso.datetime(),
  })
  .meta({ id: 'Presence' });
const channel = z.enum(CHANNELS);
const offerView = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    reason: z.enum(OFFER_REASONS),
    originalText: z.string().nullable(),
    transferNote: z.string().nullable(),
    expiresAt: z.iso.datetime(),
    createdAt: z.iso.datetime(),
    conversation: z.object({
      customerAddress: z.string(),
      numberId: z.string(),
      numberAddress: z.string(),
      channel,
      queueId: z.string().nullable(),
      queueName: z.string().nullable(),
      queuedAt: z.iso.datetime().nullable(),
      lastMessageAt: z.iso.datetime(),
    }),
  })
  .meta({ id: 'Offer' });
const myConversationView = z
  .object({
    id: z.string(),
    state: z.enum(['offered', 'active']),
    customerAddress: z.string(),
    numberId: z.string(),
    numberAddress: z.string(),
    channel,
    queueId: z.string().nullable(),
    lastMessageAt: z.iso.datetime(),
    offerId: z.string().nullable(),
    unread: z.number().int(),
    lastMessage: z
      .object({
        body: z.string(),
        direction: z.enum(['inbound', 'outbound']),
        author: z.enum(['customer', 'agent', 'flow', 'bot']),
        agentId: z.string().nullable(),
        agentName: z.string().nullable(),
        createdAt: z.iso.datetime(),
      })
      .nullable(),
  })
  .meta({ id: 'MyConversation' });
const transferBody = z
  .object({
    toAgentId: z.uuid({ error: 'toAgentId must be a UUID' }).optional(),
    toQueueId: z.uuid({ error: 'toQueueId must be a UUID' }).optional(),
    note: z.string().trim().max(2000, { error: 'note has at most 2000 characters' }).optional(),
  })
  .refine((body) => (body.toAgentId === undefined) !== (body.toQueueId === undefined), {
    error: 'give exactly one of toAgentId and toQueueId',
    path: ['toAgentId'],
  });
/** Optional (Fastify gives null for none): a queue without dispositions needs no body. */
const endBody = z
  .object({
    disposition: z
      .string()
      .trim()
      .max(40, { error: 'disposition has at most 40 characters' })
      .optional(),
    summary: z
      .string()
      .trim()
      .max(2000, { error: 'summary has at most 2000 characters' })
      .optional(),
  })
  .nullish();
const presenceCounts = z.object({
  available: z.number(),
  away: z.number(),
  offline: z.number(),
  busy: z.number(),
});
/** A figure for each channel: an agent's load or capacity. */
const perChannelNumbers = z.object(perChannel(() => z.number()));
const statsView = z
  .object({
    queues: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        priority: z.number(),
        strategy: z.string(),
        waiting: z.number(),
        longestWaitSeconds: z.number(),
        offered: z.number(),
        active: z.number(),
        agents: presenceCounts,
      }),
    ),
    agents: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        presence: z.enum(PRESENCES),
        presenceChangedAt: z.iso.datetime(),
        load: perChannelNumbers,
        capacity: perChannelNumbers,
        busy: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'QueueStats' });

const directoryView = z
  .object({
    agents: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        role: z.enum(ROLES),
        presence: z.enum(PRESENCES),
      }),
    ),
    queues: z.array(z.object({ id: z.string(), name: z.string() })),
  })
  .meta({ id: 'Directory' });

const iso = (date: Date) => date.toISOString();
const isoOrNull = (date: Date | null) => (date ? date.toISOString() : null);
const presenceJson = (view: PresenceView) => ({
  ...view,
  presenceChangedAt: iso(view.presenceChangedAt),
});

export interface RoutingRouteDeps {
  db: Db;
  /** How an ended conversation closes (the flow's closing, above routing). */
  closeConversation: CloseEnded;
}

/** Registers routing's routes, for signed-in users only. */
export function registerRoutingRoutes(parent: FastifyInstance, deps: RoutingRouteDeps): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const { db } = deps;
    const supervisors = requireRole('supervisor', 'admin');
    const readable = readableConversation(db);

    app.put(
      '/api/agents/me/presence',
      {
        schema: {
          tags: ['routing'],
          summary: 'Set my presence: available (offered conversations), away or offline',
          description:
            'Available and away last while a GET /api/events socket of this user is open; with none for PRESENCE_GRACE_SECONDS (from now, or from when the last one closed), the presence becomes offline (event reason: no-desk-connection).',
          body: presenceBody,
          response: { 200: presenceView },
        },
      },
      async (request) => {
        const user = currentUser(request);
        return presenceJson(await setPresence(db, user.id, request.body.presence, user.id));
      },
    );

    app.put(
      '/api/agents/:id/presence',
      {
        onRequest: supervisors,
        schema: {
          tags: ['routing'],
          summary: "Set an agent's presence (supervisors and admins)",
          params: idParams,
          body: presenceBody,
          response: { 200: presenceView },
        },
      },
      async (request) =>
        presenceJson(
          await setPresence(db, request.params.id, request.body.presence, currentUser(request).id),
        ),
    );

    app.get(
      '/api/offers',
      {
        schema: {
          tags: ['routing'],
          summary: 'My pending offers, oldest first, with the original text of an affinity',
          response: { 200: z.array(offerView) },
        },
      },
      async (request) => {
        const offers = await listPendingOffers(db, currentUser(request).id);
        return offers.map((offer) => ({
          ...offer,
          expiresAt: iso(offer.expiresAt),
          createdAt: iso(offer.createdAt),
          conversation: {
            ...offer.conversation,
            queuedAt: isoOrNull(offer.conversation.queuedAt),
            lastMessageAt: iso(offer.conversation.lastMessageAt),
          },
        }));
      },
    );

    app.post(
      '/api/offers/:id/accept',
      {
        schema: {
          tags: ['routing'],
          summary: 'Accept my offer: the conversation becomes active with me',
          params: idParams,
          response: { 200: z.object({ conversationId: z.string() }) },
        },
      },
      async (request) => acceptOffer(db, request.params.id, currentUser(request).id),
    );

    app.post(
      '/api/offers/:id/reject',
      {
        schema: {
          tags: ['routing'],
          summary: 'Reject my offer: the conversation is offered to another agent',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await rejectOffer(db, request.params.id, currentUser(request).id);
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/conversations/mine',
      {
        schema: {
          tags: ['routing'],
          summary:
            'Conversations offered to me or active with me, with my unread count and the latest message',
          response: { 200: z.array(myConversationView) },
        },
      },
      async (request) => {
        const mine = await listMyConversations(db, currentUser(request).id);
        return mine.map((conversation) => ({
          ...conversation,
          lastMessageAt: iso(conversation.lastMessageAt),
          lastMessage: conversation.lastMessage && {
            ...conversation.lastMessage,
            createdAt: iso(conversation.lastMessage.createdAt),
          },
        }));
      },
    );

    app.post(
      '/api/conversations/:id/transfer',
      {
        preHandler: readable,
        schema: {
          tags: ['routing'],
          summary:
            'Transfer a conversation, with a note, to an agent (offered to them) or a queue; by its agent, or a supervisor or admin',
          params: idParams,
          body: transferBody,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        const { toAgentId, toQueueId, note } = request.body;
        const target = toAgentId ? { toAgentId } : { toQueueId: toQueueId! };
        await transferConversation(
          db,
          request.params.id,
          currentUser(request),
          target,
          note || null,
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/conversations/:id/reassign',
      {
        onRequest: supervisors,
        preHandler: readable,
        schema: {
          tags: ['routing'],
          summary:
            'Give a conversation to an agent directly, active at once (supervisors and admins)',
          params: idParams,
          body: z.object({ agentId: z.uuid({ error: 'agentId must be a UUID' }) }),
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await reassignConversation(
          db,
          request.params.id,
          currentUser(request),
          request.body.agentId,
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/conversations/:id/end',
      {
        preHandler: readable,
        schema: {
          tags: ['routing'],
          summary:
            'End a conversation (final response and survey are sent) with a disposition code of its queue and a summary; by its agent, or a supervisor or admin',
          description:
            "The disposition must be one of the queue's codes (the transcript lists them); a queue that requires one refuses an ending without it (400, field disposition).",
          params: idParams,
          body: endBody,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await endConversation(
          db,
          request.params.id,
          currentUser(request),
          deps.closeConversation,
          request.body ?? {},
        );
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/queues/stats',
      {
        onRequest: supervisors,
        schema: {
          tags: ['routing'],
          summary:
            'Per queue: waiting, longest wait, offered, active, members by presence; per agent: load',
          response: { 200: statsView },
        },
      },
      async () => {
        const stats = await queueStats(db);
        return {
          queues: stats.queues,
          agents: stats.agents.map((agent) => ({
            ...agent,
            presenceChangedAt: iso(agent.presenceChangedAt),
          })),
        };
      },
    );

    app.get(
      '/api/directory',
      {
        schema: {
          tags: ['routing'],
          summary: 'Users (not disabled) and queues by name: the targets of a transfer or reassign',
          response: { 200: directoryView },
        },
      },
      async () => directory(db),
    );

    app.get(
      '/api/conversations/:id/queue-position',
      {
        preHandler: readable,
        schema: {
          tags: ['routing'],
          summary:
            "A conversation's place in its queue and estimated wait; position null when it is not waiting",
          params: idParams,
          response: {
            200: z.object({
              conversationId: z.string(),
              position: z.number().nullable(),
              estimatedWaitSeconds: z.number().nullable(),
            }),
          },
        },
      },
      async (request) => {
        const position = await queuePosition(db, request.params.id);
        return {
          conversationId: request.params.id,
          position: position?.position ?? null,
          estimatedWaitSeconds: position?.estimatedWaitSeconds ?? null,
        };
      },
    );
  });
}
