/**
 * Reports' HTTP API, for supervisors and admins: a period's figures as JSON or CSV, and the
 * wallboard (today's figures and the live state). Thin: parse, authorise, call one function.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { registerSignedInRoutes, requireRole } from '../auth/guard.js';
import type { Db } from '../db/store.js';
import {
  buildReport,
  buildWallboard,
  type Report,
  type ReportQuery,
  reportCsv,
} from './reports.js';

const MAX_RANGE_DAYS = 366;

/** An IANA zone name both ICU and PostgreSQL know; offsets like `+05:00` are refused. */
const timeZone = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_+\-/]*$/, {
    error: 'tz must be an IANA time zone, like Europe/Paris',
  })
  .refine(isTimeZone, { error: 'tz must be an IANA time zone, like Europe/Paris' })
  .default('UTC');
const serviceLevelSeconds = z.coerce
  .number({ error: 'serviceLevelSeconds must be a number of seconds' })
  .int({ error: 'serviceLevelSeconds must be a whole number of seconds' })
  .min(1, { error: 'serviceLevelSeconds must be at least 1' })
  .max(86_400, { error: 'serviceLevelSeconds must be at most 86400' })
  .default(60);

const reportQuery = z
  .object({
    from: z.iso.datetime({ offset: true, error: 'from must be an ISO 8601 date-time' }),
    to: z.iso.datetime({ offset: true, error: 'to must be an ISO 8601 date-time' }),
    tz: timeZone,
    queueId: z.uuid({ error: 'queueId must be a UUID' }).optional(),
    agentId: z.uuid({ error: 'agentId must be a UUID' }).optional(),
    numberId: z.uuid({ error: 'numberId must be a UUID' }).optional(),
    serviceLevelSeconds,
  })
  .refine((q) => Date.parse(q.from) < Date.parse(q.to), {
    error: 'to must be after from',
    path: ['to'],
  })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= MAX_RANGE_DAYS * 86_400_000, {
    error: `the period is at most ${MAX_RANGE_DAYS} days`,
    path: ['to'],
  });
const wallboardQuery = z.object({ tz: timeZone, serviceLevelSeconds });

const seconds = z.number().nullable();
const figures = z.object({
  in: z.number().int(),
  answered: z.number().int(),
  abandoned: z.number().int(),
  closedInFlow: z.number().int(),
  answeredWithinServiceLevel: z.number().int(),
  serviceLevel: z.number().nullable(),
  queueTimeMedian: seconds,
  queueTimeP90: seconds,
  firstResponseMedian: seconds,
  firstResponseP90: seconds,
  handleTimeMedian: seconds,
  handleTimeP90: seconds,
  transfers: z.number().int(),
  messagesIn: z.number().int(),
  messagesOut: z.number().int(),
  deliveryFailures: z.number().int(),
  csatAverage: z.number().nullable(),
  csatCount: z.number().int(),
});
const groupFigures = figures.extend({ id: z.string().nullable(), name: z.string() });
const reportView = z
  .object({
    period: z.object({
      from: z.iso.datetime(),
      to: z.iso.datetime(),
      timeZone: z.string(),
      bucket: z.enum(['hour', 'day']),
      serviceLevelSeconds: z.number().int(),
    }),
    totals: figures.meta({ id: 'ReportFigures' }),
    series: z.array(figures.extend({ bucketStart: z.iso.datetime() })),
    byQueue: z.array(groupFigures.meta({ id: 'ReportGroup' })),
    byAgent: z.array(groupFigures),
    byNumber: z.array(groupFigures),
    dispositions: z.array(z.object({ code: z.string(), label: z.string(), count: z.number() })),
    csat: z.object({
      average: z.number().nullable(),
      count: z.number().int(),
      distribution: z.array(z.object({ score: z.number().int(), count: z.number().int() })),
      yes: z.number().int(),
      no: z.number().int(),
    }),
    failures: z.array(
      z.object({ code: z.number().int().nullable(), reason: z.string(), count: z.number().int() }),
    ),
  })
  .meta({ id: 'Report' });
const wallboardView = z
  .object({
    report: reportView,
    live: z.object({
      waiting: z.number().int(),
      longestWaitSeconds: z.number(),
      offered: z.number().int(),
      active: z.number().int(),
      agents: z.object({
        available: z.number().int(),
        busy: z.number().int(),
        away: z.number().int(),
        offline: z.number().int(),
      }),
      queues: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          waiting: z.number().int(),
          longestWaitSeconds: z.number(),
        }),
      ),
    }),
  })
  .meta({ id: 'Wallboard' });

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function toReportQuery(q: z.infer<typeof reportQuery>): ReportQuery {
  return {
    from: new Date(q.from),
    to: new Date(q.to),
    timeZone: q.tz,
    serviceLevelSeconds: q.serviceLevelSeconds,
    queueId: q.queueId,
    agentId: q.agentId,
    numberId: q.numberId,
  };
}

function reportJson(report: Report) {
  return {
    ...report,
    period: {
      ...report.period,
      from: report.period.from.toISOString(),
      to: report.period.to.toISOString(),
    },
    series: report.series.map((b) => ({ ...b, bucketStart: b.bucketStart.toISOString() })),
  };
}

/** Registers the report and wallboard routes, for supervisors and admins. */
export function registerReportRoutes(parent: FastifyInstance, deps: { db: Db }): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    const supervisors = requireRole('supervisor', 'admin');

    app.get(
      '/api/reports',
      {
        onRequest: supervisors,
        schema: {
          tags: ['reports'],
          summary:
            'Figures of the conversations customers started in [from, to): totals, per time bucket, queue, agent and number (supervisors and admins)',
          description:
            'Definitions of every figure: src/reports/reports.ts and the README. Buckets are hours for a period of up to 2 days, else days, in tz. Durations in seconds; serviceLevel in percent.',
          querystring: reportQuery,
          response: { 200: reportView },
        },
      },
      async (request) => reportJson(await buildReport(deps.db, toReportQuery(request.query))),
    );

    app.get(
      '/api/reports.csv',
      {
        onRequest: supervisors,
        schema: {
          tags: ['reports'],
          summary:
            'The same report as one CSV table: a row per group of figures, then per disposition, failure reason and CSAT score (supervisors and admins)',
          querystring: reportQuery,
          response: {
            200: {
              description: 'The report as CSV',
              content: { 'text/csv': { schema: z.string() } },
            },
          },
        },
      },
      async (request, reply) => {
        const query = toReportQuery(request.query);
        const csv = reportCsv(await buildReport(deps.db, query));
        const day = (date: Date) => date.toISOString().slice(0, 10);
        return reply
          .type('text/csv; charset=utf-8')
          .header(
            'content-disposition',
            `attachment; filename="parley-report-${day(query.from)}-${day(query.to)}.csv"`,
          )
          .send(csv);
      },
    );

    app.get(
      '/api/wallboard',
      {
        onRequest: supervisors,
        schema: {
          tags: ['reports'],
          summary:
            "Today's figures (from midnight in tz) and the queues and agents now (supervisors and admins)",
          querystring: wallboardQuery,
          response: { 200: wallboardView },
        },
      },
      async (request) => {
        const board = await buildWallboard(deps.db, {
          timeZone: request.query.tz,
          serviceLevelSeconds: request.query.serviceLevelSeconds,
        });
        return { ...board, report: reportJson(board.report) };
      },
    );
  });
}
