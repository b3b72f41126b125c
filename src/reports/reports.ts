/**
 * Reports: what happened to the conversations customers started in a period, per queue,
 * agent, number and time bucket, computed in SQL from the event log (the lifecycle) and the
 * messages and survey tables (what was said, how it went, what the customer scored). Reads
 * only.
 *
 * Every figure is about one cohort: the conversations whose conversation.opened event, with
 * origin `customer`, falls in [from, to). A conversation is counted once, in the bucket and
 * the groups it started in, with everything that happened to it afterwards (even after `to`).
 * Agents' outreach (origin `agent`) is not in the cohort: nobody answered it.
 *
 * Per conversation, from its events (first of each by created_at, then id):
 * - queue: the queueId of its first conversation.queued (where the customer entered);
 * - queued at: its first conversation.queued;
 * - answered at, and agent: its first offer.accepted or conversation.assigned (auto-accept,
 *   reassign), and that event's agent — the agent it is reported under;
 * - closed at: its conversation.closed;
 * - transfers: how many conversation.transferred it has.
 * The figures, over the cohort:
 * - in: conversations in the cohort;
 * - answered: those that reached an agent;
 * - abandoned: those that waited in a queue and closed without ever reaching an agent;
 * - closedInFlow: those that closed before waiting in a queue (out of hours, a bot, opted out);
 * - time in queue: answered at − queued at, of answered conversations that queued;
 * - service level: answered within `serviceLevelSeconds` of queueing, as a percentage of the
 *   conversations that queued and then were answered or abandoned (those still waiting are
 *   left out); null when there are none;
 * - first response (the industry's usual definition, as Zendesk or Flex Insights use it):
 *   the customer's first message to the first message an agent wrote in the conversation
 *   once it was answered (messages.author = 'agent'; an outreach text the conversation
 *   answers is older and not a response), of answered conversations an agent wrote in;
 * - handle time: answered at → closed at, of answered conversations that closed;
 * - median and p90 of the durations by percentile_cont (linear interpolation), in seconds;
 * - transfers: the sum of their transfers;
 * - messages in / out: their messages by direction (automated messages count as out);
 * - delivery failures: their outbound messages whose status is failed or undelivered, by
 *   error code (the reason is Twilio's error message);
 * - dispositions: their wrap-up codes, labelled as the conversation's (last) queue names them;
 * - CSAT: their survey answers: the average and distribution of 1–5 scores, and yes / no
 *   counts for yes-no surveys.
 * Buckets: hours when the period is 2 days or shorter, else days, starting at midnight (or
 * the hour) in the requested time zone.
 */
import { type SQL, sql } from 'drizzle-orm';
import { csvCell } from '../csv.js';
import { type Executor, queryRows } from '../db/store.js';
import { queueStats } from '../routing/views.js';

export interface ReportQuery {
  from: Date;
  to: Date;
  /** An IANA time zone: where days start, for buckets. */
  timeZone: string;
  serviceLevelSeconds: number;
  queueId?: string;
  agentId?: string;
  numberId?: string;
}

/** Seconds; null when no conversation had the duration. */
export interface Figures {
  in: number;
  answered: number;
  abandoned: number;
  closedInFlow: number;
  answeredWithinServiceLevel: number;
  /** Percent, 0–100. */
  serviceLevel: number | null;
  queueTimeMedian: number | null;
  queueTimeP90: number | null;
  firstResponseMedian: number | null;
  firstResponseP90: number | null;
  handleTimeMedian: number | null;
  handleTimeP90: number | null;
  transfers: number;
  messagesIn: number;
  messagesOut: number;
  deliveryFailures: number;
  csatAverage: number | null;
  csatCount: number;
}

