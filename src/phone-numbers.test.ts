import { describe, expect, it } from 'vitest';
import { isCountryCode, normalisePhone } from './phone-numbers.js';

describe('reading a phone number as typed', () => {
  it('reads +1…, 1… and national format in the default country as one E.164 number', () => {
    for (const typed of [
      '+14252306549',
      '14252306549',
      '1 425 230 6549',
      '(425) 230-6549',
      '425-230-6549',
      '425.230.6549',
      '4252306549',
    ]) {
      expect(normalisePhone(typed, 'US'), typed).toBe('+14252306549');
    }
  });

  it('reads digits with their country code as that country’s, whatever the default country', () => {
    expect(normalisePhone('14252306549', 'GB')).toBe('+14252306549');
    expect(normalisePhone('14252306549', 'FR')).toBe('+14252306549');
    expect(normalisePhone('14252306549')).toBe('+14252306549');
    expect(normalisePhone('447911123456', 'GB')).toBe('+447911123456');
    expect(normalisePhone('447911123456', 'US')).toBe('+447911123456');
  });

  it('reads national format with its trunk prefix in the default country', () => {
    expect(normalisePhone('07911 123456', 'GB')).toBe('+447911123456');
    expect(normalisePhone('06 12 34 56 78', 'FR')).toBe('+33612345678');
    // A US number whose digits would also make a Dutch one is read in the default country.
    expect(normalisePhone('3125550123', 'US')).toBe('+13125550123');
  });

  it("keeps test ranges, which are possible but not assigned (555, Twilio's 500 numbers)", () => {
    expect(normalisePhone('(555) 555-0100', 'US')).toBe('+15555550100');
    expect(normalisePhone('15005550006', 'US')).toBe('+15005550006');
  });

  it('reads nothing from words, too few digits, or national format without a country', () => {
    expect(normalisePhone('call me', 'US')).toBeUndefined();
    expect(normalisePhone('12', 'US')).toBeUndefined();
    expect(normalisePhone('(425) 230-6549')).toBeUndefined();
  });

  it('knows the ISO country codes libphonenumber reads', () => {
    expect(isCountryCode('US')).toBe(true);
    expect(isCountryCode('GB')).toBe(true);
    expect(isCountryCode('XX')).toBe(false);
    expect(isCountryCode('us')).toBe(false);
  });
});
