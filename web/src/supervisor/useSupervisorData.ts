/** The supervisor page's two live lists, each refreshed by the events that change it. */
import { useResource } from '../useResource';
import { changesConversationList, changesStats } from './events';
import type { ConversationFilter, ConversationSummary, QueueStats } from './types';

/** How many conversations the list shows; the newest activity comes first. */
export const CONVERSATION_LIMIT = 100;

export function useQueueStats() {
  return useResource<QueueStats>('/api/queues/stats', { liveWhen: changesStats });
}

export function useConversationList(filter: ConversationFilter) {
  return useResource<ConversationSummary[]>(
    `/api/conversations?state=${encodeURIComponent(filter)}&limit=${CONVERSATION_LIMIT}`,
    { liveWhen: changesConversationList },
  );
}