export const FIGURE_NAMES = [
  'in',
  'answered',
  'abandoned',
  'closedInFlow',
  'answeredWithinServiceLevel',
  'serviceLevel',
  'queueTimeMedian',
  'queueTimeP90',
  'firstResponseMedian',
  'firstResponseP90',
  'handleTimeMedian',
  'handleTimeP90',
  'transfers',
  'messagesIn',
  'messagesOut',
  'deliveryFailures',
  'csatAverage',
  'csatCount',
] as const satisfies readonly (keyof Figures)[];

export type Bucket = 'hour' | 'day';

/** A queue, agent or number and its figures; id null: conversations that had none. */
export interface GroupFigures extends Figures {
  id: string | null;
  name: string;
}

export interface Report {
  period: {
    from: Date;
    to: Date;
    timeZone: string;
    bucket: Bucket;
    serviceLevelSeconds: number;
  };
  totals: Figures;
  /** Every bucket of the period, in order, empty ones too. */
  series: (Figures & { bucketStart: Date })[];
  byQueue: GroupFigures[];
  byAgent: GroupFigures[];
  byNumber: GroupFigures[];
  dispositions: { code: string; label: string; count: number }[];
  csat: {
    average: number | null;
    count: number;
    distribution: { score: number; count: number }[];
    yes: number;
    no: number;
  };
  failures: { code: number | null; reason: string; count: number }[];
}

/** Hours for a period of up to two days, days beyond. */
export function bucketOf(from: Date, to: Date): Bucket {
  return to.getTime() - from.getTime() <= 2 * 86_400_000 ? 'hour' : 'day';
}

/** One row of the grouped figures, as SQL names them (json_agg keeps the column names). */
interface FigureRow {
  grouping: number;
  queue_id: string | null;
  agent_id: string | null;
  number_id: string | null;
  bucket: string | null;
  name: string | null;
  in: number;
  answered: number;
  abandoned: number;
  closed_in_flow: number;
  answered_within: number;
  sl_base: number;
  queue_median: number | null;
  queue_p90: number | null;
  frt_median: number | null;
  frt_p90: number | null;
  handle_median: number | null;
  handle_p90: number | null;
  transfers: number;
  messages_in: number;
  messages_out: number;
  failures: number;
  csat_average: number | null;
  csat_count: number;
  csat_1: number;
  csat_2: number;
  csat_3: number;
  csat_4: number;
  csat_5: number;
  csat_yes: number;
  csat_no: number;
}

/** GROUPING(queue_id, agent_id, number_id, bucket): a bit set for each column rolled up. */
const GROUPING = { total: 15, queue: 7, agent: 11, number: 13, bucket: 14 } as const;

/**
 * CTEs ending in `f`: the conversations of the cohort, one row each with what happened to
 * them. Each conversation's events and messages are read by index, in lateral subqueries:
 * the cost grows with the cohort whatever the planner's statistics say (joins left to the
 * planner were slower on a month, and took minutes on a store not analyzed yet).
 */
