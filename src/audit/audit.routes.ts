import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { boundOf, dayOrInstant } from '../api-schemas.js';
import { registerSignedInRoutes, requireRole } from '../auth/guard.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import {
  type AuditFilter,
  auditEntryJson,
  exportAuditEntries,
  listAuditEntries,
} from './audit-trail.js';

const text = (field: string, max: number) =>
  z
    .string()
    .trim()
    .max(max, { error: `${field} may have at most ${max} characters` })
    .optional();

const auditFilterQuery = z.object({
  from: dayOrInstant('from'),
  to: dayOrInstant('to'),
  actor: text('actor', 200).describe("A user's id, or text of the actor's email (any case)"),
  action: text('action', 100).describe(
    'An action (queue.updated), or the start of some ending with a dot (queue.)',
  ),
  targetType: text('targetType', 100),
  targetId: text('targetId', 100),
});

const auditEntryView = z
  .object({
    id: z.number(),
    at: z.iso.datetime(),
    /** The user who acted; null for Parley itself, the command line or a failed sign-in. */
    actorId: z.string().nullable(),
    /** Who acted, as known then: an email, `system`, `cli`, or the email a failed sign-in gave. */
    actor: z.string(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    /** The changed fields as they were; a secret only as "(secret changed)". */
    before: z.record(z.string(), z.unknown()).nullable(),
    after: z.record(z.string(), z.unknown()).nullable(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'AuditEntry' });

const EXPORT_TYPES = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
} as const;

/** The filter as the trail reads it: a `to` day includes that whole day. */
function filterOf(query: z.infer<typeof auditFilterQuery>): AuditFilter {
  const filter = { ...query, from: boundOf(query.from, false), to: boundOf(query.to, true) };
  if (filter.from && filter.to && filter.from >= filter.to) {
    throw new AppError('bad_request', 'to must be after from', 'to');
  }
  return filter;
}

/** The audit trail, for admins: read a page at a time, or exported whole. */
export function registerAuditRoutes(parent: FastifyInstance, deps: { db: Db }): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const admin = { onRequest: requireRole('admin') };

    app.get(
      '/api/audit',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            'Audit entries (configuration changes, sign-ins, API tokens) by time, actor, action and target, newest first',
          querystring: auditFilterQuery.extend({
            cursor: z
              .string()
              .max(200, { error: 'cursor is not one the audit trail gave' })
              .optional(),
            limit: z.coerce
              .number()
              .int()
              .min(1, { error: 'limit must be between 1 and 200' })
              .max(200, { error: 'limit must be between 1 and 200' })
              .default(50),
          }),
          response: {
            200: z
              .object({ entries: z.array(auditEntryView), nextCursor: z.string().nullable() })
              .meta({ id: 'AuditPage' }),
          },
        },
      },
      async (request) => {
        const { cursor, limit, ...query } = request.query;
        const page = await listAuditEntries(deps.db, filterOf(query), { cursor, limit });
        return { entries: page.entries.map(auditEntryJson), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/api/audit/export',
      {
        ...admin,
        schema: {
          tags: ['admin'],
          summary:
            'Every audit entry matching the filters, newest first, as a CSV or JSON Lines download',
          querystring: auditFilterQuery.extend({
            format: z.enum(['csv', 'jsonl'], { error: 'format must be csv or jsonl' }),
          }),
          response: {
            200: {
              description: 'The entries, one per line (CSV after a header row)',
              // Streamed: the schema says what the document shows, a text.
              content: {
                'text/csv': { schema: z.custom<Readable>().meta({ type: 'string' }) },
                'application/x-ndjson': { schema: z.custom<Readable>().meta({ type: 'string' }) },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const { format, ...query } = request.query;
        const filter = filterOf(query);
        const day = new Date().toISOString().slice(0, 10);
        return reply
          .type(EXPORT_TYPES[format])
          .header('content-disposition', `attachment; filename="parley-audit-${day}.${format}"`)
          .send(Readable.from(exportAuditEntries(deps.db, filter, format)));
      },
    );
  });
}
