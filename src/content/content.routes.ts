import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idParams } from '../api-schemas.js';
import { actorOf } from '../audit/audit-log.js';
import { currentUser, registerSignedInRoutes, requireRole } from '../auth/guard.js';
import type { TwilioClients } from '../channels/twilio/clients.js';
import { canReadConversation } from '../conversations/access.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import {
  contentTemplateAdminView,
  contentTemplateView,
  listAllContentTemplates,
  submitForWhatsappApproval,
  syncContentTemplates,
  templatesForNumber,
  whatsappApprovalRequest,
} from './content-templates.js';

export interface ContentDeps {
  db: Db;
  clients: TwilioClients;
}

/**
 * Content templates: admins sync an account's from Twilio and see their approval; agents
 * list those they may send from a number.
 */
export function registerContentRoutes(parent: FastifyInstance, deps: ContentDeps): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: requireRole('admin') };

    app.get(
      '/api/admin/content-templates',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Synced content templates with their WhatsApp approval, by account's",
          querystring: z.object({ accountId: z.uuid().optional() }),
          response: { 200: z.array(contentTemplateAdminView) },
        },
      },
      (request) => listAllContentTemplates(deps.db, request.query.accountId),
    );

    app.post(
      '/api/admin/accounts/:id/content-templates/sync',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            "Read the account's content templates and their WhatsApp approval from Twilio's Content API",
          params: idParams,
          response: {
            200: z
              .object({
                /** Templates Twilio has, now in Parley. */
                synced: z.number(),
                /** Templates deleted on Twilio since the last sync, removed from Parley. */
                removed: z.number(),
              })
              .meta({ id: 'ContentTemplateSync' }),
          },
        },
      },
      (request) => syncContentTemplates(deps.db, deps.clients, request.params.id, actorOf(request)),
    );

    app.post(
      '/api/admin/content-templates/:id/whatsapp-approval',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: "Submit a template to WhatsApp's review through Twilio; answers its new status",
          params: idParams,
          body: whatsappApprovalRequest,
          response: { 200: contentTemplateAdminView },
        },
      },
      (request) =>
        submitForWhatsappApproval(
          deps.db,
          deps.clients,
          request.params.id,
          request.body,
          actorOf(request),
        ),
    );

    app.get(
      '/api/content-templates',
      {
        schema: {
          tags: ['conversations'],
          summary:
            'Templates I may send from a number: approved for its channel, among its queue’s picks',
          querystring: z.object({
            numberId: z.uuid({ error: 'numberId must be the id of a number' }),
            conversationId: z
              .uuid({ error: 'conversationId must be the id of a conversation' })
              .optional(),
          }),
          response: { 200: z.array(contentTemplateView) },
        },
      },
      async (request) => {
        // Naming a conversation (its queue decides the picks): only one the user may read.
        const { conversationId } = request.query;
        if (
          conversationId &&
          !(await canReadConversation(deps.db, currentUser(request), conversationId))
        ) {
          throw new AppError('not_found', 'no such conversation');
        }
        return templatesForNumber(deps.db, request.query);
      },
    );
  });
}
