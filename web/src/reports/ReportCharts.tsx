/**
 * The report's pieces: tiles of the headline figures, and each chart (Recharts) with its
 * numbers in a table beside it, so that a reader never has to guess a bar's height.
 */
import { Box } from '@twilio-paste/core/box';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { Text } from '@twilio-paste/core/text';
import { useTheme } from '@twilio-paste/core/theme';
import { type ReactNode, useId } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { TableScroller } from '../supervisor/TableScroller';
import { bucketLabel, formatPercent, formatScore, formatSeconds } from './format';
import type { Report, ReportFigures, ReportGroup } from './types';

const CHART_HEIGHT = 280;

/** The data-visualisation colours of Paste's theme, in order. */
function useChartColors(): string[] {
  const { dataVisualization } = useTheme();
  return [
    dataVisualization.colorDataVisualization1,
    dataVisualization.colorDataVisualization2,
    dataVisualization.colorDataVisualization3,
    dataVisualization.colorDataVisualization4,
  ].map(String);
}

/** One headline figure: a label and a big number. */
export function Tile({
  label,
  value,
  detail,
  size = 'normal',
}: {
  label: string;
  value: ReactNode;
  detail?: string;
  size?: 'normal' | 'wall';
}) {
  const labelId = useId();
  const wall = size === 'wall';
  return (
    <Box
      role="group"
      aria-labelledby={labelId}
      borderStyle="solid"
      borderWidth="borderWidth10"
      borderColor="colorBorderWeak"
      borderRadius="borderRadius30"
      backgroundColor="colorBackgroundBody"
      padding={wall ? 'space70' : 'space50'}
      minWidth={wall ? 'size30' : 'size20'}
      flexGrow={1}
      flexBasis={0}
    >
      <Text
        as="div"
        id={labelId}
        color="colorTextWeak"
        fontSize={wall ? 'fontSize60' : 'fontSize30'}
        fontWeight="fontWeightSemibold"
      >
        {label}
      </Text>
      <Text
        as="div"
        fontSize={wall ? 'fontSize110' : 'fontSize80'}
        lineHeight={wall ? 'lineHeight110' : 'lineHeight80'}
        fontWeight="fontWeightBold"
        marginTop="space30"
      >
        {value}
      </Text>
      {detail && (
        <Text as="div" color="colorTextWeak" fontSize={wall ? 'fontSize40' : 'fontSize20'}>
          {detail}
        </Text>
      )}
    </Box>
  );
}

/** The period's headline figures. */
export function FigureTiles({
  figures,
  serviceLevelSeconds,
}: {
  figures: ReportFigures;
  serviceLevelSeconds: number;
}) {
  return (
    <Box display="flex" flexWrap="wrap" columnGap="space40" rowGap="space40">
      <Tile label="Conversations in" value={String(figures.in)} />
      <Tile label="Answered" value={String(figures.answered)} />
      <Tile
        label="Abandoned"
        value={String(figures.abandoned)}
        detail={`${figures.closedInFlow} closed in the flow`}
      />
      <Tile
        label="Service level"
        value={formatPercent(figures.serviceLevel)}
        detail={`answered within ${serviceLevelSeconds} s`}
      />
      <Tile
        label="Time in queue"
        value={formatSeconds(figures.queueTimeMedian)}
        detail={`median · p90 ${formatSeconds(figures.queueTimeP90)}`}
      />
      <Tile
        label="First response"
        value={formatSeconds(figures.firstResponseMedian)}
        detail={`median · p90 ${formatSeconds(figures.firstResponseP90)}`}
      />
      <Tile
        label="Handle time"
        value={formatSeconds(figures.handleTimeMedian)}
        detail={`median · p90 ${formatSeconds(figures.handleTimeP90)}`}
      />
      <Tile label="Transfers" value={String(figures.transfers)} />
      <Tile
        label="CSAT"
        value={formatScore(figures.csatAverage)}
        detail={`${figures.csatCount} scores`}
      />
      <Tile
        label="Messages in / out"
        value={`${figures.messagesIn} / ${figures.messagesOut}`}
        detail={`${figures.deliveryFailures} delivery failures`}
      />
    </Box>
  );
}

/** A titled part of the report: its chart, and its numbers beside it. */
export function ReportSection({
  title,
  chart,
  children,
}: {
  title: string;
  chart?: ReactNode;
  children: ReactNode;
}) {
  const headingId = useId();
  return (
    <Box as="section" aria-labelledby={headingId}>
      <Heading as="h2" variant="heading30" id={headingId}>
        {title}
      </Heading>
      <Box display="flex" flexWrap="wrap" columnGap="space60" rowGap="space50">
        {chart && (
          <Box flexGrow={1} flexBasis="size50" minWidth="size30">
            {chart}
          </Box>
        )}
        <Box flexGrow={1} flexBasis="size50" minWidth="size30" maxWidth="100%">
          {children}
        </Box>
      </Box>
    </Box>
  );
}

