/**
 * The customer-service window as the desk shows it: open until 24 hours after the
 * customer's last message, counted down a minute at a time.
 */

/** How long after a customer's message the channel accepts free text (src/addresses.ts). */
const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;
export const MINUTE_MS = 60 * 1000;

/**
 * When the window closes, in ms: the server's word, moved forward by an inbound message that
 * arrived since (its createdAt + 24 h). Null where nothing was ever received.
 */
export function closingTime(closesAt: string | null, lastInboundAt: string | null): number | null {
  const times = [
    closesAt === null ? null : Date.parse(closesAt),
    lastInboundAt === null ? null : Date.parse(lastInboundAt) + SERVICE_WINDOW_MS,
  ].filter((time): time is number => time !== null && !Number.isNaN(time));
  return times.length ? Math.max(...times) : null;
}

/** "3 h 12 min", "12 min", "less than a minute": whole minutes left, rounded down. */
export function timeLeftText(ms: number): string {
  const minutes = Math.floor(ms / MINUTE_MS);
  if (minutes < 1) return 'less than a minute';
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}
