import type { LiveEvent } from '../live';
import { type Resource, useResource } from '../useResource';
import type { ContactRecord } from './types';

/** Lifecycle events of a conversation: it opened, moved, closed, or its survey was answered. */
const LIFECYCLE = /^(conversation\.|offer\.accepted$|survey\.)/;

/**
 * A contact's record (GET /api/contacts/{id}), read again when someone edits it, their
 * consent changes, or one of their conversations opens, changes hands or ends.
 */
export function useContactRecord(contactId: string): Resource<ContactRecord> {
  const record: Resource<ContactRecord> = useResource<ContactRecord>(`/api/contacts/${contactId}`, {
    liveWhen: (event: LiveEvent): boolean => {
      switch (event.type) {
        case 'contact.updated':
        case 'consent.changed':
          return event.payload.contactId === contactId;
        case 'conversation.opened':
          return event.payload.customerAddress === record.data?.address;
        default:
          return (
            LIFECYCLE.test(event.type) &&
            (record.data?.conversations.some((c) => c.id === event.conversationId) ?? false)
          );
      }
    },
  });
  return record;
}
