import { useEffect, useState } from 'react';
import { closingTime, MINUTE_MS } from './serviceWindow';
import type { ServiceWindow } from './types';

export interface WindowState {
  /** Whether free text may be sent now. */
  open: boolean;
  /** Ms until it closes, while it is open and has an end (not on SMS). */
  leftMs: number | null;
}

/**
 * Whether the window is open now, re-rendering the caller when the minute shown changes and
 * at the moment it closes (one timer, set for the next of those moments). Open while there
 * is no window to read yet (null).
 */
export function useWindowState(
  serviceWindow: ServiceWindow | null,
  lastInboundAt: string | null,
): WindowState {
  const closesAt =
    serviceWindow === null || serviceWindow.channel === 'sms'
      ? null
      : closingTime(serviceWindow.closesAt, lastInboundAt);
  // The time counted from, read again when the closing moves (a new inbound message).
  const [clock, setClock] = useState(() => ({ closesAt, now: Date.now() }));
  if (clock.closesAt !== closesAt) setClock({ closesAt, now: Date.now() });
  const left = closesAt === null ? null : closesAt - clock.now;
  useEffect(() => {
    if (left === null || left <= 0) return;
    // Just past the next whole minute left, so that the text shown and the closing are on time.
    const timer = setTimeout(() => setClock({ closesAt, now: Date.now() }), (left % MINUTE_MS) + 1);
    return () => clearTimeout(timer);
  }, [left, closesAt]);
  if (closesAt === null) return { open: serviceWindow?.open ?? true, leftMs: null };
  return left !== null && left > 0 ? { open: true, leftMs: left } : { open: false, leftMs: null };
}
