/** The supervisor page's two live lists, each refreshed by the events that change it. */
import { useCallback } from 'react';
import { api } from '../api';
import { useLiveResource } from '../useLiveResource';
import { changesConversationList, changesStats } from './events';
import type { ConversationFilter, ConversationSummary, QueueStats } from './types';

/** How many conversations the list shows; the newest activity comes first. */
export const CONVERSATION_LIMIT = 100;

export function useQueueStats() {
  const load = useCallback(() => api<QueueStats>('/api/queues/stats'), []);
  return useLiveResource(load, changesStats);
}

export function useConversationList(filter: ConversationFilter) {
  const load = useCallback(
    () =>
      api<ConversationSummary[]>(
        `/api/conversations?state=${encodeURIComponent(filter)}&limit=${CONVERSATION_LIMIT}`,
      ),
    [filter],
  );
  return useLiveResource(load, changesConversationList);
}