/** Conversations in, answered and abandoned per bucket. */
export function SeriesChart({ report }: { report: Report }) {
  const colors = useChartColors();
  const { bucket, timeZone } = report.period;
  const data = report.series.map((b) => ({
    ...b,
    label: bucketLabel(b.bucketStart, bucket, timeZone),
  }));
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      <LineChart data={data} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="label" minTickGap={16} />
        <YAxis allowDecimals={false} />
        <Tooltip />
        <Legend />
        <Line
          isAnimationActive={false}
          type="monotone"
          dataKey="in"
          name="In"
          stroke={colors[0]}
          dot={false}
        />
        <Line
          isAnimationActive={false}
          type="monotone"
          dataKey="answered"
          name="Answered"
          stroke={colors[1]}
          dot={false}
        />
        <Line
          isAnimationActive={false}
          type="monotone"
          dataKey="abandoned"
          name="Abandoned"
          stroke={colors[2]}
          dot={false}
        />
      </LineChart>
    </ResponsiveContainer>
  );
}

export function SeriesTable({ report }: { report: Report }) {
  const { bucket, timeZone } = report.period;
  return (
    // Scrolls both ways (a month has 30 rows): focusable and named, as TableScroller is.
    <Box
      maxHeight="size40"
      overflow="auto"
      role="region"
      aria-label="Conversations over time, table"
      tabIndex={0}
      borderRadius="borderRadius20"
      _focus={{ outline: 'none', boxShadow: 'shadowFocus' }}
    >
      <Table aria-label="Conversations per period">
        <THead stickyHeader>
          <Tr>
            <Th>{bucket === 'hour' ? 'Hour' : 'Day'}</Th>
            <Th textAlign="right">In</Th>
            <Th textAlign="right">Answered</Th>
            <Th textAlign="right">Abandoned</Th>
            <Th textAlign="right">Service level</Th>
            <Th textAlign="right">Handle (median)</Th>
          </Tr>
        </THead>
        <TBody>
          {report.series.map((b) => (
            <Tr key={b.bucketStart}>
              <Th scope="row">{bucketLabel(b.bucketStart, bucket, timeZone)}</Th>
              <Td textAlign="right">{b.in}</Td>
              <Td textAlign="right">{b.answered}</Td>
              <Td textAlign="right">{b.abandoned}</Td>
              <Td textAlign="right">{formatPercent(b.serviceLevel)}</Td>
              <Td textAlign="right">{formatSeconds(b.handleTimeMedian)}</Td>
            </Tr>
          ))}
        </TBody>
      </Table>
    </Box>
  );
}

/** Answered and abandoned per queue, agent or number. */
export function VolumeBars({ rows }: { rows: ReportGroup[] }) {
  const colors = useChartColors();
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      <BarChart data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="name" interval={0} tick={{ fontSize: 12 }} />
        <YAxis allowDecimals={false} />
        <Tooltip />
        <Legend />
        <Bar isAnimationActive={false} dataKey="answered" name="Answered" fill={colors[1]} />
        <Bar isAnimationActive={false} dataKey="abandoned" name="Abandoned" fill={colors[2]} />
      </BarChart>
    </ResponsiveContainer>
  );
}

/** Handle time (median and p90) per agent. */
export function HandleTimeBars({ rows }: { rows: ReportGroup[] }) {
  const colors = useChartColors();
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      <BarChart data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 8 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="name" interval={0} tick={{ fontSize: 12 }} />
        <YAxis tickFormatter={(value: number) => formatSeconds(value)} />
        <Tooltip formatter={(value) => formatSeconds(Number(value))} />
        <Legend />
        <Bar
          isAnimationActive={false}
          dataKey="handleTimeMedian"
          name="Handle time, median"
          fill={colors[0]}
        />
        <Bar
          isAnimationActive={false}
          dataKey="handleTimeP90"
          name="Handle time, p90"
          fill={colors[3]}
        />
      </BarChart>
    </ResponsiveContainer>
  );
}