function cohort(query: ReportQuery, bucket: Bucket): SQL {
  const from = sql`${iso(query.from)}::timestamptz`;
  const filters: SQL[] = [];
  if (query.queueId) filters.push(sql`l.queue_id = ${query.queueId}::uuid`);
  if (query.agentId) filters.push(sql`l.agent_id = ${query.agentId}::uuid`);
  const byNumber = query.numberId ? sql`AND e.payload->>'numberId' = ${query.numberId}` : sql``;
  const answer = sql`e.type IN ('offer.accepted', 'conversation.assigned')`;
  return sql`
    opened AS (
      SELECT e.conversation_id AS id, e.created_at AS opened_at,
             (e.payload->>'numberId')::uuid AS number_id, e.payload->>'origin' AS origin
      FROM events e
      WHERE e.type = 'conversation.opened'
        AND e.created_at >= ${from} AND e.created_at < ${iso(query.to)}::timestamptz
        ${byNumber}
    ),
    f AS MATERIALIZED (
      SELECT o.id, o.opened_at, o.number_id, l.queue_id, l.agent_id, l.queued_at,
        l.answered_at, l.closed_at, l.transfers, m.messages_in, m.messages_out, m.failures,
        s.scale, s.score, c.disposition, c.queue_id AS last_queue_id,
        date_trunc(${bucket}, o.opened_at, ${query.timeZone}) AS bucket,
        extract(epoch FROM l.answered_at - l.queued_at)::float8 AS queue_s,
        extract(epoch FROM m.first_agent_at - m.first_customer_at)::float8 AS frt_s,
        extract(epoch FROM l.closed_at - l.answered_at)::float8 AS handle_s
      FROM opened o
      JOIN conversations c ON c.id = o.id
      CROSS JOIN LATERAL (
        SELECT
          min(e.created_at) FILTER (WHERE e.type = 'conversation.queued') AS queued_at,
          (array_agg(e.payload->>'queueId' ORDER BY e.created_at, e.id)
            FILTER (WHERE e.type = 'conversation.queued'))[1]::uuid AS queue_id,
          min(e.created_at) FILTER (WHERE ${answer}) AS answered_at,
          (array_agg(e.agent_id ORDER BY e.created_at, e.id) FILTER (WHERE ${answer}))[1]
            AS agent_id,
          min(e.created_at) FILTER (WHERE e.type = 'conversation.closed') AS closed_at,
          count(*) FILTER (WHERE e.type = 'conversation.transferred')::int AS transfers
        FROM events e
        WHERE e.conversation_id = o.id
          AND e.type IN ('conversation.queued', 'offer.accepted', 'conversation.assigned',
                         'conversation.closed', 'conversation.transferred')
      ) l
      CROSS JOIN LATERAL (
        SELECT
          count(*) FILTER (WHERE m.direction = 'inbound')::int AS messages_in,
          count(*) FILTER (WHERE m.direction = 'outbound')::int AS messages_out,
          count(*) FILTER (WHERE m.direction = 'outbound'
                             AND m.status IN ('failed', 'undelivered'))::int AS failures,
          min(m.created_at) FILTER (WHERE m.author = 'customer') AS first_customer_at,
          min(m.created_at) FILTER (WHERE m.author = 'agent' AND m.created_at >= l.answered_at)
            AS first_agent_at
        FROM messages m WHERE m.conversation_id = o.id
      ) m
      LEFT JOIN survey_responses s ON s.conversation_id = o.id AND s.score IS NOT NULL
      WHERE o.origin = 'customer'${filters.length > 0 ? sql` AND ${sql.join(filters, sql` AND `)}` : sql``}
    )`;
}

/** The figures' aggregates over the rows of `cohort` in scope `f`. */
function figures(serviceLevelSeconds: number): SQL {
  const queued = sql`f.queued_at IS NOT NULL`;
  const median = (column: string) =>
    sql`percentile_cont(0.5) WITHIN GROUP (ORDER BY ${sql.raw(column)})`;
  const p90 = (column: string) =>
    sql`percentile_cont(0.9) WITHIN GROUP (ORDER BY ${sql.raw(column)})`;
  const score = (value: number) =>
    sql`count(*) FILTER (WHERE f.scale = 'score' AND f.score = ${value})::int`;
  return sql`
    count(*)::int AS in,
    count(f.answered_at)::int AS answered,
    count(*) FILTER (WHERE ${queued} AND f.answered_at IS NULL
                       AND f.closed_at IS NOT NULL)::int AS abandoned,
    count(*) FILTER (WHERE f.queued_at IS NULL AND f.answered_at IS NULL
                       AND f.closed_at IS NOT NULL)::int AS closed_in_flow,
    count(*) FILTER (WHERE ${queued} AND f.queue_s <= ${serviceLevelSeconds})::int
      AS answered_within,
    count(*) FILTER (WHERE ${queued}
                       AND (f.answered_at IS NOT NULL OR f.closed_at IS NOT NULL))::int
      AS sl_base,
    ${median('f.queue_s')} AS queue_median, ${p90('f.queue_s')} AS queue_p90,
    ${median('f.frt_s')} AS frt_median, ${p90('f.frt_s')} AS frt_p90,
    ${median('f.handle_s')} AS handle_median, ${p90('f.handle_s')} AS handle_p90,
    coalesce(sum(f.transfers), 0)::int AS transfers,
    coalesce(sum(f.messages_in), 0)::int AS messages_in,
    coalesce(sum(f.messages_out), 0)::int AS messages_out,
    coalesce(sum(f.failures), 0)::int AS failures,
    (avg(f.score) FILTER (WHERE f.scale = 'score'))::float8 AS csat_average,
    count(*) FILTER (WHERE f.scale = 'score')::int AS csat_count,
    ${score(1)} AS csat_1, ${score(2)} AS csat_2, ${score(3)} AS csat_3,
    ${score(4)} AS csat_4, ${score(5)} AS csat_5,
    count(*) FILTER (WHERE f.scale = 'yes-no' AND f.score = 1)::int AS csat_yes,
    count(*) FILTER (WHERE f.scale = 'yes-no' AND f.score = 0)::int AS csat_no`;
}

