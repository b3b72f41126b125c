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
import { Text } from '@twilio-paste/core/text';
import { LoadState } from '../ui/LoadState';
import { useResource } from '../useResource';
import type { ContactHistory, Transcript } from './types';

/**
 * Where Twilio says the number is registered: its webhook's FromCity, FromState, FromZip
 * and FromCountry, kept by the inbound module as city, state, zip and country.
 */
function location(attributes: Record<string, string>): string {
  const parts = [attributes.city, attributes.state, attributes.zip, attributes.country];
  return parts.filter(Boolean).join(', ') || 'Unknown';
}

function day(iso: string): string {
  return new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * Who the customer is: number (or Messenger id), name (theirs, or the profile name their
 * channel sent), location, opt-out state, and what happened before.
 */
export function ContactPanel({ transcript }: { transcript: Transcript }) {
  const contact = transcript.contact;
  if (!contact) return null;

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
        {contact.name && (
          <DescriptionListSet>
            <DescriptionListTerm>Name</DescriptionListTerm>
            <DescriptionListDetails>{contact.name}</DescriptionListDetails>
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
      <History contactId={contact.id} conversationId={transcript.conversation.id} />
    </Box>
  );
}

/** The customer's other conversations and the texts agents sent them first. */
function History({ contactId, conversationId }: { contactId: string; conversationId: string }) {
  const history = useResource<ContactHistory>(`/api/contacts/${contactId}/history`);
  const past = history.data?.conversations.filter((c) => c.id !== conversationId) ?? [];
  const originations = history.data?.originations ?? [];
  return (
    <>
      <Heading as="h3" variant="heading50">
        Past conversations
      </Heading>
      <LoadState what="past conversations" loading={history.data === null} error={history.error} />
      {history.data &&
        (past.length === 0 && originations.length === 0 ? (
          <Text as="p" color="colorTextWeak">
            None
          </Text>
        ) : (
          <UnorderedList marginBottom="space0">
            {past.map((conversation) => (
              <ListItem key={conversation.id}>
                {day(conversation.createdAt)} · {conversation.agentName ?? 'no agent'} ·{' '}
                {conversation.state === 'closed'
                  ? (conversation.closeReason ?? 'closed')
                  : conversation.state}
              </ListItem>
            ))}
            {originations.map((origination) => (
              <ListItem key={origination.messageId}>
                {day(origination.createdAt)} · {origination.agentName ?? 'agent'} wrote “
                {origination.body}”
              </ListItem>
            ))}
          </UnorderedList>
        ))}
    </>
  );
}
