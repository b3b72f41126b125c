export interface OpeningInterval {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** `HH:MM` or `HH:MM:SS`, local to the flow's time zone. */
  opensAt: string;
  closesAt: string;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** One formatter per zone: building one costs far more than formatting with it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The local date (`YYYY-MM-DD`), weekday and time (`HH:MM:SS`) of an instant in a zone. */
export function localTime(
  at: Date,
  timeZone: string,
): { date: string; weekday: number; time: string } {
  const parts = Object.fromEntries(
    formatterFor(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: WEEKDAYS.indexOf(parts.weekday ?? ''),
    time: `${parts.hour}:${parts.minute}:${parts.second}`,
  };
}

/**
 * Whether a flow is open at an instant: not a holiday, and inside one of the weekly
 * intervals. A flow with no intervals at all is always open.
 */
export function isOpen(
  at: Date,
  schedule: { timeZone: string; hours: OpeningInterval[]; holidays: string[] },
): boolean {
  if (schedule.hours.length === 0 && schedule.holidays.length === 0) return true;
  const local = localTime(at, schedule.timeZone);
  if (schedule.holidays.includes(local.date)) return false;
  if (schedule.hours.length === 0) return true;
  return schedule.hours.some(
    (h) =>
      h.weekday === local.weekday &&
      padTime(h.opensAt) <= local.time &&
      local.time < padTime(h.closesAt),
  );
}

function padTime(time: string): string {
  return time.length === 5 ? `${time}:00` : time;
}
