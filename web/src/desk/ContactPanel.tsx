import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import {
  DescriptionList,
  DescriptionListDetails,
  DescriptionListSet,
  DescriptionListTerm,
} from '@twilio-paste/core/description-list';
import { Heading } from '@twilio-paste/core/heading';
import { ListItem, UnorderedList } from '@twilio-paste/core/list';
import { ContactRecordLink } from '../contact/ContactRecordLink';
import { formatDay, PastConversations } from '../contact/PastConversations';
import type { ContactRecord } from '../contact/types';
import { useContactRecord } from '../contact/useContactRecord';
import { LoadState } from '../ui/LoadState';
import type { Transcript } from './types';

/**
 * Where Twilio says the number is registered: its webhook's FromCity, FromState, FromZip
 * and FromCountry, kept by the inbound module as city, state, zip and country.
 */
function location(attributes: Record<string, string>): string {
  const parts = [attributes.city, attributes.state, attributes.zip, attributes.country];
  return parts.filter(Boolean).join(', ') || 'Unknown';
}

/**
 * Who the customer is: number (or Messenger id), name (theirs, or the profile name their
 * channel sent), email, location, opt-out state, and what happened before, each past
 * conversation opening in place; the whole record (to edit) on its own page.
 */
export function ContactPanel({ transcript }: { transcript: Transcript }) {
  const contact = transcript.contact;
  if (!contact) return null;
  return <ContactDetails transcript={transcript} contact={contact} />;
}

function ContactDetails({
  transcript,
  contact,
}: {
  transcript: Transcript;
  contact: NonNullable<Transcript['contact']>;
}) {
  const record = useContactRecord(contact.id);
  // The record follows edits live; the transcript's copy is there before it loads.
  const name = record.data ? record.data.displayName : contact.name;

  return (
    <Box as="aside" aria-label="Contact" padding="space50" data-testid="contact-panel">
      <Heading as="h2" variant="heading40">
        Contact
      </Heading>
      <DescriptionList>
        <DescriptionListSet>
          {/* A Messenger customer has no number, only the id Facebook gives them for the page. */}
          <DescriptionListTerm>
            {transcript.conversation.channel === 'messenger' ? 'Messenger id' : 'Number'}
          </DescriptionListTerm>
          <DescriptionListDetails>{contact.address}</DescriptionListDetails>
        </DescriptionListSet>
        {name && (
          <DescriptionListSet>
            <DescriptionListTerm>Name</DescriptionListTerm>
            <DescriptionListDetails>{name}</DescriptionListDetails>
          </DescriptionListSet>
        )}
        {record.data?.email && (
          <DescriptionListSet>
            <DescriptionListTerm>Email</DescriptionListTerm>
            <DescriptionListDetails>{record.data.email}</DescriptionListDetails>
          </DescriptionListSet>
        )}
        <DescriptionListSet>
          <DescriptionListTerm>Location</DescriptionListTerm>
          <DescriptionListDetails>{location(contact.location)}</DescriptionListDetails>
        </DescriptionListSet>
        <DescriptionListSet>
          <DescriptionListTerm>Messages</DescriptionListTerm>
          <DescriptionListDetails>
            {contact.optedOut ? (
              <Badge as="span" variant="error">
                Opted out (STOP)
              </Badge>
            ) : (
              <Badge as="span" variant="success">
                Subscribed
              </Badge>
            )}
          </DescriptionListDetails>
        </DescriptionListSet>
      </DescriptionList>
      <Box marginY="space40">
        <ContactRecordLink contactId={contact.id} />
      </Box>
      <LoadState what="past conversations" loading={record.data === null} error={record.error} />
      {record.data && <History record={record.data} conversationId={transcript.conversation.id} />}
    </Box>
  );
}

/** The customer's other conversations and the texts agents sent them first. */
function History({ record, conversationId }: { record: ContactRecord; conversationId: string }) {
  const past = record.conversations.filter((c) => c.id !== conversationId);
  return (
    <>
      <Heading as="h3" variant="heading50">
        Past conversations
      </Heading>
      <PastConversations conversations={past} headingAs="h4" />
      {record.originations.length > 0 && (
        <UnorderedList marginBottom="space0">
          {record.originations.map((origination) => (
            <ListItem key={origination.messageId}>
              {formatDay(origination.createdAt)} · {origination.agentName ?? 'agent'} wrote “
              {origination.body}”
            </ListItem>
          ))}
        </UnorderedList>
      )}
    </>
  );
}
