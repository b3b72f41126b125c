import { describe, expect, it } from 'vitest';
import { closingTime, timeLeftText } from '../web/src/content/serviceWindow.js';
import {
  fillPlaceholders,
  fillQuickReply,
  placeholdersOf,
} from '../web/src/content/templateText.js';

describe('template text in the web app', () => {
  it('lists placeholders in reading order, then those with only a sample', () => {
    expect(placeholdersOf('Hi {{1}}, order {{ 2 }} ships {{1}}', { 3: 'x', 1: 'Ada' })).toEqual([
      '1',
      '2',
      '3',
    ]);
    expect(placeholdersOf('Hello {{name}}')).toEqual(['name']);
  });

  it('fills what has a value and leaves the rest as written', () => {
    expect(fillPlaceholders('Hi {{1}}, order {{2}}', { 1: 'Ada', 2: '' })).toBe(
      'Hi Ada, order {{2}}',
    );
  });

  it("fills a quick reply's names, dropping an unknown customer's with its space", () => {
    const body = 'Hi {{customerName}}, {{agentName}} here.';
    expect(fillQuickReply(body, { customerName: 'Grace', agentName: 'Ada' })).toBe(
      'Hi Grace, Ada here.',
    );
    expect(fillQuickReply(body, { customerName: null, agentName: 'Ada' })).toBe('Hi, Ada here.');
  });
});

describe('the customer-service window in the web app', () => {
  const closesAt = '2026-12-01T10:00:00.000Z';

  it('moves the closing forward by a later inbound message, never back', () => {
    expect(closingTime(closesAt, '2026-12-01T08:00:00.000Z')).toBe(
      Date.parse('2026-12-02T08:00:00.000Z'),
    );
    expect(closingTime(closesAt, '2026-11-29T08:00:00.000Z')).toBe(
      Date.parse('2026-12-01T10:00:00.000Z'),
    );
    expect(closingTime(null, null)).toBeNull();
  });

  it('says the time left in whole minutes', () => {
    expect(timeLeftText((3 * 60 + 12) * 60_000 + 59_000)).toBe('3 h 12 min');
    expect(timeLeftText(2 * 3_600_000)).toBe('2 h');
    expect(timeLeftText(12 * 60_000)).toBe('12 min');
    expect(timeLeftText(59_000)).toBe('less than a minute');
  });
});
