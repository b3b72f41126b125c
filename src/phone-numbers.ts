/**
 * Reading phone numbers as people type them. Shared with the web app as it is (the desk shows
 * what a typed number will be): it imports libphonenumber-js only.
 */
import {
  type CountryCode,
  getCountries,
  isPossiblePhoneNumber,
  parsePhoneNumberFromString,
} from 'libphonenumber-js';

const COUNTRIES = new Set<string>(getCountries());

/** Whether the code is an ISO 3166 alpha-2 country whose numbers Parley can read (US, GB, …). */
export function isCountryCode(code: string): code is CountryCode {
  return COUNTRIES.has(code);
}

/**
 * E.164 for a phone number typed any common way: `+14252306549`; digits with their country
 * code and no `+` (`14252306549`, as Dynamics and ConnectPath write them); or national format
 * (`(425) 230-6549`, `425-230-6549`, `07911 123456`) in the default country. Numbers only
 * need to be possible, not assigned: test ranges (555, Twilio's magic 500 numbers) must pass.
 */
export function normalisePhone(input: string, defaultCountry?: CountryCode): string | undefined {
  const trimmed = input.trim();
  const digits = /^[\d\s.-]+$/.test(trimmed) ? trimmed.replace(/\D/g, '') : undefined;
  if (!digits) return readPhone(trimmed, defaultCountry);
  const international = parsePhoneNumberFromString(`+${digits}`);
  const national = defaultCountry ? parsePhoneNumberFromString(digits, defaultCountry) : undefined;
  // Digits alone are national only when they read as such. In a country whose national
  // numbers are written with a trunk prefix (0 in most of the world: 07911 123456), digits
  // without it that make a valid number with their country code are that number
  // (12065550123 in Germany is +1 206…). In North America, where the trunk prefix is the
  // calling code, both readings agree (14252306549 is +1 425…).
  const notWrittenNationally =
    national !== undefined && national.formatNational().replace(/\D/g, '') !== digits;
  const readings =
    notWrittenNationally && international?.isValid()
      ? [international]
      : [national, international].filter((one) => one !== undefined);
  const chosen =
    readings.find((one) => one.isValid()) ??
    readings.find((one) => isPossiblePhoneNumber(one.number));
  return chosen?.number;
}

function readPhone(input: string, defaultCountry?: CountryCode): string | undefined {
  const parsed = parsePhoneNumberFromString(input, defaultCountry);
  if (!parsed || !isPossiblePhoneNumber(parsed.number)) return undefined;
  return parsed.number;
}