/** Every figure of each group, a row each. */
export function GroupTable({ label, rows }: { label: string; rows: ReportGroup[] }) {
  if (rows.length === 0) return <Paragraph>No conversations in this period.</Paragraph>;
  return (
    <TableScroller label={`${label}, table`}>
      <Table aria-label={label}>
        <THead>
          <Tr>
            <Th>Name</Th>
            <Th textAlign="right">In</Th>
            <Th textAlign="right">Answered</Th>
            <Th textAlign="right">Abandoned</Th>
            <Th textAlign="right">Service level</Th>
            <Th textAlign="right">In queue (median)</Th>
            <Th textAlign="right">First response (median / p90)</Th>
            <Th textAlign="right">Handle (median / p90)</Th>
            <Th textAlign="right">Transfers</Th>
            <Th textAlign="right">CSAT</Th>
            <Th textAlign="right">Messages in / out</Th>
            <Th textAlign="right">Failures</Th>
          </Tr>
        </THead>
        <TBody>
          {rows.map((row) => (
            <Tr key={row.id ?? 'none'}>
              <Th scope="row">{row.name}</Th>
              <Td textAlign="right">{row.in}</Td>
              <Td textAlign="right">{row.answered}</Td>
              <Td textAlign="right">{row.abandoned}</Td>
              <Td textAlign="right">{formatPercent(row.serviceLevel)}</Td>
              <Td textAlign="right">{formatSeconds(row.queueTimeMedian)}</Td>
              <Td textAlign="right">
                {formatSeconds(row.firstResponseMedian)} / {formatSeconds(row.firstResponseP90)}
              </Td>
              <Td textAlign="right">
                {formatSeconds(row.handleTimeMedian)} / {formatSeconds(row.handleTimeP90)}
              </Td>
              <Td textAlign="right">{row.transfers}</Td>
              <Td textAlign="right">{formatScore(row.csatAverage)}</Td>
              <Td textAlign="right">
                {row.messagesIn} / {row.messagesOut}
              </Td>
              <Td textAlign="right">{row.deliveryFailures}</Td>
            </Tr>
          ))}
        </TBody>
      </Table>
    </TableScroller>
  );
}

/** How many customers gave each score. */
export function CsatBars({ csat }: { csat: Report['csat'] }) {
  const colors = useChartColors();
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      <BarChart data={csat.distribution} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="score" />
        <YAxis allowDecimals={false} />
        <Tooltip />
        <Bar isAnimationActive={false} dataKey="count" name="Answers" fill={colors[0]} />
      </BarChart>
    </ResponsiveContainer>
  );
}

export function CsatTable({ csat }: { csat: Report['csat'] }) {
  return (
    <Table aria-label="Survey answers">
      <THead>
        <Tr>
          <Th>Answer</Th>
          <Th textAlign="right">Count</Th>
        </Tr>
      </THead>
      <TBody>
        {csat.distribution.map((d) => (
          <Tr key={d.score}>
            <Th scope="row">Score {d.score}</Th>
            <Td textAlign="right">{d.count}</Td>
          </Tr>
        ))}
        <Tr>
          <Th scope="row">Average (1–5)</Th>
          <Td textAlign="right">{formatScore(csat.average)}</Td>
        </Tr>
        <Tr>
          <Th scope="row">Yes / no</Th>
          <Td textAlign="right">
            {csat.yes} / {csat.no}
          </Td>
        </Tr>
      </TBody>
    </Table>
  );
}

/** Conversations per wrap-up code. */
export function DispositionBars({ dispositions }: { dispositions: Report['dispositions'] }) {
  const colors = useChartColors();
  return (
    <ResponsiveContainer width="100%" height={Math.max(120, 36 * dispositions.length + 40)}>
      <BarChart data={dispositions} layout="vertical" margin={{ top: 8, right: 16, bottom: 8 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis type="number" allowDecimals={false} />
        <YAxis type="category" dataKey="label" width={180} tick={{ fontSize: 12 }} />
        <Tooltip />
        <Bar isAnimationActive={false} dataKey="count" name="Conversations" fill={colors[2]} />
      </BarChart>
    </ResponsiveContainer>
  );
}

export function CountTable({
  label,
  heading,
  rows,
}: {
  label: string;
  heading: [string, string];
  rows: { key: string; name: string; count: number }[];
}) {
  if (rows.length === 0) return <Paragraph>None in this period.</Paragraph>;
  return (
    <TableScroller label={`${label}, table`}>
      <Table aria-label={label}>
        <THead>
          <Tr>
            <Th>{heading[0]}</Th>
            <Th>{heading[1]}</Th>
            <Th textAlign="right">Count</Th>
          </Tr>
        </THead>
        <TBody>
          {rows.map((row) => (
            <Tr key={row.key}>
              <Th scope="row">{row.key}</Th>
              <Td>{row.name}</Td>
              <Td textAlign="right">{row.count}</Td>
            </Tr>
          ))}
        </TBody>
      </Table>
    </TableScroller>
  );
}
