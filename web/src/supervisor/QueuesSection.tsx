import { Box } from '@twilio-paste/core/box';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { Text } from '@twilio-paste/core/text';
import { LoadState } from '../ui/LoadState';
import { formatDuration, useNow } from './clock';
import { TableScroller } from './TableScroller';
import type { QueueStat } from './types';

/** The queues' waiting lines and members: one row per queue, highest priority first. */
export function QueuesSection({
  queues,
  loadedAt,
  error,
}: {
  queues: QueueStat[] | null;
  loadedAt: number | null;
  error: string | null;
}) {
  return (
    <Box as="section" aria-labelledby="supervisor-queues">
      <Heading as="h2" variant="heading30" id="supervisor-queues">
        Queues
      </Heading>
      <LoadState what="the queues" loading={queues === null} error={error} />
      {queues && queues.length === 0 && <Paragraph>No queues are configured.</Paragraph>}
      {queues && queues.length > 0 && (
        <TableScroller label="Queues table">
          <Table aria-label="Queues: waiting, offered and active conversations, agents by presence">
            <THead>
              <Tr>
                <Th>Queue</Th>
                <Th textAlign="right">Waiting</Th>
                <Th textAlign="right">Longest wait</Th>
                <Th textAlign="right">Offered</Th>
                <Th textAlign="right">Active</Th>
                <Th textAlign="right">Available</Th>
                <Th textAlign="right">Busy</Th>
                <Th textAlign="right">Away</Th>
                <Th textAlign="right">Offline</Th>
              </Tr>
            </THead>
            <TBody>
              {queues.map((queue) => (
                <QueueRow key={queue.id} queue={queue} loadedAt={loadedAt ?? Date.now()} />
              ))}
            </TBody>
          </Table>
        </TableScroller>
      )}
    </Box>
  );
}

function QueueRow({ queue, loadedAt }: { queue: QueueStat; loadedAt: number }) {
  return (
    <Tr>
      <Th scope="row">
        <Text as="span" fontWeight="fontWeightSemibold">
          {queue.name}
        </Text>
      </Th>
      <Td textAlign="right">{queue.waiting}</Td>
      <Td textAlign="right">
        {queue.waiting > 0 ? (
          <LongestWait seconds={queue.longestWaitSeconds} since={loadedAt} />
        ) : (
          '–'
        )}
      </Td>
      <Td textAlign="right">{queue.offered}</Td>
      <Td textAlign="right">{queue.active}</Td>
      <Td textAlign="right">{queue.agents.available}</Td>
      <Td textAlign="right">{queue.agents.busy}</Td>
      <Td textAlign="right">{queue.agents.away}</Td>
      <Td textAlign="right">{queue.agents.offline}</Td>
    </Tr>
  );
}

/**
 * The server counts the wait when it answers; counting on from that answer with the local
 * clock keeps the figure right whatever the offset between the two clocks.
 */
function LongestWait({ seconds, since }: { seconds: number; since: number }) {
  const now = useNow();
  return (
    <Text as="span" fontVariantNumeric="tabular-nums">
      {formatDuration(seconds + (now - since) / 1000)}
    </Text>
  );
}
