import type { BadgeProps } from '@twilio-paste/core/badge';
import type { ConversationState } from './types';

/** The words and badge colour of each conversation state, the same in list and transcript. */
export const STATE_LOOK: Record<
  ConversationState,
  { label: string; variant: BadgeProps['variant'] }
> = {
  flow: { label: 'In flow', variant: 'neutral' },
  queued: { label: 'Queued', variant: 'warning' },
  offered: { label: 'Offered', variant: 'info' },
  active: { label: 'Active', variant: 'success' },
  closed: { label: 'Closed', variant: 'decorative10' },
};

/** Conversations a supervisor can hand to an agent; the server refuses the others. */
export function canReassign(state: ConversationState): boolean {
  return state === 'queued' || state === 'offered' || state === 'active';
}
