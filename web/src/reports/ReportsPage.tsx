import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { DatePicker } from '@twilio-paste/core/date-picker';
import { Heading } from '@twilio-paste/core/heading';
import { HelpText } from '@twilio-paste/core/help-text';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Option, Select } from '@twilio-paste/core/select';
import { Stack } from '@twilio-paste/core/stack';
import { type ReactNode, useCallback, useId, useMemo, useState } from 'react';
import { api, type Schemas } from '../api';
import { LoadState } from '../ui/LoadState';
import { useResource } from '../useResource';
import { browserTimeZone } from './format';
import {
  CountTable,
  CsatBars,
  CsatTable,
  DispositionBars,
  FigureTiles,
  GroupTable,
  HandleTimeBars,
  ReportSection,
  SeriesChart,
  SeriesTable,
  VolumeBars,
} from './ReportCharts';
import type { Report } from './types';

type PeriodChoice = 'today' | 'last-7-days' | 'last-30-days' | 'custom';
const PERIODS: { value: PeriodChoice; label: string }[] = [
  { value: 'today', label: 'Today' },
  { value: 'last-7-days', label: 'Last 7 days' },
  { value: 'last-30-days', label: 'Last 30 days' },
  { value: 'custom', label: 'Custom dates' },
];

/** Local midnight `daysBack` days before today. */
function midnight(daysBack: number): Date {
  const day = new Date();
  day.setHours(0, 0, 0, 0);
  day.setDate(day.getDate() - daysBack);
  return day;
}

/** A date picker's YYYY-MM-DD as local midnight; null when it is not a date. */
function localDay(value: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return null;
  return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
}

function dayValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/**
 * [from, to) of a choice: from midnight today, 6 or 29 days ago, to now; custom: from the
 * first day's midnight to the midnight after the last day.
 */
function periodOf(
  choice: PeriodChoice,
  custom: { from: string; to: string },
): { from: Date; to: Date } | string {
  if (choice !== 'custom') {
    const daysBack = { today: 0, 'last-7-days': 6, 'last-30-days': 29 }[choice];
    return { from: midnight(daysBack), to: new Date() };
  }
  const from = localDay(custom.from);
  const last = localDay(custom.to);
  if (!from || !last) return 'Pick both days of the period.';
  const to = new Date(last);
  to.setDate(to.getDate() + 1);
  if (to <= from) return 'The last day comes before the first.';
  return { from, to };
}

interface Filters {
  queueId: string;
  agentId: string;
  numberId: string;
  serviceLevelSeconds: string;
}

/** The queues, agents and numbers a report can be narrowed to. */
interface Choices {
  queues: { id: string; name: string }[];
  agents: { id: string; name: string }[];
  numbers: { id: string; address: string; name: string }[];
}

async function loadChoices(): Promise<Choices> {
  const [directory, numbers] = await Promise.all([
    api<Schemas['Directory']>('/api/directory'),
    api<Schemas['SenderNumber'][]>('/api/numbers/senders'),
  ]);
  return {
    queues: directory.queues,
    agents: directory.agents,
    numbers,
  };
}

/**
 * Reports for supervisors and admins: a period's figures (GET /api/reports) as tiles,
 * charts with their numbers beside them, and a CSV of the same.
 */
