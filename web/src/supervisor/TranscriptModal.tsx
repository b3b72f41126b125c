import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Modal, ModalBody, ModalHeader, ModalHeading } from '@twilio-paste/core/modal';
import { Text } from '@twilio-paste/core/text';
import { type ReactNode, useId } from 'react';
import { ContactRecordLink } from '../contact/ContactRecordLink';
import { NoteForm } from '../conversation/NoteForm';
import { Transcript } from '../conversation/Transcript';
import { CHANNEL_LABELS } from '../conversation/types';
import { useTranscript } from '../conversation/useTranscript';
import { LoadState } from '../ui/LoadState';
import { STATE_LOOK } from './conversationLook';
import type { Transcript as TranscriptData } from './types';

/**
 * Any conversation's transcript in a modal dialog (focus stays inside, Escape closes), with
 * a form for an internal note. It follows the conversation live while open: new messages,
 * statuses and notes appear.
 */
export function TranscriptModal({
  conversationId,
  customerAddress,
  onClose,
}: {
  conversationId: string;
  customerAddress: string;
  onClose: () => void;
}) {
  const headingId = useId();
  const { data, error, refresh } = useTranscript(conversationId);

  return (
    <Modal isOpen onDismiss={onClose} size="wide" ariaLabelledby={headingId}>
      <ModalHeader i18nDismissLabel="Close transcript">
        <ModalHeading as="h2" id={headingId}>
          Conversation with {customerAddress}
        </ModalHeading>
      </ModalHeader>
      <ModalBody>
        <LoadState what="the transcript" loading={data === null} error={error} />
        {data && (
          <>
            <Summary transcript={data} />
            <Transcript transcript={data} />
            <Box
              marginTop="space60"
              padding="space50"
              borderRadius="borderRadius30"
              backgroundColor="colorBackgroundWarningWeakest"
            >
              <NoteForm conversationId={conversationId} onAdded={refresh} />
            </Box>
          </>
        )}
      </ModalBody>
    </Modal>
  );
}

/** State, number, agent and contact in one wrapping line, so the messages start high up. */
function Summary({ transcript }: { transcript: TranscriptData }) {
  const { conversation, contact } = transcript;
  const look = STATE_LOOK[conversation.state];
  return (
    <Box
      as="dl"
      display="flex"
      flexWrap="wrap"
      columnGap="space80"
      rowGap="space40"
      margin="space0"
      marginBottom="space60"
    >
      <Fact term="State">
        <Badge as="span" variant={look.variant}>
          {look.label}
        </Badge>
      </Fact>
      <Fact term="Channel">{CHANNEL_LABELS[conversation.channel]}</Fact>
      <Fact term="Number">{conversation.numberAddress}</Fact>
      <Fact term="Agent">{conversation.agentName ?? 'None'}</Fact>
      {conversation.disposition && <Fact term="Disposition">{conversation.disposition.label}</Fact>}
      {contact?.name && <Fact term="Contact">{contact.name}</Fact>}
      {contact?.optedOut && <Fact term="Consent">Opted out of this number</Fact>}
      {contact && (
        <Fact term="Record">
          <ContactRecordLink contactId={contact.id} />
        </Fact>
      )}
    </Box>
  );
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <Box>
      <Text as="dt" fontWeight="fontWeightSemibold" color="colorTextWeak" fontSize="fontSize20">
        {term}
      </Text>
      <Box as="dd" margin="space0" marginTop="space10">
        {children}
      </Box>
    </Box>
  );
}
