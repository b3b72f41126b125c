import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { api, errorText } from '../api';
import type { LiveEvent } from '../live';
import { useSession } from '../session';
import { useResource } from '../useResource';
import { chime, showOfferCount } from './notify';
import type { Directory, MyConversation, Offer, Presence } from './types';

/** Event types after which my offers and conversations are read again. */
const ROUTING_EVENTS = /^(offer\.|conversation\.|message\.received$|message\.queued$)/;
const changesMyLists = (event: LiveEvent) => ROUTING_EVENTS.test(event.type);

async function loadMyLists() {
  const [offers, conversations] = await Promise.all([
    api<Offer[]>('/api/offers'),
    api<MyConversation[]>('/api/conversations/mine'),
  ]);
  return { offers, conversations };
}

/**
 * The desk's live state: my presence, pending offers and conversations. Loaded over REST,
 * then read again when the event stream says something changed for me (the server sends
 * an agent only their own events) and after every reconnect; never on a timer. What fails
 * in the background (reading my presence, marking a conversation read) goes to `onFailure`
 * as a sentence for the agent.
 */
export function useDesk(onFailure: (message: string) => void) {
  const { me, live } = useSession();
  // The latest callback, without re-running the effects that report through it.
  const report = useRef(onFailure);
  useLayoutEffect(() => {
    report.current = onFailure;
  });
  const lists = useResource(loadMyLists, { liveWhen: changesMyLists, throttleMs: 100 });
  const [presence, setPresenceState] = useState<Presence | null>(null);
  const knownOffers = useRef(new Set<string>());
  const offers = lists.data?.offers;

  // A chime for each offer not seen before; the tab title counts the pending ones.
  useEffect(() => {
    if (!offers) return;
    const fresh = offers.some((offer) => !knownOffers.current.has(offer.id));
    knownOffers.current = new Set(offers.map((offer) => offer.id));
    if (fresh) chime();
    showOfferCount(offers.length);
  }, [offers]);
  useEffect(() => () => showOfferCount(0), []);

  useEffect(() => {
    api<Directory>('/api/directory').then(
      (directory) => {
        const mine = directory.agents.find((agent) => agent.id === me.id);
        if (mine) setPresenceState(mine.presence);
      },
      (failure: unknown) => report.current(`Could not read your presence: ${errorText(failure)}`),
    );
    return live.subscribe((event) => {
      if (event.type === 'agent.presence-changed' && event.agentId === me.id) {
        setPresenceState(event.payload.presence);
      }
    });
  }, [live, me.id]);

  const setPresence = useCallback(async (next: Presence) => {
    const view = await api<{ presence: Presence }>('/api/agents/me/presence', {
      method: 'PUT',
      body: { presence: next },
    });
    setPresenceState(view.presence);
  }, []);

  const { refresh } = lists;
  const markRead = useCallback(
    (conversationId: string) => {
      api(`/api/conversations/${conversationId}/read`, { method: 'POST' }).then(
        refresh,
        (failure: unknown) =>
          report.current(`Could not mark the conversation read: ${errorText(failure)}`),
      );
    },
    [refresh],
  );

  return {
    presence,
    setPresence,
    offers: offers ?? [],
    conversations: lists.data?.conversations ?? [],
    error: lists.error,
    refresh,
    markRead,
  };
}
