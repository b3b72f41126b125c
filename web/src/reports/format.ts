/** How the report pages write their figures: durations as m:ss, shares as whole percents. */
import { formatDuration } from '../supervisor/clock';

/** Seconds as m:ss (h:mm:ss from an hour on); a dash when no conversation had the duration. */
export function formatSeconds(seconds: number | null): string {
  return seconds === null ? '–' : formatDuration(Math.round(seconds));
}

export function formatPercent(percent: number | null): string {
  return percent === null ? '–' : `${Math.round(percent)}%`;
}

export function formatScore(score: number | null): string {
  return score === null ? '–' : score.toFixed(2);
}

/** The browser's time zone, for buckets and "today"; UTC if it has none. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** A bucket's start as the page's reader says it: a date for days, a date and hour for hours. */
export function bucketLabel(iso: string, bucket: 'hour' | 'day', timeZone: string): string {
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    month: 'short',
    day: 'numeric',
    ...(bucket === 'hour' && { hour: '2-digit', minute: '2-digit' }),
  }).format(new Date(iso));
}
