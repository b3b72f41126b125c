import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { Text } from '@twilio-paste/core/text';
import { useSession } from '../session';
import type { MyConversation } from './types';

type LastMessage = NonNullable<MyConversation['lastMessage']>;

/** Who wrote the preview's message, as its prefix: the customer's has none. */
function writerOf(message: LastMessage, myId: string): string {
  if (message.author === 'agent') {
    return message.agentId === myId ? 'You: ' : `${message.agentName ?? 'Another agent'}: `;
  }
  if (message.author === 'flow' || message.author === 'bot') return 'Automated: ';
  return '';
}

/** My active conversations, newest activity first, with their unread counts. */
export function ConversationList({
  conversations,
  selectedId,
  onSelect,
}: {
  conversations: MyConversation[];
  selectedId: string | null;
  onSelect: (id: string) => void;
}) {
  const { me } = useSession();
  const active = conversations
    .filter((c) => c.state === 'active')
    .sort((a, b) => b.lastMessageAt.localeCompare(a.lastMessageAt));
  if (active.length === 0) {
    return (
      <Text as="p" color="colorTextWeak" padding="space40">
        No conversations yet. Go available to receive them, or start one with “New message”.
      </Text>
    );
  }
  return (
    <Box
      as="ul"
      margin="space0"
      padding="space0"
      listStyleType="none"
      aria-label="My conversations"
    >
      {active.map((conversation) => {
        const selected = conversation.id === selectedId;
        // The open conversation is being read: its count would only flicker until marked.
        const unread = selected ? 0 : conversation.unread;
        return (
          <Box as="li" key={conversation.id}>
            <Box
              as="button"
              type="button"
              width="100%"
              textAlign="left"
              display="flex"
              flexDirection="column"
              rowGap="space10"
              paddingX="space40"
              paddingY="space30"
              borderStyle="none"
              borderBottomStyle="solid"
              borderBottomWidth="borderWidth10"
              borderBottomColor="colorBorderWeaker"
              backgroundColor={selected ? 'colorBackgroundPrimaryWeakest' : 'colorBackgroundBody'}
              cursor="pointer"
              aria-current={selected ? 'true' : undefined}
              onClick={() => onSelect(conversation.id)}
              data-testid="conversation-item"
            >
              <Box display="flex" justifyContent="space-between" alignItems="center" width="100%">
                <Text as="span" fontWeight="fontWeightSemibold">
                  {conversation.customerAddress}
                </Text>
                {unread > 0 && (
                  <Badge as="span" variant="notification_counter">
                    {unread}
                    <ScreenReaderOnly> unread</ScreenReaderOnly>
                  </Badge>
                )}
              </Box>
              <Text as="span" color="colorTextWeak" fontSize="fontSize20">
                {conversation.lastMessage
                  ? `${writerOf(conversation.lastMessage, me.id)}${
                      conversation.lastMessage.body || '(attachment)'
                    }`
                  : conversation.numberAddress}
              </Text>
            </Box>
          </Box>
        );
      })}
    </Box>
  );
}
