import { useCallback } from 'react';
import { api } from '../api';
import type { LiveEvent } from '../live';
import { useLiveResource } from '../useLiveResource';
import type { Transcript } from './types';

/** One conversation's transcript, kept current by anything logged against it. */
export function useTranscript(conversationId: string) {
  const load = useCallback(
    () => api<Transcript>(`/api/conversations/${conversationId}`),
    [conversationId],
  );
  const isRelevant = useCallback(
    (event: LiveEvent) => event.conversationId === conversationId,
    [conversationId],
  );
  return useLiveResource(load, isRelevant, 100);
}
