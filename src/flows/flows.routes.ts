import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idParams } from '../api-schemas.js';
import { registerSignedInRoutes, requireRole } from '../auth/guard.js';
import type { Db } from '../db/store.js';
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
        schema: { tags: ['admin'], summary: 'Flows', response: { 200: z.array(flowSummaryView) } },
      },
      () => listFlows(deps.db),
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
        reply.status(201).send(describeFlow(await createFlow(deps.db, request.body))),
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
      async (request) => describeFlow(await updateFlow(deps.db, request.params.id, request.body)),
    );
  });
}
