const wallAtStart = Date.now();
const monotonicAtStart = performance.now();

/**
 * Epoch milliseconds that never step: the wall clock read once, moved on by the monotonic clock.
 * Pacing, status delays and the 24-hour windows then hold when the machine's clock is stepped.
 */
export function nowMs(): number {
  return wallAtStart + Math.round(performance.now() - monotonicAtStart);
}
