import { useResource } from '../useResource';
import type { Transcript } from './types';

/** One conversation's transcript, kept current by anything logged against it. */
export function useTranscript(conversationId: string) {
  return useResource<Transcript>(`/api/conversations/${conversationId}`, {
    liveWhen: (event) => event.conversationId === conversationId,
    throttleMs: 100,
  });
}
