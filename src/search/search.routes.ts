import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import { CHANNELS } from '../addresses.js';
import { boundOf, countryCode, dayOrInstant } from '../api-schemas.js';
import { currentUser, registerSignedInRoutes } from '../auth/guard.js';
import { CONVERSATION_FILTERS } from '../conversations/views.js';
import { CONVERSATION_STATES } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { SURVEY_SCALES } from '../events.js';
import { searchContacts, searchConversations } from './search.js';

const defaultCountry = countryCode.optional();
const text = (field: string) =>
  z
    .string()
    .trim()
    .min(1, { error: `${field} must not be empty` })
    .max(200, { error: `${field} may have at most 200 characters` })
    .optional();
const uuidOf = (field: string) => z.uuid({ error: `${field} must be a UUID` }).optional();
const score = (field: string) =>
  z.coerce
    .number({ error: `${field} must be a number from 0 to 5` })
    .int({ error: `${field} must be a whole number from 0 to 5` })
    .min(0, { error: `${field} must be a number from 0 to 5` })
    .max(5, { error: `${field} must be a number from 0 to 5` })
    .optional();
const cursor = z.string().max(200, { error: 'cursor is not one a search gave' }).optional();
const limit = z.coerce
  .number()
  .int()
  .min(1, { error: 'limit must be between 1 and 100' })
  .max(100, { error: 'limit must be between 1 and 100' })
  .default(25);

const conversationSearchQuery = z.object({
  q: text('q'),
  phone: text('phone'),
  defaultCountry,
  name: text('name'),
  agentId: uuidOf('agentId'),
  queueId: uuidOf('queueId'),
  numberId: uuidOf('numberId'),
  state: z
    .enum(CONVERSATION_FILTERS, {
      error: `state must be one of ${CONVERSATION_FILTERS.join(', ')}`,
    })
    .optional(),
  disposition: text('disposition'),
  scoreMin: score('scoreMin'),
  scoreMax: score('scoreMax'),
  from: dayOrInstant('from'),
  to: dayOrInstant('to'),
  cursor,
  limit,
});

const conversationHit = z
  .object({
    id: z.string(),
    state: z.enum(CONVERSATION_STATES),
    createdAt: z.date(),
    closedAt: z.date().nullable(),
    contactId: z.string(),
    customerAddress: z.string(),
    contactName: z.string().nullable(),
    numberId: z.string(),
    numberAddress: z.string(),
    channel: z.enum(CHANNELS),
    queueId: z.string().nullable(),
    queueName: z.string().nullable(),
    agentId: z.string().nullable(),
    agentName: z.string().nullable(),
    disposition: z.string().nullable(),
    /** The survey's answer: 1–5, or 1 (yes) / 0 (no). */
    score: z.number().nullable(),
    scale: z.enum(SURVEY_SCALES).nullable(),
    /** The conversation's newest message holding the words, trimmed around them. */
    match: z.object({ messageId: z.string(), snippet: z.string(), createdAt: z.date() }).nullable(),
  })
  .meta({ id: 'ConversationHit' });

const contactHit = z
  .object({
    id: z.string(),
    address: z.string(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    createdAt: z.date(),
    /** Its conversations the caller may read, and when the latest of them started. */
    conversations: z.number(),
    lastConversationAt: z.date().nullable(),
  })
  .meta({ id: 'ContactHit' });

const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ results: z.array(item), nextCursor: z.string().nullable() });

/** Search over conversations and contacts, for every signed-in role (agents: what they may read). */
export function registerSearchRoutes(parent: FastifyInstance, deps: { db: Db }): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();

    app.get(
      '/api/search/conversations',
      {
        schema: {
          tags: ['search'],
          summary:
            'Conversations by words in their messages (or contact name), phone number, name, agent, queue, number, state, disposition, score and start date, newest first (agents: those they may read)',
          querystring: conversationSearchQuery,
          response: { 200: pageOf(conversationHit) },
        },
      },
      async (request) => {
        const { q, from, to, defaultCountry: country, ...filters } = request.query;
        const search = {
          ...filters,
          words: q,
          defaultCountry: country as CountryCode | undefined,
          from: boundOf(from, false),
          to: boundOf(to, true),
        };
        if (search.from && search.to && search.from >= search.to) {
          throw new AppError('bad_request', 'to must be after from', 'to');
        }
        if ((search.scoreMin ?? 0) > (search.scoreMax ?? 5)) {
          throw new AppError('bad_request', 'scoreMax must be at least scoreMin', 'scoreMax');
        }
        return searchConversations(deps.db, currentUser(request), search);
      },
    );

    app.get(
      '/api/search/contacts',
      {
        schema: {
          tags: ['search'],
          summary:
            'Contacts by name, email or phone number, newest first (agents: contacts of conversations they may read)',
          querystring: z.object({ q: text('q'), defaultCountry, cursor, limit }),
          response: { 200: pageOf(contactHit) },
        },
      },
      async (request) => {
        const { defaultCountry: country, ...search } = request.query;
        return searchContacts(deps.db, currentUser(request), {
          ...search,
          defaultCountry: country as CountryCode | undefined,
        });
      },
    );
  });
}