export function ReportsPage() {
  const timeZone = useMemo(browserTimeZone, []);
  const [choice, setChoice] = useState<PeriodChoice>('last-7-days');
  const [custom, setCustom] = useState({ from: dayValue(midnight(6)), to: dayValue(midnight(0)) });
  const [filters, setFilters] = useState<Filters>({
    queueId: '',
    agentId: '',
    numberId: '',
    serviceLevelSeconds: '60',
  });
  // "Now" is taken when the period is chosen, so the same report is asked for until then.
  const [asked, setAsked] = useState(() => periodOf(choice, custom));
  const choose = (next: PeriodChoice, days = custom) => {
    setChoice(next);
    setCustom(days);
    setAsked(periodOf(next, days));
  };

  const threshold = Number(filters.serviceLevelSeconds);
  const thresholdProblem =
    Number.isInteger(threshold) && threshold >= 1 && threshold <= 86_400
      ? null
      : 'Seconds from 1 to 86400.';
  const query = useMemo(() => {
    if (typeof asked === 'string' || thresholdProblem) return null;
    const params = new URLSearchParams({
      from: asked.from.toISOString(),
      to: asked.to.toISOString(),
      tz: timeZone,
      serviceLevelSeconds: filters.serviceLevelSeconds,
    });
    for (const key of ['queueId', 'agentId', 'numberId'] as const) {
      if (filters[key]) params.set(key, filters[key]);
    }
    return params.toString();
  }, [asked, filters, timeZone, thresholdProblem]);

  const loadReport = useCallback(
    () => (query ? api<Report>(`/api/reports?${query}`) : Promise.resolve(null)),
    [query],
  );
  const report = useResource<Report | null>(loadReport);
  const choices = useResource<Choices>(loadChoices);
  const ids = {
    period: useId(),
    from: useId(),
    to: useId(),
    queue: useId(),
    agent: useId(),
    number: useId(),
    threshold: useId(),
    thresholdHelp: useId(),
  };
  const setFilter = (key: keyof Filters) => (value: string) =>
    setFilters((current) => ({ ...current, [key]: value }));

  return (
    <Box padding={['space50', 'space80']} maxWidth="100%">
      <Stack orientation="vertical" spacing="space90">
        <Heading as="h1" variant="heading20" marginBottom="space0">
          Reports
        </Heading>
        <Box
          as="form"
          aria-label="Report period and filters"
          display="flex"
          flexWrap="wrap"
          alignItems="flex-end"
          columnGap="space50"
          rowGap="space40"
          onSubmit={(event) => event.preventDefault()}
        >
          <Field id={ids.period} label="Period">
            <Select
              id={ids.period}
              value={choice}
              onChange={(event) => choose(event.target.value as PeriodChoice)}
            >
              {PERIODS.map((p) => (
                <Option key={p.value} value={p.value}>
                  {p.label}
                </Option>
              ))}
            </Select>
          </Field>
          {choice === 'custom' && (
            <>
              <Field id={ids.from} label="First day">
                <DatePicker
                  id={ids.from}
                  value={custom.from}
                  onChange={(event) => choose('custom', { ...custom, from: event.target.value })}
                />
              </Field>
              <Field id={ids.to} label="Last day">
                <DatePicker
                  id={ids.to}
                  value={custom.to}
                  onChange={(event) => choose('custom', { ...custom, to: event.target.value })}
                />
              </Field>
            </>
          )}
          <Field id={ids.queue} label="Queue">
            <Select
              id={ids.queue}
              value={filters.queueId}
              onChange={(e) => setFilter('queueId')(e.target.value)}
            >
              <Option value="">All queues</Option>
              {(choices.data?.queues ?? []).map((q) => (
                <Option key={q.id} value={q.id}>
                  {q.name}
                </Option>
              ))}
            </Select>
          </Field>
          <Field id={ids.agent} label="Agent">
            <Select
              id={ids.agent}
              value={filters.agentId}
              onChange={(e) => setFilter('agentId')(e.target.value)}
            >
              <Option value="">All agents</Option>
              {(choices.data?.agents ?? []).map((a) => (
                <Option key={a.id} value={a.id}>
                  {a.name}
                </Option>
              ))}
            </Select>
          </Field>
          <Field id={ids.number} label="Number">
            <Select
              id={ids.number}
              value={filters.numberId}
              onChange={(e) => setFilter('numberId')(e.target.value)}
            >
              <Option value="">All numbers</Option>
              {(choices.data?.numbers ?? []).map((n) => (
                <Option key={n.id} value={n.id}>
                  {n.name ? `${n.name} (${n.address})` : n.address}
                </Option>
              ))}
            </Select>
          </Field>
          <Field id={ids.threshold} label="Service level within (seconds)">
            <Input
              id={ids.threshold}
              type="number"
              min={1}
              max={86_400}
              value={filters.serviceLevelSeconds}
              hasError={thresholdProblem !== null}
              aria-describedby={ids.thresholdHelp}
              onChange={(e) => setFilter('serviceLevelSeconds')(e.target.value)}
            />
            {thresholdProblem && (
              <HelpText id={ids.thresholdHelp} variant="error">
                {thresholdProblem}
              </HelpText>
            )}
          </Field>
          <Box>
            {query ? (
              <Button as="a" href={`/api/reports.csv?${query}`} variant="secondary">
                Download CSV
              </Button>
            ) : (
              <Button variant="secondary" disabled>
                Download CSV
              </Button>
            )}
          </Box>
        </Box>
        {typeof asked === 'string' && (
          <HelpText variant="error" role="alert">
            {asked}
          </HelpText>
        )}
        <LoadState
          what="the report"
          loading={query !== null && report.data === null}
          error={report.error}
        />
        {report.data && <ReportBody report={report.data} />}
      </Stack>
    </Box>
  );
}

function Field({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <Box minWidth="size20">
      <Label htmlFor={id}>{label}</Label>
      {children}
    </Box>
  );
}

function ReportBody({ report }: { report: Report }) {
  // Conversations no agent answered, or that never queued, have a row in the tables; the
  // bars are for agents and queues.
  const agents = report.byAgent.filter((row) => row.id !== null);
  const queues = report.byQueue.filter((row) => row.id !== null);
  return (
    <Stack orientation="vertical" spacing="space90">
      <FigureTiles
        figures={report.totals}
        serviceLevelSeconds={report.period.serviceLevelSeconds}
      />
      <ReportSection title="Conversations over time" chart={<SeriesChart report={report} />}>
        <SeriesTable report={report} />
      </ReportSection>
      <ReportSection title="By queue" chart={<VolumeBars rows={queues} />}>
        <GroupTable label="Figures by queue" rows={report.byQueue} />
      </ReportSection>
      <ReportSection
        title="By agent"
        chart={
          <>
            <VolumeBars rows={agents} />
            <HandleTimeBars rows={agents} />
          </>
        }
      >
        <GroupTable label="Figures by agent" rows={report.byAgent} />
      </ReportSection>
      <ReportSection title="By number">
        <GroupTable label="Figures by number" rows={report.byNumber} />
      </ReportSection>
      <ReportSection title="Customer satisfaction" chart={<CsatBars csat={report.csat} />}>
        <CsatTable csat={report.csat} />
      </ReportSection>
      <ReportSection
        title="Dispositions"
        chart={
          report.dispositions.length > 0 && <DispositionBars dispositions={report.dispositions} />
        }
      >
        <CountTable
          label="Dispositions"
          heading={['Code', 'Label']}
          rows={report.dispositions.map((d) => ({ key: d.code, name: d.label, count: d.count }))}
        />
      </ReportSection>
      <ReportSection title="Delivery failures">
        <CountTable
          label="Delivery failures by reason"
          heading={['Error code', 'Reason']}
          rows={report.failures.map((f) => ({
            key: f.code === null ? '–' : String(f.code),
            name: f.reason,
            count: f.count,
          }))}
        />
      </ReportSection>
    </Stack>
  );
}
