import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api';
import type { LiveEvent } from '../live';
import { useSession } from '../session';
import { chime, showOfferCount } from './notify';
import type { Directory, MyConversation, Offer, Presence } from './types';

/** Event types after which my offers and conversations are read again. */
const ROUTING_EVENTS = /^(offer\.|conversation\.|message\.received$|message\.queued$)/;

/**
 * The desk's live state: my presence, pending offers and conversations. Loaded over REST,
 * then re-read when the event stream says something changed for me (never on a timer), and
 * after every reconnect (the stream replays what was missed; a reload is simpler than
 * applying each event to the lists).
 */
export function useDesk() {
  const { me, live } = useSession();
  const [presence, setPresenceState] = useState<Presence | null>(null);
  const [offers, setOffers] = useState<Offer[]>([]);
  const [conversations, setConversations] = useState<MyConversation[]>([]);
  const [connected, setConnected] = useState(false);
  const knownOffers = useRef(new Set<string>());
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);

  const reload = useCallback(async () => {
    const [nextOffers, mine] = await Promise.all([
      api<Offer[]>('/api/offers'),
      api<MyConversation[]>('/api/conversations/mine'),
    ]);
    const fresh = nextOffers.filter((offer) => !knownOffers.current.has(offer.id));
    knownOffers.current = new Set(nextOffers.map((offer) => offer.id));
    if (fresh.length > 0) chime();
    showOfferCount(nextOffers.length);
    setOffers(nextOffers);
    setConversations(mine);
  }, []);

  const scheduleReload = useCallback(() => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      reload().catch(() => undefined);
    }, 100);
  }, [reload]);

  useEffect(() => {
    api<Directory>('/api/directory')
      .then((directory) => {
        const mine = directory.agents.find((agent) => agent.id === me.id);
        if (mine) setPresenceState(mine.presence);
      })
      .catch(() => undefined);
    reload().catch(() => undefined);
    const offEvent = live.subscribe((event: LiveEvent) => {
      if (event.type === 'agent.presence-changed' && event.agentId === me.id) {
        setPresenceState(event.payload.presence as Presence);
      }
      if (ROUTING_EVENTS.test(event.type)) scheduleReload();
    });
    const offStatus = live.onStatus((up) => {
      setConnected(up);
      if (up) scheduleReload();
    });
    return () => {
      offEvent();
      offStatus();
      showOfferCount(0);
    };
  }, [live, me.id, reload, scheduleReload]);

  const setPresence = useCallback(async (next: Presence) => {
    const view = await api<{ presence: Presence }>('/api/agents/me/presence', {
      method: 'PUT',
      body: { presence: next },
    });
    setPresenceState(view.presence);
  }, []);

  const markRead = useCallback((conversationId: string) => {
    setConversations((list) =>
      list.map((c) => (c.id === conversationId ? { ...c, unread: 0 } : c)),
    );
    api(`/api/conversations/${conversationId}/read`, { method: 'POST' }).catch(() => undefined);
  }, []);

  return { presence, setPresence, offers, conversations, connected, reload, markRead };
}
