import { Box } from '@twilio-paste/core/box';
import { Callout, CalloutText } from '@twilio-paste/core/callout';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { useMemo } from 'react';
import type { LiveEvent } from '../live';
import { formatDuration, useNow } from '../supervisor/clock';
import { changesStats } from '../supervisor/events';
import { LoadState } from '../ui/LoadState';
import { useLiveConnected, useResource } from '../useResource';
import { browserTimeZone, formatPercent, formatScore, formatSeconds } from './format';
import { Tile } from './ReportCharts';
import type { Wallboard } from './types';

/** Today's figures move with routing, presence and survey answers. */
function changesWallboard(event: LiveEvent): boolean {
  return changesStats(event) || event.type === 'survey.answered';
}

/**
 * Today's figures in big type for a wall screen (GET /api/wallboard), loaded again after the
 * live events that change them, at most every few seconds; the longest wait ticks locally.
 */
export function WallboardPage() {
  const timeZone = useMemo(browserTimeZone, []);
  const board = useResource<Wallboard>(
    `/api/wallboard?tz=${encodeURIComponent(timeZone)}&serviceLevelSeconds=60`,
    { liveWhen: changesWallboard, throttleMs: 3000 },
  );
  const connected = useLiveConnected();
  const data = board.data;
  return (
    <Box padding={['space50', 'space80']} maxWidth="100%">
      <Box display="flex" alignItems="baseline" columnGap="space50" marginBottom="space70">
        <Heading as="h1" variant="heading10" marginBottom="space0">
          Today
        </Heading>
        <Text as="span" color="colorTextWeak" fontSize="fontSize40">
          {timeZone}
        </Text>
      </Box>
      {connected === false && (
        <Box marginBottom="space50">
          <Callout variant="warning" role="status">
            <CalloutText>Live updates are interrupted; reconnecting…</CalloutText>
          </Callout>
        </Box>
      )}
      <LoadState what="the wallboard" loading={data === null} error={board.error} />
      {data && <Tiles board={data} loadedAt={board.loadedAt ?? Date.now()} />}
    </Box>
  );
}

function Tiles({ board, loadedAt }: { board: Wallboard; loadedAt: number }) {
  const totals = board.report.totals;
  const { live } = board;
  return (
    <Box display="flex" flexWrap="wrap" columnGap="space60" rowGap="space60">
      <Tile size="wall" label="In" value={String(totals.in)} />
      <Tile size="wall" label="Answered" value={String(totals.answered)} />
      <Tile size="wall" label="Abandoned" value={String(totals.abandoned)} />
      <Tile size="wall" label="Waiting now" value={String(live.waiting)} />
      <Tile
        size="wall"
        label="Longest wait"
        value={<LongestWait board={board} loadedAt={loadedAt} />}
      />
      <Tile
        size="wall"
        label="Service level"
        value={formatPercent(totals.serviceLevel)}
        detail={`within ${board.report.period.serviceLevelSeconds} s`}
      />
      <Tile
        size="wall"
        label="CSAT"
        value={formatScore(totals.csatAverage)}
        detail={`${totals.csatCount} scores`}
      />
      <Tile
        size="wall"
        label="Agents available"
        value={String(live.agents.available)}
        detail={`${live.agents.busy} busy · ${live.agents.away} away`}
      />
      <Tile
        size="wall"
        label="Handle time"
        value={formatSeconds(totals.handleTimeMedian)}
        detail="median"
      />
    </Box>
  );
}

/** The longest wait as of the last load, counted on locally while anyone waits. */
function LongestWait({ board, loadedAt }: { board: Wallboard; loadedAt: number }) {
  const now = useNow();
  if (board.live.waiting === 0) return '–';
  return formatDuration(board.live.longestWaitSeconds + Math.max(0, (now - loadedAt) / 1000));
}
