import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { StatusBadge } from '@twilio-paste/core/status';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { Text } from '@twilio-paste/core/text';
import { useState } from 'react';
import { api, errorText } from '../api';
import { CHANNEL_LABELS, CHANNELS } from '../conversation/types';
import { ErrorCallout } from '../ui/ErrorCallout';
import { LoadState } from '../ui/LoadState';
import { formatDuration, formatWhen, secondsSince, useNow } from './clock';
import { PresenceMenu } from './PresenceMenu';
import { PRESENCE_LOOK } from './presence';
import { TableScroller } from './TableScroller';
import type { AgentStat, Presence } from './types';

/** Every queue member: presence, since when, load against capacity; presence can be set. */
export function AgentsSection({
  agents,
  error,
  onChanged,
}: {
  agents: AgentStat[] | null;
  error: string | null;
  onChanged: () => void;
}) {
  const [actionError, setActionError] = useState<string | null>(null);

  const setPresence = async (agent: AgentStat, presence: Presence) => {
    setActionError(null);
    try {
      await api(`/api/agents/${agent.id}/presence`, { method: 'PUT', body: { presence } });
      // The live event refreshes too; asking now shows the change even if the stream is down.
      onChanged();
    } catch (failure) {
      setActionError(`Could not set ${agent.name} ${presence}: ${errorText(failure)}`);
    }
  };

  return (
    <Box as="section" aria-labelledby="supervisor-agents">
      <Heading as="h2" variant="heading30" id="supervisor-agents">
        Agents
      </Heading>
      {actionError && (
        <Box marginBottom="space40">
          <ErrorCallout>{actionError}</ErrorCallout>
        </Box>
      )}
      <LoadState what="the agents" loading={agents === null} error={error} />
      {agents && agents.length === 0 && <Paragraph>No agent is a member of a queue.</Paragraph>}
      {agents && agents.length > 0 && (
        <TableScroller label="Agents table">
          <Table aria-label="Agents: presence, load and capacity">
            <THead>
              <Tr>
                <Th>Agent</Th>
                <Th>Presence</Th>
                <Th>Since</Th>
                {CHANNELS.map((channel) => (
                  <Th key={channel} textAlign="right">
                    {CHANNEL_LABELS[channel]}
                  </Th>
                ))}
                <Th>Busy</Th>
                <Th>Actions</Th>
              </Tr>
            </THead>
            <TBody>
              {agents.map((agent) => (
                <AgentRow
                  key={agent.id}
                  agent={agent}
                  onSetPresence={(presence) => setPresence(agent, presence)}
                />
              ))}
            </TBody>
          </Table>
        </TableScroller>
      )}
    </Box>
  );
}

function AgentRow({
  agent,
  onSetPresence,
}: {
  agent: AgentStat;
  onSetPresence: (presence: Presence) => void;
}) {
  const look = PRESENCE_LOOK[agent.presence];
  return (
    <Tr>
      <Th scope="row">
        <Text as="span" fontWeight="fontWeightSemibold">
          {agent.name}
        </Text>
      </Th>
      <Td>
        <StatusBadge as="span" variant={look.variant}>
          {look.label}
        </StatusBadge>
      </Td>
      <Td whiteSpace="nowrap">
        <PresenceSince iso={agent.presenceChangedAt} />
      </Td>
      {CHANNELS.map((channel) => (
        <Td key={channel} textAlign="right">
          <LoadFigure
            load={agent.load[channel]}
            capacity={agent.capacity[channel]}
            channel={CHANNEL_LABELS[channel]}
          />
        </Td>
      ))}
      <Td>
        {agent.busy ? (
          <Badge as="span" variant="warning">
            At capacity
          </Badge>
        ) : (
          <Text as="span" color="colorTextWeak">
            No
          </Text>
        )}
      </Td>
      <Td whiteSpace="nowrap">
        <PresenceMenu agentName={agent.name} current={agent.presence} onSelect={onSetPresence} />
      </Td>
    </Tr>
  );
}

function PresenceSince({ iso }: { iso: string }) {
  const now = useNow();
  return (
    <>
      <time dateTime={iso}>{formatWhen(iso, now)}</time>{' '}
      <Text as="span" color="colorTextWeak" fontVariantNumeric="tabular-nums">
        ({formatDuration(secondsSince(iso, now))})
      </Text>
    </>
  );
}

function LoadFigure({
  load,
  capacity,
  channel,
}: {
  load: number;
  capacity: number;
  channel: string;
}) {
  return (
    <Text
      as="span"
      fontVariantNumeric="tabular-nums"
      color={load >= capacity && capacity > 0 ? 'colorTextWarning' : 'colorText'}
      aria-label={`${load} of ${capacity} ${channel} conversations`}
    >
      {load} / {capacity}
    </Text>
  );
}
