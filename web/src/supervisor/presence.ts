import type { StatusBadgeVariants } from '@twilio-paste/core/status';
import type { Presence } from './types';

/** How each presence looks: the same words and colours in the badge and the menu. */
export const PRESENCE_LOOK: Record<Presence, { label: string; variant: StatusBadgeVariants }> = {
  available: { label: 'Available', variant: 'ConnectivityAvailable' },
  away: { label: 'Away', variant: 'ConnectivityBusy' },
  offline: { label: 'Offline', variant: 'ConnectivityOffline' },
};
