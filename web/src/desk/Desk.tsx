import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { Toaster, useToaster } from '@twilio-paste/core/toast';
import { PlusIcon } from '@twilio-paste/icons/esm/PlusIcon';
import { useCallback, useState } from 'react';
import { api, errorText } from '../api';
import { navigate, usePath } from '../router';
import { ErrorCallout } from '../ui/ErrorCallout';
import { LiveStatus } from '../ui/LiveStatus';
import { useMediaQuery } from '../ui/useMediaQuery';
import { ConversationList } from './ConversationList';
import { ConversationView } from './ConversationView';
import { NewMessageDialog } from './NewMessageDialog';
import { OfferCard } from './OfferCard';
import { PresenceSwitch } from './PresenceSwitch';
import { useDesk } from './useDesk';

/** Below this width the desk shows the list or one conversation, not both. */
const NARROW = '(max-width: 767px)';

/** The agent desk: presence, offers, my conversations, the open conversation. */
export function Desk() {
  const toaster = useToaster();
  // Failures of what the desk does by itself: nothing on screen waits for them.
  const desk = useDesk((message) => toaster.push({ message, variant: 'error' }));
  const narrow = useMediaQuery(NARROW);
  const path = usePath();
  const selectedId = path.startsWith('/desk/') ? path.slice('/desk/'.length) : null;
  const [composing, setComposing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { markRead } = desk;
  const onSeen = useCallback(() => {
    if (selectedId) markRead(selectedId);
  }, [selectedId, markRead]);

  const shownError = error ?? desk.error;

  const act = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      desk.refresh();
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  const list = (
    <Box
      as="nav"
      aria-label="Offers and conversations"
      display="flex"
      flexDirection="column"
      width={narrow ? '100%' : 'size40'}
      flexShrink={0}
      borderRightStyle={narrow ? 'none' : 'solid'}
      borderRightWidth="borderWidth10"
      borderRightColor="colorBorderWeaker"
      overflowY="auto"
    >
      <Box padding="space50" display="flex" flexDirection="column" rowGap="space50">
        <PresenceSwitch
          presence={desk.presence}
          onChange={(presence) => act(() => desk.setPresence(presence))}
        />
        {/* Back from an outage: what failed meanwhile is stale, the desk reloads. */}
        <LiveStatus
          onBack={() => {
            setError(null);
            desk.refresh();
          }}
        />
        <Button variant="secondary" onClick={() => setComposing(true)}>
          <PlusIcon decorative />
          New message
        </Button>
        {shownError && <ErrorCallout>{shownError}</ErrorCallout>}
        {desk.offers.length > 0 && (
          <Box
            as="section"
            aria-label="Offers"
            display="flex"
            flexDirection="column"
            rowGap="space40"
          >
            <Heading as="h2" variant="heading50" marginBottom="space0">
              Offers
            </Heading>
            {desk.offers.map((offer) => (
              <OfferCard
                key={offer.id}
                offer={offer}
                onAccept={() =>
                  act(async () => {
                    const { conversationId } = await api<{ conversationId: string }>(
                      `/api/offers/${offer.id}/accept`,
                      { method: 'POST' },
                    );
                    navigate(`/desk/${conversationId}`);
                  })
                }
                onReject={() =>
                  act(() => api(`/api/offers/${offer.id}/reject`, { method: 'POST' }))
                }
              />
            ))}
          </Box>
        )}
      </Box>
      <Box paddingX="space50">
        <Heading as="h2" variant="heading50" marginBottom="space0">
          My conversations
        </Heading>
      </Box>
      <ConversationList
        conversations={desk.conversations}
        selectedId={selectedId}
        onSelect={(id) => navigate(`/desk/${id}`)}
      />
    </Box>
  );

  const conversation = selectedId ? (
    <ConversationView
      key={selectedId}
      conversationId={selectedId}
      narrow={narrow}
      onBack={() => navigate('/desk')}
      onLeft={() => {
        navigate('/desk');
        desk.refresh();
      }}
      onSeen={onSeen}
    />
  ) : (
    <Box padding="space100" display="flex" justifyContent="center">
      <Text as="p" color="colorTextWeak">
        Choose a conversation, or accept an offer.
      </Text>
    </Box>
  );

  return (
    <Box display="flex" height="100%" minHeight="0">
      <Toaster {...toaster} />
      {narrow ? (selectedId ? conversation : list) : list}
      {!narrow && (
        <Box flexGrow={1} minWidth="0" minHeight="0">
          {conversation}
        </Box>
      )}
      <NewMessageDialog
        isOpen={composing}
        onClose={() => setComposing(false)}
        onSent={(conversationId) => {
          setComposing(false);
          if (conversationId) navigate(`/desk/${conversationId}`);
          else
            toaster.push({
              message: 'Sent. Their reply will be offered to you.',
              variant: 'success',
              dismissAfter: 5000,
            });
          desk.refresh();
        }}
      />
    </Box>
  );
}
