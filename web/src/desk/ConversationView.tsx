import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { ButtonGroup } from '@twilio-paste/core/button-group';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { ArrowBackIcon } from '@twilio-paste/icons/esm/ArrowBackIcon';
import { useEffect, useState } from 'react';
import { useWindowState } from '../content/useWindowState';
import { NoteForm } from '../conversation/NoteForm';
import { Transcript } from '../conversation/Transcript';
import { CHANNEL_LABELS } from '../conversation/types';
import { useTranscript } from '../conversation/useTranscript';
import { useSession } from '../session';
import { ErrorCallout } from '../ui/ErrorCallout';
import { LoadState } from '../ui/LoadState';
import { Composer } from './Composer';
import { ContactPanel } from './ContactPanel';
import { EndDialog } from './EndDialog';
import { TransferDialog } from './TransferDialog';

/**
 * One conversation: its header with note, transfer and end, the transcript kept live from
 * the event stream, the internal-note form when open, the composer, and the contact panel.
 */
export function ConversationView({
  conversationId,
  narrow,
  onBack,
  onLeft,
  onSeen,
}: {
  conversationId: string;
  narrow: boolean;
  onBack: () => void;
  /** The conversation is no longer mine (ended or transferred). */
  onLeft: () => void;
  /** New messages were shown to the agent. */
  onSeen: () => void;
}) {
  const { me } = useSession();
  const { data: transcript, error, refresh } = useTranscript(conversationId);
  const [transferring, setTransferring] = useState(false);
  const [ending, setEnding] = useState(false);
  const [noting, setNoting] = useState(false);
  // At phone width the contact panel takes the transcript's place while it is open.
  const [contactOpen, setContactOpen] = useState(false);

  // Whatever the agent sees of the conversation counts as read.
  useEffect(() => {
    if (transcript) onSeen();
  }, [transcript, onSeen]);

  const lastInboundAt =
    transcript?.messages.findLast((message) => message.direction === 'inbound')?.createdAt ?? null;
  const windowState = useWindowState(transcript?.conversation.serviceWindow ?? null, lastInboundAt);

  if (!transcript) {
    return (
      <Box padding="space60">
        <LoadState what="the conversation" error={error} />
      </Box>
    );
  }
  const { conversation } = transcript;
  const mine = conversation.state === 'active' && conversation.agentId === me.id;
  const optedOut = transcript.contact?.optedOut ?? false;
  const composerBlocked = !mine
    ? conversation.state === 'closed'
      ? 'This conversation has ended.'
      : 'This conversation is not assigned to you.'
    : optedOut
      ? 'The customer has opted out (STOP); they receive nothing until they text START.'
      : null;

  return (
    <Box display="flex" height="100%" minHeight="0">
      <Box display="flex" flexDirection="column" flexGrow={1} minWidth="0" minHeight="0">
        <Box
          display="flex"
          alignItems="center"
          flexWrap="wrap"
          columnGap="space30"
          rowGap="space20"
          paddingX="space50"
          paddingY="space30"
          borderBottomStyle="solid"
          borderBottomWidth="borderWidth10"
          borderBottomColor="colorBorderWeaker"
        >
          {narrow && (
            <Button variant="secondary_icon" size="icon_small" onClick={onBack}>
              <ArrowBackIcon decorative={false} title="Back to my conversations" />
            </Button>
          )}
          <Box flexGrow={1} minWidth="0">
            <Heading as="h2" variant="heading40" marginBottom="space0">
              {conversation.customerAddress}
            </Heading>
            <Text as="p" color="colorTextWeak" fontSize="fontSize20">
              {CHANNEL_LABELS[conversation.channel]} to {conversation.numberAddress}
              {conversation.queueName ? ` · ${conversation.queueName}` : ''} · {conversation.state}
            </Text>
          </Box>
          {narrow && (
            <Button
              variant="secondary"
              size="small"
              aria-expanded={contactOpen}
              onClick={() => setContactOpen((open) => !open)}
            >
              {contactOpen ? 'Transcript' : 'Contact'}
            </Button>
          )}
          <ButtonGroup>
            <Button
              variant="secondary"
              size="small"
              aria-expanded={noting}
              onClick={() => setNoting((open) => !open)}
            >
              Note
            </Button>
            {mine && (
              <Button variant="secondary" size="small" onClick={() => setTransferring(true)}>
                Transfer
              </Button>
            )}
            {mine && (
              <Button variant="destructive_secondary" size="small" onClick={() => setEnding(true)}>
                End conversation
              </Button>
            )}
          </ButtonGroup>
        </Box>
        {error && (
          <Box paddingX="space50" paddingTop="space30">
            <ErrorCallout>{error}</ErrorCallout>
          </Box>
        )}
        {narrow && contactOpen ? (
          <Box flexGrow={1} overflowY="auto">
            <ContactPanel transcript={transcript} />
          </Box>
        ) : (
          <>
            <Box flexGrow={1} overflowY="auto" minHeight="size10" paddingX="space50">
              <Transcript transcript={transcript} />
            </Box>
            {noting && (
              <Box
                paddingX="space50"
                paddingY="space40"
                borderTopStyle="solid"
                borderTopWidth="borderWidth10"
                borderTopColor="colorBorderWarningWeak"
                backgroundColor="colorBackgroundWarningWeakest"
              >
                <NoteForm conversationId={conversationId} onAdded={refresh} />
              </Box>
            )}
            <Box
              padding="space50"
              borderTopStyle="solid"
              borderTopWidth="borderWidth10"
              borderTopColor="colorBorderWeaker"
            >
              <Composer
                conversationId={conversationId}
                numberId={conversation.numberId}
                allowAttachments={conversation.allowAttachments}
                disabledReason={composerBlocked}
                serviceWindow={{
                  ...windowState,
                  templatesAllowed: conversation.serviceWindow.templatesAllowed,
                }}
                customerName={transcript.contact?.name ?? null}
              />
            </Box>
          </>
        )}
      </Box>
      {!narrow && (
        <Box
          width="size30"
          flexShrink={0}
          overflowY="auto"
          borderLeftStyle="solid"
          borderLeftWidth="borderWidth10"
          borderLeftColor="colorBorderWeaker"
        >
          <ContactPanel transcript={transcript} />
        </Box>
      )}
      <TransferDialog
        conversationId={conversationId}
        isOpen={transferring}
        onClose={() => setTransferring(false)}
        onTransferred={() => {
          setTransferring(false);
          onLeft();
        }}
      />
      <EndDialog
        conversation={conversation}
        isOpen={ending}
        onClose={() => setEnding(false)}
        onEnded={() => {
          setEnding(false);
          onLeft();
        }}
      />
    </Box>
  );
}
