import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Label } from '@twilio-paste/core/label';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Option, Select } from '@twilio-paste/core/select';
import { Table, TBody, Td, THead, Th, Tr } from '@twilio-paste/core/table';
import { Text } from '@twilio-paste/core/text';
import { useId } from 'react';
import { CHANNEL_LABELS } from '../conversation/types';
import { LoadState } from '../ui/LoadState';
import { formatDuration, formatWhen, secondsSince, useNow } from './clock';
import { canReassign, STATE_LOOK } from './conversationLook';
import { TableScroller } from './TableScroller';
import type { ConversationFilter, ConversationSummary } from './types';
import { CONVERSATION_LIMIT } from './useSupervisorData';

const FILTERS: { value: ConversationFilter; label: string }[] = [
  { value: 'open', label: 'All open' },
  { value: 'flow', label: 'In flow' },
  { value: 'queued', label: 'Queued' },
  { value: 'offered', label: 'Offered' },
  { value: 'active', label: 'Active' },
  { value: 'closed', label: 'Closed' },
];

export function ConversationsSection({
  conversations,
  error,
  filter,
  onFilterChange,
  onRead,
  onReassign,
}: {
  conversations: ConversationSummary[] | null;
  error: string | null;
  filter: ConversationFilter;
  onFilterChange: (filter: ConversationFilter) => void;
  onRead: (conversation: ConversationSummary) => void;
  onReassign: (conversation: ConversationSummary) => void;
}) {
  const filterId = useId();
  const filterLabel = FILTERS.find((f) => f.value === filter)?.label ?? filter;
  return (
    <Box as="section" aria-labelledby="supervisor-conversations">
      <Box
        display="flex"
        flexWrap="wrap"
        alignItems="flex-end"
        justifyContent="space-between"
        columnGap="space60"
        rowGap="space30"
        marginBottom="space40"
      >
        <Heading as="h2" variant="heading30" id="supervisor-conversations" marginBottom="space0">
          Conversations
        </Heading>
        <Box display="flex" alignItems="center" columnGap="space30">
          <Label htmlFor={filterId} marginBottom="space0">
            Show
          </Label>
          <Select
            id={filterId}
            value={filter}
            onChange={(event) => onFilterChange(event.target.value as ConversationFilter)}
          >
            {FILTERS.map((f) => (
              <Option key={f.value} value={f.value}>
                {f.label}
              </Option>
            ))}
          </Select>
        </Box>
      </Box>
      <LoadState what="the conversations" loading={conversations === null} error={error} />
      {conversations && conversations.length === 0 && (
        <Paragraph>No conversations to show ({filterLabel.toLowerCase()}).</Paragraph>
      )}
      {conversations && conversations.length >= CONVERSATION_LIMIT && (
        <Paragraph>
          Showing the {CONVERSATION_LIMIT} conversations with the latest activity.
        </Paragraph>
      )}
      {conversations && conversations.length > 0 && (
        <TableScroller label="Conversations table">
          <Table aria-label={`Conversations: ${filterLabel.toLowerCase()}, latest activity first`}>
            <THead>
              <Tr>
                <Th>Customer</Th>
                <Th>State</Th>
                <Th>Queue</Th>
                <Th>Agent</Th>
                <Th>Waiting / last activity</Th>
                <Th>Actions</Th>
              </Tr>
            </THead>
            <TBody>
              {conversations.map((conversation) => (
                <ConversationRow
                  key={conversation.id}
                  conversation={conversation}
                  onRead={() => onRead(conversation)}
                  onReassign={() => onReassign(conversation)}
                />
              ))}
            </TBody>
          </Table>
        </TableScroller>
      )}
    </Box>
  );
}

function ConversationRow({
  conversation,
  onRead,
  onReassign,
}: {
  conversation: ConversationSummary;
  onRead: () => void;
  onReassign: () => void;
}) {
  const look = STATE_LOOK[conversation.state];
  const customer = conversation.customerAddress;
  return (
    <Tr>
      <Th scope="row">
        <Text as="span" display="block" fontWeight="fontWeightSemibold" whiteSpace="nowrap">
          {customer}
        </Text>
        <Text
          as="span"
          display="block"
          color="colorTextWeak"
          fontWeight="fontWeightNormal"
          whiteSpace="nowrap"
        >
          {CHANNEL_LABELS[conversation.channel]} to {conversation.numberAddress}
        </Text>
      </Th>
      <Td>
        <Badge as="span" variant={look.variant}>
          {look.label}
        </Badge>
      </Td>
      <Td>{conversation.queueName ?? <Unset />}</Td>
      <Td>{conversation.agentName ?? <Unset />}</Td>
      <Td whiteSpace="nowrap">
        <Activity conversation={conversation} />
      </Td>
      <Td whiteSpace="nowrap">
        {/* Side by side even when the table is squeezed to a phone's width. */}
        <Box display="flex" columnGap="space30">
          <Button
            variant="secondary"
            size="small"
            onClick={onRead}
            aria-label={`Read conversation with ${customer}`}
          >
            Read
          </Button>
          {canReassign(conversation.state) ? (
            <Button
              variant="secondary"
              size="small"
              onClick={onReassign}
              aria-label={`Reassign conversation with ${customer}`}
            >
              Reassign
            </Button>
          ) : null}
        </Box>
      </Td>
    </Tr>
  );
}

function Unset() {
  return (
    <Text as="span" color="colorTextWeak">
      –
    </Text>
  );
}

/**
 * Waiting customers show how long they have waited (what a supervisor acts on); the others
 * show how long ago the last message was, and closed ones when they closed.
 */
function Activity({ conversation }: { conversation: ConversationSummary }) {
  const now = useNow();
  const { state, queuedAt, lastMessageAt, closedAt, createdAt } = conversation;
  if (state === 'closed' && closedAt) {
    return (
      <>
        Closed <time dateTime={closedAt}>{formatWhen(closedAt, now)}</time>
      </>
    );
  }
  if ((state === 'queued' || state === 'offered') && queuedAt) {
    return (
      <Text as="span" fontVariantNumeric="tabular-nums">
        Waiting {formatDuration(secondsSince(queuedAt, now))}
      </Text>
    );
  }
  const last = lastMessageAt ?? createdAt;
  return (
    <Text as="span" fontVariantNumeric="tabular-nums">
      <time dateTime={last} title={new Date(last).toLocaleString()}>
        {formatDuration(secondsSince(last, now))}
      </time>{' '}
      ago
    </Text>
  );
}
