/**
 * Reports over a made-up history of thousands of conversations (bench/history.ts): every
 * figure the API answers equals the one this file computes from the history's stories in
 * TypeScript — not from the rows, not by the report's SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HistoryPlan, planHistory, type Story, writeHistory } from '../bench/history.js';
import { type Report as BuiltReport, type Figures, reportCsv } from '../src/reports/reports.js';
import { queueConversation } from '../src/routing/index.js';
import { buildTestApp, type SignedIn, signIn, type TestApp } from './helpers/app.js';
import { buildNumber, buildQueue, conversationInFlow } from './helpers/factories.js';

const DAY = 86_400_000;
const END = new Date(Math.floor(Date.now() / 1000) * 1000);
const FROM = new Date(END.getTime() - 30 * DAY);
const plan: HistoryPlan = planHistory({ seed: 16, conversations: 2500, days: 30, end: END });

let t: TestApp;
let supervisor: SignedIn;
let agent: SignedIn;
beforeAll(async () => {
  t = await buildTestApp();
  supervisor = await signIn(t.store, 'supervisor');
  agent = await signIn(t.store, 'agent');
  await writeHistory(t.store.db, plan);
}, 120_000);
afterAll(() => t?.close());

type Group = Figures & { id: string | null; name: string };
interface Report {
  period: { bucket: 'hour' | 'day' };
  totals: Figures;
  series: (Figures & { bucketStart: string })[];
  byQueue: Group[];
  byAgent: Group[];
  byNumber: Group[];
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

/** PostgreSQL's percentile_cont: linear interpolation between the closest ranks. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

const seconds = (from: Date, to: Date) => (to.getTime() - from.getTime()) / 1000;

/** The figures of these stories, as the report defines them (src/reports/reports.ts). */
function expected(stories: Story[], serviceLevelSeconds = 60): Figures {
  const queueTimes: number[] = [];
  const firstResponses: number[] = [];
  const handleTimes: number[] = [];
  const scores: number[] = [];
  let within = 0;
  let slBase = 0;
  for (const s of stories) {
    if (s.queue) slBase += 1;
    if (s.answer && s.queue) {
      const wait = seconds(s.queue.at, s.answer.at);
      queueTimes.push(wait);
      if (wait <= serviceLevelSeconds) within += 1;
    }
    if (s.answer) {
      handleTimes.push(seconds(s.answer.at, s.closedAt));
      const firstAgent = s.messages.find((m) => m.author === 'agent' && m.at >= s.answer!.at);
      const firstCustomer = s.messages.find((m) => m.author === 'customer')!;
      if (firstAgent) firstResponses.push(seconds(firstCustomer.at, firstAgent.at));
    }
    if (s.survey?.scale === 'score' && s.survey.score !== null) scores.push(s.survey.score);
  }
  const count = (test: (s: Story) => boolean) => stories.filter(test).length;
  const messages = stories.flatMap((s) => s.messages);
  return {
    in: stories.length,
    answered: count((s) => s.answer !== null),
    abandoned: count((s) => s.queue !== null && s.answer === null),
    closedInFlow: count((s) => s.queue === null),
    answeredWithinServiceLevel: within,
    serviceLevel: slBase > 0 ? (100 * within) / slBase : null,
    queueTimeMedian: percentile(queueTimes, 0.5),
    queueTimeP90: percentile(queueTimes, 0.9),
    firstResponseMedian: percentile(firstResponses, 0.5),
    firstResponseP90: percentile(firstResponses, 0.9),
    handleTimeMedian: percentile(handleTimes, 0.5),
    handleTimeP90: percentile(handleTimes, 0.9),
    transfers: stories.reduce((sum, s) => sum + s.transfers.length, 0),
    messagesIn: messages.filter((m) => m.direction === 'inbound').length,
    messagesOut: messages.filter((m) => m.direction === 'outbound').length,
    deliveryFailures: messages.filter((m) => m.status === 'failed' || m.status === 'undelivered')
      .length,
    csatAverage: scores.length > 0 ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
    csatCount: scores.length,
  };
}

