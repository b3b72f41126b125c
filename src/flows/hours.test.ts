import { describe, expect, it } from 'vitest';
import { isOpen, isValidTimeZone, localTime } from './hours.js';
import { renderTemplate } from './templates.js';

const weekdays9to17 = [1, 2, 3, 4, 5].map((weekday) => ({
  weekday,
  opensAt: '09:00',
  closesAt: '17:00',
}));

describe('operating hours', () => {
  it('reads local time in the flow time zone', () => {
    // 2026-11-23 14:30 UTC is a Monday, 09:30 in New York.
    expect(localTime(new Date('2026-11-23T14:30:00Z'), 'America/New_York')).toEqual({
      date: '2026-11-23',
      weekday: 1,
      time: '09:30:00',
    });
  });

  it('is open inside an interval and closed outside, at the edges as intended', () => {
    const schedule = { timeZone: 'America/New_York', hours: weekdays9to17, holidays: [] };
    expect(isOpen(new Date('2026-11-23T14:00:00Z'), schedule)).toBe(true); // Mon 09:00
    expect(isOpen(new Date('2026-11-23T13:59:59Z'), schedule)).toBe(false); // Mon 08:59:59
    expect(isOpen(new Date('2026-11-23T22:00:00Z'), schedule)).toBe(false); // Mon 17:00
    expect(isOpen(new Date('2026-11-22T15:00:00Z'), schedule)).toBe(false); // Sunday
  });

  it('is closed on a holiday, by local date', () => {
    const schedule = { timeZone: 'Europe/Paris', hours: weekdays9to17, holidays: ['2026-12-25'] };
    expect(isOpen(new Date('2026-12-25T10:00:00Z'), schedule)).toBe(false);
    expect(isOpen(new Date('2026-12-24T10:00:00Z'), schedule)).toBe(true);
  });

  it('is always open without intervals', () => {
    expect(isOpen(new Date(), { timeZone: 'UTC', hours: [], holidays: [] })).toBe(true);
  });

  it('validates IANA time zones', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('message templates', () => {
  it('fills placeholders and drops missing ones', () => {
    expect(
      renderTemplate('Hi from {businessName}! You are number {queuePosition}.', {
        businessName: 'Acme',
        queuePosition: 3,
      }),
    ).toBe('Hi from Acme! You are number 3.');
    expect(renderTemplate('{agentName} will help you', {})).toBe('will help you');
  });
});
