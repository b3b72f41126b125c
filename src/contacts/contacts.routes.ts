import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANNELS } from '../addresses.js';
import { idParams } from '../api-schemas.js';
import { actorOf } from '../audit/audit-log.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import { MAX_CUSTOM_ATTRIBUTES, TWILIO_ATTRIBUTES } from '../consent/contacts.js';
import { agentHoldsContact, readsEveryConversation } from '../conversations/access.js';
import { CONVERSATION_STATES } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { MESSAGE_STATUSES, SURVEY_SCALES } from '../events.js';
import { eraseContact } from '../retention/erasure.js';
import { editContact, readContactRecord } from './contact-record.js';

const attributeKey = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, {
    error: 'an attribute name is 1 to 64 letters, digits, dots, dashes or underscores',
  })
  .refine((key) => !TWILIO_ATTRIBUTES.includes(key), {
    error: `${TWILIO_ATTRIBUTES.join(', ')} are what Twilio tells of the contact: choose another name`,
  });
const contactEdit = z
  .strictObject({
    name: z.string().max(200, { error: 'name must be at most 200 characters' }).nullable(),
    email: z
      .email({ error: 'email must be an email address such as ana@example.com' })
      .max(254, { error: 'email must be at most 254 characters' })
      .nullable(),
    notes: z.string().max(10_000, { error: 'notes must be at most 10,000 characters' }).nullable(),
    /** Custom attributes to set, by name; null deletes one. The others stay as they are. */
    attributes: z
      .record(
        attributeKey,
        z
          .string()
          .max(1_000, { error: 'an attribute value must be at most 1,000 characters' })
          .nullable(),
        // The key's own message, not zod's generic "Invalid key in record".
        { error: (issue) => (issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined) },
      )
      .refine((attributes) => Object.keys(attributes).length <= MAX_CUSTOM_ATTRIBUTES, {
        error: `a contact keeps at most ${MAX_CUSTOM_ATTRIBUTES} custom attributes`,
      }),
  })
  .partial()
  .meta({ id: 'ContactEdit' });

const contactRecordView = z
  .object({
    id: z.string(),
    address: z.string(),
    channel: z.enum(CHANNELS),
    /** The name kept on the contact (editable); null when none was given. */
    name: z.string().nullable(),
    /** The name agents see: the contact's, else the profile name their channel sent. */
    displayName: z.string().nullable(),
    email: z.string().nullable(),
    notes: z.string().nullable(),
    /** Custom attributes agents keep (editable). */
    attributes: z.record(z.string(), z.string()),
    /** What Twilio's webhook told of the contact (city, state, zip, country, profileName, …). */
    twilioAttributes: z.record(z.string(), z.string()),
    /** What bots collected in the contact's conversations: each key's latest value. */
    collected: z.array(
      z.object({
        key: z.string(),
        value: z.string(),
        conversationId: z.string(),
        collectedAt: z.date(),
      }),
    ),
    /** Consent towards each sender (a number, or a Messaging Service) they know. */
    consents: z.array(
      z.object({
        sender: z.string(),
        senderLabel: z.string(),
        optedOut: z.boolean(),
        changedAt: z.date().nullable(),
      }),
    ),
    /** Every conversation of the contact, newest first. */
    conversations: z.array(
      z.object({
        id: z.string(),
        state: z.enum(CONVERSATION_STATES),
        channel: z.enum(CHANNELS),
        numberAddress: z.string(),
        queueName: z.string().nullable(),
        agentId: z.string().nullable(),
        agentName: z.string().nullable(),
        createdAt: z.date(),
        closedAt: z.date().nullable(),
        closeReason: z.string().nullable(),
        disposition: z.string().nullable(),
        /** The disposition's label as the conversation's queue names it (else its code). */
        dispositionLabel: z.string().nullable(),
        wrapUpSummary: z.string().nullable(),
        survey: z
          .object({
            scale: z.enum(SURVEY_SCALES),
            score: z.number(),
            comment: z.string().nullable(),
          })
          .nullable(),
      }),
    ),
    /** Agents' texts sent `on-reply` that no conversation holds yet. */
    originations: z.array(
      z.object({
        messageId: z.string(),
        numberAddress: z.string(),
        agentId: z.string().nullable(),
        agentName: z.string().nullable(),
        body: z.string(),
        status: z.enum(MESSAGE_STATUSES),
        createdAt: z.date(),
      }),
    ),
    /** When an admin erased the person; null: not erased. */
    erasedAt: z.date().nullable(),
    createdAt: z.date(),
  })
  .meta({ id: 'ContactRecord' });