function figuresOf(row: FigureRow | undefined): Figures {
  if (!row) return emptyFigures();
  return {
    in: row.in,
    answered: row.answered,
    abandoned: row.abandoned,
    closedInFlow: row.closed_in_flow,
    answeredWithinServiceLevel: row.answered_within,
    serviceLevel: row.sl_base > 0 ? (100 * row.answered_within) / row.sl_base : null,
    queueTimeMedian: row.queue_median,
    queueTimeP90: row.queue_p90,
    firstResponseMedian: row.frt_median,
    firstResponseP90: row.frt_p90,
    handleTimeMedian: row.handle_median,
    handleTimeP90: row.handle_p90,
    transfers: row.transfers,
    messagesIn: row.messages_in,
    messagesOut: row.messages_out,
    deliveryFailures: row.failures,
    csatAverage: row.csat_average,
    csatCount: row.csat_count,
  };
}

function emptyFigures(): Figures {
  return {
    in: 0,
    answered: 0,
    abandoned: 0,
    closedInFlow: 0,
    answeredWithinServiceLevel: 0,
    serviceLevel: null,
    queueTimeMedian: null,
    queueTimeP90: null,
    firstResponseMedian: null,
    firstResponseP90: null,
    handleTimeMedian: null,
    handleTimeP90: null,
    transfers: 0,
    messagesIn: 0,
    messagesOut: 0,
    deliveryFailures: 0,
    csatAverage: null,
    csatCount: 0,
  };
}