/** Counts exactly, durations and averages to a millionth. */
function expectFigures(actual: Figures, wanted: Figures) {
  for (const key of Object.keys(wanted) as (keyof Figures)[]) {
    const want = wanted[key];
    const got = actual[key];
    if (want === null || Number.isInteger(want)) {
      expect({ [key]: got }).toEqual({ [key]: want });
    } else {
      expect(got, key).toBeCloseTo(want, 6);
    }
  }
}

const inPeriod = (from: Date, to: Date) =>
  plan.stories.filter((s) => s.openedAt >= from && s.openedAt < to);

function groupBy(stories: Story[], key: (s: Story) => string | null): Map<string | null, Story[]> {
  const groups = new Map<string | null, Story[]>();
  for (const s of stories) groups.set(key(s), [...(groups.get(key(s)) ?? []), s]);
  return groups;
}

async function report(query: Record<string, string>, who: SignedIn = supervisor) {
  return t.app.inject({
    method: 'GET',
    url: `/api/reports?${new URLSearchParams(query)}`,
    headers: who.headers,
  });
}

async function reportOf(query: Record<string, string>): Promise<Report> {
  const response = await report(query);
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as Report;
}

describe('a month of history', () => {
  const period = { from: FROM.toISOString(), to: END.toISOString() };

  it('answers the figures of every conversation customers started in the period', async () => {
    const answer = await reportOf(period);
    const stories = inPeriod(FROM, END);
    expect(stories.length).toBe(2500);
    expectFigures(answer.totals, expected(stories));
    // The history is made of every kind of conversation.
    expect(answer.totals).toMatchObject({
      abandoned: expect.any(Number),
      transfers: expect.any(Number),
      deliveryFailures: expect.any(Number),
    });
    expect(Math.min(answer.totals.abandoned, answer.totals.closedInFlow)).toBeGreaterThan(50);
    expect(answer.totals.transfers).toBeGreaterThan(50);
  });

  it('answers each queue, agent and number with its figures and name', async () => {
    const answer = await reportOf(period);
    const stories = inPeriod(FROM, END);
    const names = new Map<string | null, string>([
      ...plan.queues.map((q) => [q.id, q.name] as const),
      ...plan.agents.map((a) => [a.id, a.name] as const),
      ...plan.numbers.map((n) => [n.id, n.name] as const),
    ]);
    for (const [rows, key, none] of [
      [answer.byQueue, (s: Story) => s.queue?.id ?? null, 'No queue'],
      [answer.byAgent, (s: Story) => s.answer?.agentId ?? null, 'No agent'],
      [answer.byNumber, (s: Story) => s.numberId, ''],
    ] as const) {
      const groups = groupBy(stories, key);
      expect(new Set(rows.map((row) => row.id))).toEqual(new Set(groups.keys()));
      for (const row of rows) {
        expect(row.name).toBe(names.get(row.id) ?? none);
        expectFigures(row, expected(groups.get(row.id)!));
      }
    }
    expect(answer.byAgent.length).toBe(plan.agents.length + 1);
  });

  it('answers a day per bucket in UTC, empty days included', async () => {
    const answer = await reportOf(period);
    expect(answer.period.bucket).toBe('day');
    const firstDay = Math.floor(FROM.getTime() / DAY) * DAY;
    const starts = answer.series.map((b) => Date.parse(b.bucketStart));
    expect(starts).toEqual(Array.from({ length: starts.length }, (_, i) => firstDay + i * DAY));
    expect(starts.at(-1)!).toBeLessThan(END.getTime());
    expect(starts.at(-1)! + DAY).toBeGreaterThanOrEqual(END.getTime());
    for (const bucket of answer.series) {
      const start = new Date(bucket.bucketStart);
      const stories = inPeriod(start, new Date(start.getTime() + DAY)).filter(
        (s) => s.openedAt >= FROM && s.openedAt < END,
      );
      expectFigures(bucket, expected(stories));
    }
  });

  it('starts days at midnight in the time zone asked for, across the change of clocks', async () => {
    const tz = 'America/New_York';
    const answer = await reportOf({ ...period, tz });
    const local = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    const days = answer.series.map((b) => local.format(new Date(b.bucketStart)));
    for (const day of days) expect(day).toMatch(/, 00:00$/);
    expect(new Set(days).size).toBe(days.length);
    // The period is the last 30 days, so whether it holds a change of clocks (a day of 23 or
    // 25 hours in New York) depends on today: it holds one when the offset differs at its ends.
    const offset = (at: Date) =>
      new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' })
        .formatToParts(at)
        .find((part) => part.type === 'timeZoneName')!.value;
    const changed = offset(FROM) !== offset(END);
    const lengths = answer.series
      .slice(1)
      .map((b, i) => Date.parse(b.bucketStart) - Date.parse(answer.series[i]!.bucketStart));
    expect(lengths.filter((length) => length !== DAY)).toHaveLength(changed ? 1 : 0);
    for (const length of lengths) {
      expect([DAY - 3_600_000, DAY, DAY + 3_600_000]).toContain(length);
    }
    answer.series.forEach((bucket, i) => {
      const start = new Date(bucket.bucketStart);
      const next = answer.series[i + 1] ? new Date(answer.series[i + 1]!.bucketStart) : END;
      const stories = inPeriod(start, next).filter((s) => s.openedAt >= FROM);
      expect({ start: bucket.bucketStart, in: bucket.in }).toEqual({
        start: bucket.bucketStart,
        in: stories.length,
      });
    });
  });

  it('answers hours for a period of two days', async () => {
    const from = new Date(END.getTime() - 3 * DAY);
    const to = new Date(END.getTime() - DAY);
    const answer = await reportOf({ from: from.toISOString(), to: to.toISOString() });
    expect(answer.period.bucket).toBe('hour');
    expect(answer.series.length).toBeGreaterThanOrEqual(48);
    expectFigures(answer.totals, expected(inPeriod(from, to)));
    for (const bucket of answer.series) {
      const start = new Date(bucket.bucketStart);
      expect(start.getUTCMinutes()).toBe(0);
      const stories = inPeriod(start, new Date(start.getTime() + 3_600_000)).filter(
        (s) => s.openedAt >= from && s.openedAt < to,
      );
      expect(bucket.in).toBe(stories.length);
      expect(bucket.answered).toBe(expected(stories).answered);
    }
  });

  it('narrows to a queue, an agent or a number', async () => {
    const stories = inPeriod(FROM, END);
    const queue = plan.queues[1]!;
    const agentId = plan.agents[2]!.id;
    const number = plan.numbers[2]!;
    for (const [query, subset] of [
      [{ queueId: queue.id }, stories.filter((s) => s.queue?.id === queue.id)],
      [{ agentId }, stories.filter((s) => s.answer?.agentId === agentId)],
      [{ numberId: number.id }, stories.filter((s) => s.numberId === number.id)],
      [
        { queueId: queue.id, agentId },
        stories.filter((s) => s.queue?.id === queue.id && s.answer?.agentId === agentId),
      ],
    ] as const) {
      const answer = await reportOf({ ...period, ...query });
      expectFigures(answer.totals, expected(subset));
      expect(answer.byQueue.every((row) => !('queueId' in query) || row.id === queue.id)).toBe(
        true,
      );
    }
  });

  it('counts the service level against the threshold asked for', async () => {
    const stories = inPeriod(FROM, END);
    for (const threshold of [10, 60, 300]) {
      const answer = await reportOf({ ...period, serviceLevelSeconds: String(threshold) });
      const want = expected(stories, threshold);
      expect(answer.totals.answeredWithinServiceLevel).toBe(want.answeredWithinServiceLevel);
      expect(answer.totals.serviceLevel).toBeCloseTo(want.serviceLevel!, 9);
    }
    const strict = await reportOf({ ...period, serviceLevelSeconds: '10' });
    const loose = await reportOf({ ...period, serviceLevelSeconds: '300' });
    expect(strict.totals.serviceLevel!).toBeLessThan(loose.totals.serviceLevel!);
  });

  it('answers dispositions with their labels, CSAT and delivery failures by reason', async () => {
    const answer = await reportOf(period);
    const stories = inPeriod(FROM, END);
    const labels = new Map(
      plan.queues.flatMap((q) => q.dispositions.map((d) => [`${q.id} ${d.code}`, d.label])),
    );
    const dispositions = new Map<string, number>();
    for (const s of stories) {
      if (!s.disposition) continue;
      const key = `${s.disposition}|${labels.get(`${s.queue!.id} ${s.disposition}`)}`;
      dispositions.set(key, (dispositions.get(key) ?? 0) + 1);
    }
    expect(
      new Map(answer.dispositions.map((d) => [`${d.code}|${d.label}`, d.count] as const)),
    ).toEqual(dispositions);
    expect(answer.dispositions.find((d) => d.code === 'spam')?.label).toBe('Spam');

    const surveys = stories.flatMap((s) => (s.survey?.score != null ? [s.survey] : []));
    const scores = surveys.filter((s) => s.scale === 'score').map((s) => s.score!);
    expect(answer.csat.count).toBe(scores.length);
    expect(answer.csat.average).toBeCloseTo(scores.reduce((a, b) => a + b, 0) / scores.length, 9);
    expect(answer.csat.distribution).toEqual(
      [1, 2, 3, 4, 5].map((score) => ({
        score,
        count: scores.filter((s) => s === score).length,
      })),
    );
    const yesNo = surveys.filter((s) => s.scale === 'yes-no');
    expect(answer.csat.yes).toBe(yesNo.filter((s) => s.score === 1).length);
    expect(answer.csat.no).toBe(yesNo.filter((s) => s.score === 0).length);

    const failures = new Map<string, number>();
    for (const m of stories.flatMap((s) => s.messages)) {
      if (m.status !== 'failed' && m.status !== 'undelivered') continue;
      const key = `${m.errorCode} ${m.errorMessage}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
    expect(
      new Map(answer.failures.map((f) => [`${f.code} ${f.reason}`, f.count] as const)),
    ).toEqual(failures);
    expect(answer.failures.map((f) => f.count)).toEqual(
      [...answer.failures.map((f) => f.count)].sort((a, b) => b - a),
    );
  });

  it('exports the same figures as CSV', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: `/api/reports.csv?${new URLSearchParams(period)}`,
      headers: supervisor.headers,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv/);
    expect(response.headers['content-disposition']).toMatch(
      /^attachment; filename="parley-report-/,
    );
    const [header, ...rows] = response.body
      .trimEnd()
      .split('\r\n')
      .map((line) => line.split(','));
    expect(header!.slice(0, 6)).toEqual(['section', 'id', 'name', 'count', 'in', 'answered']);
    const json = await reportOf(period);
    const total = rows.find((r) => r[0] === 'total')!;
    const column = (name: string) => header!.indexOf(name);
    expect(Number(total[column('in')])).toBe(json.totals.in);
    expect(Number(total[column('handleTimeP90')])).toBe(json.totals.handleTimeP90);
    expect(rows.filter((r) => r[0] === 'series')).toHaveLength(json.series.length);
    expect(rows.filter((r) => r[0] === 'queue')).toHaveLength(json.byQueue.length);
    expect(rows.filter((r) => r[0] === 'agent')).toHaveLength(json.byAgent.length);
    const agentRow = rows.find((r) => r[0] === 'agent' && r[1] === plan.agents[0]!.id)!;
    expect(agentRow[2]).toBe(plan.agents[0]!.name);
    expect(rows.filter((r) => r[0] === 'disposition')).toHaveLength(json.dispositions.length);
    expect(rows.find((r) => r[0] === 'csat' && r[1] === 'yes')![3]).toBe(String(json.csat.yes));
  });

  it('writes names a spreadsheet would run as formulas as text, quoted', async () => {
    const answer = await reportOf(period);
    const built = {
      ...answer,
      period: { ...answer.period, from: FROM, to: END },
      series: [],
      byQueue: [],
      byNumber: [],
      byAgent: [{ ...answer.byAgent[0]!, id: 'a1', name: '=HYPERLINK("http://x","y"),1' }],
    } as unknown as BuiltReport;
    const agentLine = reportCsv(built)
      .split('\r\n')
      .find((line) => line.startsWith('agent,'))!;
    expect(agentLine.startsWith(`agent,a1,"'=HYPERLINK(""http://x"",""y""),1",`)).toBe(true);
  });

  it('answers the month within 5 s on this store', async () => {
    await reportOf(period);
    const started = performance.now();
    await reportOf(period);
    const took = performance.now() - started;
    console.info(`report of ${plan.stories.length} conversations: ${took.toFixed(0)} ms`);
    expect(took).toBeLessThan(5000);
  });
});

describe('who may ask, and what', () => {
  const period = { from: FROM.toISOString(), to: END.toISOString() };

  it('refuses agents and the signed out', async () => {
    expect((await report(period, agent)).statusCode).toBe(403);
    for (const url of ['/api/reports', '/api/reports.csv', '/api/wallboard']) {
      expect((await t.app.inject({ method: 'GET', url, headers: agent.headers })).statusCode).toBe(
        403,
      );
      expect((await t.app.inject({ method: 'GET', url })).statusCode).toBe(401);
    }
  });

  it('names the field of a bad parameter', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ to: period.to }, 'from'],
      [{ ...period, from: 'yesterday' }, 'from'],
      [{ from: period.to, to: period.from }, 'to'],
      [{ from: '2024-01-01T00:00:00Z', to: '2025-01-02T00:00:01Z' }, 'to'],
      [{ ...period, tz: 'Mars/Olympus' }, 'tz'],
      [{ ...period, tz: '+05:00' }, 'tz'],
      [{ ...period, queueId: 'sales' }, 'queueId'],
      [{ ...period, serviceLevelSeconds: '0' }, 'serviceLevelSeconds'],
      [{ ...period, serviceLevelSeconds: 'soon' }, 'serviceLevelSeconds'],
    ];
    for (const [query, field] of cases) {
      const response = await report(query);
      expect({ query, status: response.statusCode }).toEqual({ query, status: 400 });
      expect({ query, field: response.json().field }).toEqual({ query, field });
    }
    // A leap year's 366 days are allowed.
    expect(
      (await report({ from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' })).statusCode,
    ).toBe(200);
  });
});

describe('the wallboard', () => {
  it("answers today's figures in the time zone and who waits now", async () => {
    const db = t.store.db;
    const queue = await buildQueue(db, [], { name: 'Wallboard queue' });
    const number = await buildNumber(db);
    const waiting = await conversationInFlow(db, number.id);
    await queueConversation(db, waiting.id, queue.id);

    const response = await t.app.inject({
      method: 'GET',
      url: '/api/wallboard?tz=Asia/Tokyo',
      headers: supervisor.headers,
    });
    expect(response.statusCode, response.body).toBe(200);
    const board = response.json() as {
      report: Report & { period: { from: string; to: string; timeZone: string } };
      live: {
        waiting: number;
        longestWaitSeconds: number;
        queues: { id: string; waiting: number }[];
      };
    };
    const from = new Date(board.report.period.from);
    const tokyo = new Intl.DateTimeFormat('en-US', {
      timeZone: 'Asia/Tokyo',
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
    });
    expect(tokyo.format(from)).toBe('00:00');
    expect(from.getTime()).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(board.report.period.to) - from.getTime()).toBe(DAY);
    expect(board.report.period.bucket).toBe('hour');
    // Today's history, and the conversation opened above.
    expect(board.report.totals.in).toBe(inPeriod(from, new Date(Date.now() + DAY)).length + 1);
    expect(board.live.waiting).toBe(1);
    expect(board.live.queues.find((q) => q.id === queue.id)?.waiting).toBe(1);
  });
});