const count = z.int().nonnegative();
const erasureReportView = z
  .object({
    contactId: z.string(),
    /** The row that keeps their opt-outs (their address and consents only); null: none. */
    optOutRecordId: z.string().nullable(),
    optOutsKept: count,
    /** What this erasure changed in Parley; zeros when the contact was erased before. */
    parley: z.object({
      conversations: count,
      messages: count,
      media: count,
      /** Stored files no other message shares, scheduled for deletion after a grace. */
      mediaFilesScheduled: count,
      notes: count,
      events: count,
    }),
    /** What Twilio was asked to erase: each message with a Twilio SID, and what failed. */
    twilio: z.object({
      messages: count,
      redacted: count,
      gone: count,
      mediaDeleted: count,
      failures: z.array(z.object({ messageSid: z.string(), error: z.string() })),
    }),
  })
  .meta({ id: 'ErasureReport' });

/**
 * Who may read and edit a contact: supervisors and admins any; an agent one they are talking
 * to now (an open conversation assigned or offered to them). Others' contacts are reported
 * absent, not forbidden, so an agent learns nothing of them.
 */
function holdsContact(db: Db) {
  return async (request: FastifyRequest) => {
    const user = currentUser(request);
    const { id } = request.params as { id: string };
    if (!readsEveryConversation(user.role) && !(await agentHoldsContact(db, user.id, id))) {
      throw new AppError('not_found', 'no such contact');
    }
  };
}

/**
 * The contact record: read and edited by supervisors, admins and the agents holding it;
 * erased by admins.
 */
export function registerContactRoutes(
  parent: FastifyInstance,
  deps: { db: Db; clients: Pick<TwilioClients, 'forAccount'> },
): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const holding = holdsContact(deps.db);

    app.get(
      '/api/contacts/:id',
      {
        preHandler: holding,
        schema: {
          tags: ['contacts'],
          summary:
            'A contact: name, email, notes and attributes, what bots collected, consent per sender, every conversation and pending originations',
          params: idParams,
          response: { 200: contactRecordView },
        },
      },
      async (request) => readContactRecord(deps.db, request.params.id),
    );

    app.patch(
      '/api/contacts/:id',
      {
        preHandler: holding,
        schema: {
          tags: ['contacts'],
          summary:
            "Edit a contact's name, email, notes or custom attributes (null clears a field or deletes an attribute); other desks are told. 409 once the contact is erased",
          params: idParams,
          body: contactEdit,
          response: { 200: contactRecordView },
        },
      },
      async (request) =>
        editContact(deps.db, request.params.id, request.body, currentUser(request).id),
    );

    app.post(
      '/api/contacts/:id/erase',
      {
        onRequest: requireRole('admin'),
        schema: {
          tags: ['contacts'],
          summary:
            "Erase a contact (right to erasure): their messages' bodies and media, here and on Twilio, notes on their conversations, their profile and their traces in the event log; their conversations stay as anonymous records, their opt-outs as their address alone. 409 while a conversation of theirs is open",
          params: idParams,
          response: { 200: erasureReportView },
        },
      },
      async (request) => eraseContact(deps, request.params.id, actorOf(request)),
    );
  });
}