/** The report of a period: one statement, so every figure reads the same snapshot. */
export async function buildReport(db: Executor, query: ReportQuery): Promise<Report> {
  const bucket = bucketOf(query.from, query.to);
  const step = bucket === 'hour' ? sql`interval '1 hour'` : sql`interval '1 day'`;
  const tz = query.timeZone;
  const [row] = await queryRows<{
    groups: FigureRow[] | null;
    buckets: string[] | null;
    dispositions: { code: string; label: string; count: number }[] | null;
    failures: { code: number | null; reason: string | null; count: number }[] | null;
  }>(
    db,
    sql`WITH ${cohort(query, bucket)},
      grouped AS (
        SELECT GROUPING(f.queue_id, f.agent_id, f.number_id, f.bucket) AS grouping,
          f.queue_id, f.agent_id, f.number_id, f.bucket, ${figures(query.serviceLevelSeconds)}
        FROM f
        GROUP BY GROUPING SETS ((), (f.queue_id), (f.agent_id), (f.number_id), (f.bucket))
      )
      SELECT
        (SELECT json_agg(g) FROM (
          SELECT grouped.*, coalesce(q.name, u.name, nullif(n.name, ''), n.address) AS name
          FROM grouped
          LEFT JOIN queues q ON q.id = grouped.queue_id
          LEFT JOIN users u ON u.id = grouped.agent_id
          LEFT JOIN numbers n ON n.id = grouped.number_id) g) AS groups,
        -- Every bucket of the period: local midnights (or hours) turned back into instants.
        (SELECT json_agg(b.start ORDER BY b.start) FROM (
          SELECT DISTINCT (local AT TIME ZONE ${tz}) AS start
          FROM generate_series(date_trunc(${bucket}, ${iso(query.from)}::timestamptz, ${tz})
                                 AT TIME ZONE ${tz},
                               ${iso(query.to)}::timestamptz AT TIME ZONE ${tz}, ${step}) local
          WHERE (local AT TIME ZONE ${tz}) < ${iso(query.to)}::timestamptz) b) AS buckets,
        (SELECT json_agg(d ORDER BY d.count DESC, d.code) FROM (
          SELECT f.disposition AS code,
            coalesce((SELECT dc->>'label' FROM queues q, jsonb_array_elements(q.dispositions) dc
                      WHERE q.id = f.last_queue_id AND dc->>'code' = f.disposition LIMIT 1),
                     f.disposition) AS label,
            count(*)::int AS count
          FROM f WHERE f.disposition IS NOT NULL GROUP BY 1, 2) d) AS dispositions,
        (SELECT json_agg(x ORDER BY x.count DESC, x.code) FROM (
          SELECT m.error_code AS code, min(m.error_message) AS reason, count(*)::int AS count
          FROM f JOIN messages m ON m.conversation_id = f.id
          WHERE m.direction = 'outbound' AND m.status IN ('failed', 'undelivered')
          GROUP BY m.error_code) x) AS failures`,
  );
  const groups = row?.groups ?? [];
  const of = (grouping: number) => groups.filter((g) => g.grouping === grouping);
  const total = of(GROUPING.total)[0];
  const named = (g: FigureRow, id: string | null, none: string): GroupFigures => ({
    id,
    name: g.name ?? none,
    ...figuresOf(g),
  });
  const byFigures = (a: GroupFigures, b: GroupFigures) => b.in - a.in || b.answered - a.answered;
  const byBucket = new Map(
    of(GROUPING.bucket).map((g) => [new Date(g.bucket!).getTime(), g] as const),
  );
  // A bucket with conversations is in the series even if generate_series skipped it (the
  // repeated hour when clocks go back).
  const starts = new Set([...(row?.buckets ?? []).map((b) => new Date(b).getTime())]);
  for (const start of byBucket.keys()) starts.add(start);
  return {
    period: {
      from: query.from,
      to: query.to,
      timeZone: tz,
      bucket,
      serviceLevelSeconds: query.serviceLevelSeconds,
    },
    totals: figuresOf(total),
    series: [...starts]
      .sort((a, b) => a - b)
      .map((start) => ({ bucketStart: new Date(start), ...figuresOf(byBucket.get(start)) })),
    byQueue: of(GROUPING.queue)
      .map((g) => named(g, g.queue_id, 'No queue'))
      .sort(byFigures),
    byAgent: of(GROUPING.agent)
      .map((g) => named(g, g.agent_id, 'No agent'))
      .sort(byFigures),
    byNumber: of(GROUPING.number)
      .map((g) => named(g, g.number_id, 'Unknown number'))
      .sort(byFigures),
    dispositions: row?.dispositions ?? [],
    csat: {
      average: total?.csat_average ?? null,
      count: total?.csat_count ?? 0,
      distribution: [1, 2, 3, 4, 5].map((score) => ({
        score,
        count: total ? total[`csat_${score as 1 | 2 | 3 | 4 | 5}`] : 0,
      })),
      yes: total?.csat_yes ?? 0,
      no: total?.csat_no ?? 0,
    },
    failures: (row?.failures ?? []).map((f) => ({
      code: f.code,
      reason: f.reason ?? 'No reason given',
      count: f.count,
    })),
  };
}

