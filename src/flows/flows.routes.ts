import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { archivedQuery, idParams, noContent } from '../api-schemas.js';
import { actorOf } from '../audit/audit-log.js';
import { registerSignedInRoutes, requireRole } from '../auth/guard.js';
import type { Db } from '../db/store.js';
import { archiveFlow, restoreFlow } from './flow-archiving.js';
import {
  createFlow,
  describeFlow,
  flowInput,
  flowSummaryView,
  flowView,
  getFlow,
  listFlows,
  updateFlow,
} from './flows.js';

/** Configuration of flows (hours, automated messages, bot, target queue): admins only. */
export function registerFlowRoutes(parent: FastifyInstance, deps: { db: Db }): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: requireRole('admin') };

    app.get(
      '/api/admin/flows',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Flows; archived ones with archived=include',
          querystring: archivedQuery,
          response: { 200: z.array(flowSummaryView) },
        },
      },
      (request) => listFlows(deps.db, request.query.archived),
    );

    app.delete(
      '/api/admin/flows/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Archive a flow; refused while numbers use it',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await archiveFlow(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/flows/:id/restore',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Restore an archived flow',
          params: idParams,
          response: { 204: noContent },
        },
      },
      async (request, reply) => {
        await restoreFlow(deps.db, request.params.id, actorOf(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/admin/flows',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Add a flow with its hours and messages',
          body: flowInput,
          response: { 201: flowView },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(describeFlow(await createFlow(deps.db, request.body, actorOf(request)))),
    );

    app.get(
      '/api/admin/flows/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'A flow with its hours and holidays',
          params: idParams,
          response: { 200: flowView },
        },
      },
      async (request) => describeFlow(await getFlow(deps.db, request.params.id)),
    );

    app.patch(
      '/api/admin/flows/:id',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary: 'Change a flow; hours and holidays replace the old ones',
          params: idParams,
          body: flowInput.partial(),
          response: { 200: flowView },
        },
      },
      async (request) =>
        describeFlow(await updateFlow(deps.db, request.params.id, request.body, actorOf(request))),
    );
  });
}
