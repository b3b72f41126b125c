import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import {
  Disclosure,
  DisclosureContent,
  DisclosureHeading,
  useDisclosureState,
} from '@twilio-paste/core/disclosure';
import type { HeadingProps } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { Transcript } from '../conversation/Transcript';
import { useTranscript } from '../conversation/useTranscript';
import { LoadState } from '../ui/LoadState';
import type { ContactConversation } from './types';

export function formatDay(iso: string): string {
  return new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/** How a conversation ended, or where it stands. */
function outcome(conversation: ContactConversation): string {
  if (conversation.state !== 'closed') return conversation.state;
  return conversation.closeReason ?? 'closed';
}

function surveyText(survey: NonNullable<ContactConversation['survey']>): string {
  return survey.scale === 'yes-no'
    ? `Survey: ${survey.score === 1 ? 'yes' : 'no'}`
    : `Survey: ${survey.score}/5`;
}

/**
 * A contact's conversations, newest first, each opening in place to its transcript (loaded
 * only once opened, and followed live while open).
 */
export function PastConversations({
  conversations,
  headingAs,
}: {
  conversations: ContactConversation[];
  /** The level of each conversation's heading, under the list's own. */
  headingAs: HeadingProps['as'];
}) {
  if (conversations.length === 0) {
    return (
      <Text as="p" color="colorTextWeak">
        None
      </Text>
    );
  }
  return (
    <Box display="flex" flexDirection="column" rowGap="space30" data-testid="past-conversations">
      {conversations.map((conversation) => (
        <PastConversation key={conversation.id} conversation={conversation} headingAs={headingAs} />
      ))}
    </Box>
  );
}

function PastConversation({
  conversation,
  headingAs,
}: {
  conversation: ContactConversation;
  headingAs: HeadingProps['as'];
}) {
  const disclosure = useDisclosureState();
  return (
    <Disclosure variant="contained" state={disclosure}>
      <DisclosureHeading as={headingAs} variant="heading60">
        {formatDay(conversation.createdAt)} · {conversation.numberAddress} ·{' '}
        {conversation.agentName ?? 'no agent'} · {outcome(conversation)}
      </DisclosureHeading>
      <DisclosureContent>
        <Box display="flex" flexWrap="wrap" columnGap="space30" marginBottom="space30">
          {conversation.queueName && <Text as="span">Queue: {conversation.queueName}</Text>}
          {conversation.dispositionLabel && (
            <Badge as="span" variant="neutral">
              {conversation.dispositionLabel}
            </Badge>
          )}
          {conversation.survey && (
            <Badge as="span" variant="decorative20">
              {surveyText(conversation.survey)}
            </Badge>
          )}
        </Box>
        {conversation.wrapUpSummary && (
          <Text as="p" marginBottom="space30">
            {conversation.wrapUpSummary}
          </Text>
        )}
        {/* Loaded once opened: a long history costs nothing until read. */}
        {disclosure.visible && <EmbeddedTranscript conversationId={conversation.id} />}
      </DisclosureContent>
    </Disclosure>
  );
}

function EmbeddedTranscript({ conversationId }: { conversationId: string }) {
  const { data, error } = useTranscript(conversationId);
  return (
    <>
      <LoadState what="the transcript" loading={data === null} error={error} />
      {data && <Transcript transcript={data} />}
    </>
  );
}