/** Today so far, in the time zone, and the queues and agents as they are now. */
export interface Wallboard {
  report: Report;
  live: {
    waiting: number;
    longestWaitSeconds: number;
    offered: number;
    active: number;
    /** Queue members by presence; busy: available but at capacity. */
    agents: { available: number; busy: number; away: number; offline: number };
    queues: { id: string; name: string; waiting: number; longestWaitSeconds: number }[];
  };
}

/** Today's report (midnight to midnight in the time zone) with the live state beside it. */
export async function buildWallboard(
  db: Executor,
  options: { timeZone: string; serviceLevelSeconds: number },
): Promise<Wallboard> {
  const tz = options.timeZone;
  const [today] = await queryRows<{ from_ms: number; to_ms: number }>(
    db,
    sql`SELECT (extract(epoch FROM date_trunc('day', now(), ${tz})) * 1000)::float8 AS from_ms,
          (extract(epoch FROM (date_trunc('day', now() AT TIME ZONE ${tz}) + interval '1 day')
                              AT TIME ZONE ${tz}) * 1000)::float8 AS to_ms`,
  );
  const report = await buildReport(db, {
    from: new Date(today!.from_ms),
    to: new Date(today!.to_ms),
    timeZone: tz,
    serviceLevelSeconds: options.serviceLevelSeconds,
  });
  const stats = await queueStats(db);
  const available = stats.agents.filter((a) => a.presence === 'available');
  return {
    report,
    live: {
      waiting: sum(stats.queues.map((q) => q.waiting)),
      longestWaitSeconds: Math.max(0, ...stats.queues.map((q) => q.longestWaitSeconds)),
      offered: sum(stats.queues.map((q) => q.offered)),
      active: sum(stats.queues.map((q) => q.active)),
      agents: {
        available: available.filter((a) => !a.busy).length,
        busy: available.filter((a) => a.busy).length,
        away: stats.agents.filter((a) => a.presence === 'away').length,
        offline: stats.agents.filter((a) => a.presence === 'offline').length,
      },
      queues: stats.queues.map((q) => ({
        id: q.id,
        name: q.name,
        waiting: q.waiting,
        longestWaitSeconds: q.longestWaitSeconds,
      })),
    },
  };
}

const iso = (date: Date) => date.toISOString();

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * The report as one CSV table: a row per group of figures (section total, series — id is
 * the bucket's start —, queue, agent, number) with a column per figure, then a row per
 * disposition, failure reason and CSAT score (section disposition, failure, csat) with its
 * count.
 */
export function reportCsv(report: Report): string {
  const header = ['section', 'id', 'name', 'count', ...FIGURE_NAMES];
  const lines: string[][] = [header];
  const figureRow = (section: string, id: string, name: string, f: Figures) =>
    lines.push([section, id, name, '', ...FIGURE_NAMES.map((k) => String(f[k] ?? ''))]);
  const countRow = (section: string, id: string, name: string, count: number) =>
    lines.push([section, id, name, String(count), ...FIGURE_NAMES.map(() => '')]);
  figureRow('total', '', 'All', report.totals);
  for (const b of report.series) figureRow('series', b.bucketStart.toISOString(), '', b);
  for (const [section, rows] of [
    ['queue', report.byQueue],
    ['agent', report.byAgent],
    ['number', report.byNumber],
  ] as const) {
    for (const g of rows) figureRow(section, g.id ?? '', g.name, g);
  }
  for (const d of report.dispositions) countRow('disposition', d.code, d.label, d.count);
  for (const f of report.failures) countRow('failure', String(f.code ?? ''), f.reason, f.count);
  for (const d of report.csat.distribution) countRow('csat', String(d.score), '', d.count);
  countRow('csat', 'yes', '', report.csat.yes);
  countRow('csat', 'no', '', report.csat.no);
  return `${lines.map((cells) => cells.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
