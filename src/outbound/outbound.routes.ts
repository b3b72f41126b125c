import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import {
  originationTemplateView,
  presentOriginationTemplate,
} from '../admin/origination-templates.js';
import { countryCode, idParams } from '../api-schemas.js';
import { currentUser, registerSignedInRoutes } from '../auth/guard.js';
import { templateChoice } from '../content/content-templates.js';
import { readableConversation } from '../conversations/access.js';
import { serviceWindowView } from '../conversations/service-window.js';
import { NUMBER_KINDS } from '../db/schema.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { ORIGINATION_STRATEGIES } from '../events.js';
import { findMedia } from '../media/media.js';
import { type MediaStore, MediaTooLargeError } from '../media/media-store.js';
import type { SecretBox } from '../secret-box.js';
import { originate, originationWindow, sendAgentReply } from './agent-messages.js';
import {
  ACCEPTED_TYPES,
  MAX_TOTAL_BYTES,
  readUploadTokens,
  uploadToken,
  verifyMediaUrl,
} from './attachments.js';
import { listSenderNumbers, originationTemplatesFor } from './origination-senders.js';
import { messageView } from './outbox.js';
import { countSegments } from './segments.js';

export interface OutboundDeps {
  db: Db;
  secretBox: SecretBox;
  mediaStore: MediaStore;
}

const defaultCountry = countryCode.optional();
const messageBody = z.string().max(1600, { error: 'body may have at most 1600 characters' });
const attachmentTokens = z.array(z.string()).max(10).default([]);

