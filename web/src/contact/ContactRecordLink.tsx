import { Anchor } from '@twilio-paste/core/anchor';
import { navigate } from '../router';

/** A link to the contact's page: opened in the app, or in a new tab as any link. */
export function ContactRecordLink({ contactId }: { contactId: string }) {
  const path = `/contacts/${contactId}`;
  return (
    <Anchor
      href={path}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate(path);
      }}
    >
      Open contact record
    </Anchor>
  );
}
