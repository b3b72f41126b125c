import { Box } from '@twilio-paste/core/box';
import { Callout, CalloutText } from '@twilio-paste/core/callout';
import { Heading } from '@twilio-paste/core/heading';
import { Stack } from '@twilio-paste/core/stack';
import { useState } from 'react';
import { useLiveConnected } from '../useResource';
import { AgentsSection } from './AgentsSection';
import { ConversationsSection } from './ConversationsSection';
import { QueuesSection } from './QueuesSection';
import { ReassignModal } from './ReassignModal';
import { TranscriptModal } from './TranscriptModal';
import type { ConversationFilter, ConversationSummary } from './types';
import { useConversationList, useQueueStats } from './useSupervisorData';

/**
 * The supervisor's page: queues, agents and conversations, kept current by the live event
 * stream; from here a supervisor sets presences, reads transcripts and reassigns.
 */
export function SupervisorView() {
  const stats = useQueueStats();
  const [filter, setFilter] = useState<ConversationFilter>('open');
  const list = useConversationList(filter);
  const connected = useLiveConnected();
  const [reading, setReading] = useState<ConversationSummary | null>(null);
  const [reassigning, setReassigning] = useState<ConversationSummary | null>(null);

  return (
    <Box padding={['space50', 'space80']} maxWidth="100%">
      <Stack orientation="vertical" spacing="space90">
        <Heading as="h1" variant="heading20" marginBottom="space0">
          Supervisor
        </Heading>
        {connected === false && (
          <Callout variant="warning" role="status">
            <CalloutText>Live updates are interrupted; reconnecting…</CalloutText>
          </Callout>
        )}
        <QueuesSection
          queues={stats.data?.queues ?? null}
          loadedAt={stats.loadedAt}
          error={stats.error}
        />
        <AgentsSection
          agents={stats.data?.agents ?? null}
          error={stats.error}
          onChanged={stats.refresh}
        />
        <ConversationsSection
          conversations={list.data}
          error={list.error}
          filter={filter}
          onFilterChange={setFilter}
          onRead={setReading}
          onReassign={setReassigning}
        />
      </Stack>
      {reading && (
        <TranscriptModal
          conversationId={reading.id}
          customerAddress={reading.customerAddress}
          onClose={() => setReading(null)}
        />
      )}
      {reassigning && (
        <ReassignModal
          conversation={reassigning}
          onClose={() => setReassigning(null)}
          onReassigned={() => {
            setReassigning(null);
            list.refresh();
            stats.refresh();
          }}
        />
      )}
    </Box>
  );
}