/** Agents' replies, originations, uploads for attachments, the segment counter. */
export function registerOutboundRoutes(parent: FastifyInstance, deps: OutboundDeps): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();

    app.post(
      '/api/conversations/:id/messages',
      {
        preHandler: readableConversation(deps.db),
        schema: {
          tags: ['conversations'],
          summary:
            'Reply in a conversation assigned to me; answers at once with the message queued',
          params: idParams,
          body: z.object({
            body: messageBody.default(''),
            attachments: attachmentTokens,
            template: templateChoice.optional(),
          }),
          response: { 202: messageView },
        },
      },
      async (request, reply) => {
        const message = await sendAgentReply(deps.db, currentUser(request), request.params.id, {
          body: request.body.body,
          attachments: readUploadTokens(deps.secretBox, request.body.attachments),
          template: request.body.template,
        });
        return reply.status(202).send(message);
      },
    );

    app.post(
      '/api/originations',
      {
        schema: {
          tags: ['conversations'],
          summary: 'Start a conversation: text a customer, now assigned to me or on their reply',
          description:
            "Without numberId: my default sender (my queue's, else my first number). Without strategy: the number's default. With templateId: the task template's number, strategy and text, its placeholders filled from variables. 403 when my role may not originate from the number.",
          body: z.object({
            to: z.string().min(1, { error: 'to must be a phone number' }),
            defaultCountry,
            numberId: z.uuid({ error: 'numberId must be the id of a number' }).optional(),
            body: messageBody.default(''),
            attachments: attachmentTokens,
            template: templateChoice.optional(),
            strategy: z
              .enum(ORIGINATION_STRATEGIES, {
                error: `strategy must be ${ORIGINATION_STRATEGIES.join(' or ')}`,
              })
              .optional(),
            templateId: z
              .uuid({ error: 'templateId must be the id of a task template' })
              .optional(),
            variables: z
              .record(
                z.string().max(40),
                z.string().max(1600, { error: 'a value has at most 1600 characters' }),
              )
              .optional(),
          }),
          response: {
            202: z
              .object({
                message: messageView,
                /** Null until the customer answers, for an `on-reply` origination. */
                conversationId: z.string().nullable(),
              })
              .meta({ id: 'Origination' }),
          },
        },
      },
      async (request, reply) => {
        const result = await originate(deps.db, currentUser(request), {
          ...request.body,
          defaultCountry: request.body.defaultCountry as CountryCode | undefined,
          attachments: readUploadTokens(deps.secretBox, request.body.attachments),
        });
        return reply.status(202).send(result);
      },
    );

    app.get(
      '/api/service-window',
      {
        schema: {
          tags: ['conversations'],
          summary:
            "The customer-service window a message from this number to this customer meets now (WhatsApp, Messenger: 24 hours after the customer's last message)",
          querystring: z.object({
            numberId: z.uuid({ error: 'numberId must be the id of a number' }),
            to: z.string().min(1, { error: 'to must be a phone number' }),
            defaultCountry,
          }),
          response: { 200: serviceWindowView },
        },
      },
      (request) =>
        originationWindow(deps.db, currentUser(request), {
          ...request.query,
          defaultCountry: request.query.defaultCountry as CountryCode | undefined,
        }),
    );

    app.get(
      '/api/numbers/senders',
      {
        schema: {
          tags: ['conversations'],
          summary:
            "Numbers my role may start a conversation from, with their default strategy: my queue's default sender first, then my queues' numbers; default is the one used when I name none",
          response: {
            200: z.array(
              z
                .object({
                  id: z.string(),
                  address: z.string(),
                  name: z.string(),
                  kind: z.enum(NUMBER_KINDS),
                  defaultStrategy: z.enum(ORIGINATION_STRATEGIES),
                  default: z.boolean(),
                  /** Its account's country, in which a national number is read. */
                  defaultCountry: z.string(),
                })
                .meta({ id: 'SenderNumber' }),
            ),
          },
        },
      },
      async (request) => listSenderNumbers(deps.db, currentUser(request)),
    );

    app.get(
      '/api/origination-templates',
      {
        schema: {
          tags: ['conversations'],
          summary:
            'Task templates I may send (POST /api/originations with templateId and variables), by name',
          response: { 200: z.array(originationTemplateView) },
        },
      },
      async (request) =>
        (await originationTemplatesFor(deps.db, currentUser(request))).map(
          presentOriginationTemplate,
        ),
    );

    app.post(
      '/api/segments',
      {
        schema: {
          tags: ['conversations'],
          summary: 'Segment count and encoding (GSM-7 or UCS-2) of a text, for the composer',
          body: z.object({ text: z.string().max(1600) }),
          response: {
            200: z
              .object({
                encoding: z.enum(['GSM-7', 'UCS-2']),
                segments: z.number(),
                /** Septets (GSM-7) or UTF-16 code units (UCS-2) of the text. */
                units: z.number(),
                /** What one more segment would hold. */
                perSegment: z.number(),
              })
              .meta({ id: 'SegmentCount' }),
          },
        },
      },
      async (request) => countSegments(request.body.text),
    );

    // Uploads take the raw bytes with their content type, in a scope of their own so the
    // parser for binary bodies applies to this route only.
    app.register(async (scope) => {
      // The body stays a stream, piped into the media store as it arrives.
      scope.addContentTypeParser([...ACCEPTED_TYPES], (_request, body, done) => done(null, body));
      scope.post(
        '/api/uploads',
        {
          schema: {
            tags: ['conversations'],
            summary: 'Upload an attachment (raw bytes); returns its token, valid for 24 hours',
            response: {
              201: z
                .object({
                  /**
                   * What a message's `attachments` names for 24 hours (then a 400: upload
                   * again); signed, so only this server's.
                   */
                  token: z.string(),
                  sha256: z.string(),
                  size: z.number(),
                  contentType: z.string(),
                })
                .meta({ id: 'Upload' }),
            },
          },
        },
        async (request, reply) => {
          const contentType = request.headers['content-type']?.split(';')[0]?.trim() ?? '';
          if (!ACCEPTED_TYPES.has(contentType) || !(request.body instanceof Readable)) {
            throw new AppError(
              'bad_request',
              `attachments may be ${[...ACCEPTED_TYPES].join(', ')}`,
              'content-type',
            );
          }
          const declared = Number(request.headers['content-length']);
          if (declared > MAX_TOTAL_BYTES) throw uploadTooLarge();
          if (declared === 0) throw new AppError('bad_request', 'the upload is empty', 'body');
          const stored = await deps.mediaStore
            .put(uploadBody(request.body), { maxBytes: MAX_TOTAL_BYTES })
            .catch((error: unknown) => {
              throw error instanceof MediaTooLargeError ? uploadTooLarge() : error;
            });
          if (stored.size === 0) throw new AppError('bad_request', 'the upload is empty', 'body');
          const attachment = { ...stored, contentType };
          return reply
            .status(201)
            .send({ token: uploadToken(deps.secretBox, attachment), ...attachment });
        },
      );
    });
  });

  // Twilio fetches outbound attachments here, with no credentials: the signature is the key.
  parent.withTypeProvider<ZodTypeProvider>().get(
    '/media/outbound/:id',
    {
      schema: {
        hide: true,
        params: z.object({ id: z.uuid() }),
        querystring: z.object({ expires: z.coerce.number(), signature: z.string() }),
      },
    },
    async (request, reply) => {
      const { expires, signature } = request.query;
      if (!verifyMediaUrl(deps.secretBox, request.params.id, expires, signature)) {
        throw new AppError('forbidden', 'the link is invalid or has expired');
      }
      const row = await findMedia(deps.db, request.params.id);
      const bytes = row?.sha256 ? await deps.mediaStore.get(row.sha256) : undefined;
      if (!row || !bytes) throw new AppError('not_found', 'no such media');
      return reply.type(row.contentType).header('content-length', bytes.size).send(bytes.stream);
    },
  );
}

function uploadTooLarge(): AppError {
  return new AppError(
    'payload_too_large',
    "an upload may be 5 MB at most (Twilio's limit for a message's attachments)",
    'body',
  );
}

/**
 * The upload's bytes for the store. When the store stops reading (too large, or it failed),
 * the rest of the body is read and dropped, as Fastify does past its own body limit: cutting
 * the request off would reset the connection before the client reads the answer.
 */
function uploadBody(request: Readable): Readable {
  const body = new PassThrough();
  request.on('error', (error) => body.destroy(error));
  body.on('close', () => {
    if (request.readableEnded) return;
    request.unpipe(body);
    request.resume();
  });
  return request.pipe(body);
}
