// GSM 03.38 default alphabet (ESC excluded) and its extension table, whose characters cost two septets.
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM_EXTENDED = new Set('\f^{}\\[~]|€');

export type Encoding = 'GSM-7' | 'UCS-2';

export interface SegmentCount {
  encoding: Encoding;
  segments: number;
}

/**
 * Counts SMS segments as carriers (and Twilio) do: GSM-7 fits 160 septets in one segment or
 * 153 per part when concatenated; anything else is UCS-2 with 70 / 67 UTF-16 units. A character
 * (escape pair or surrogate pair) never straddles two parts.
 */
export function countSegments(body: string): SegmentCount {
  const chars = [...body];
  const gsm = chars.every((c) => GSM_BASIC.has(c) || GSM_EXTENDED.has(c));
  const sizes = gsm ? chars.map((c) => (GSM_EXTENDED.has(c) ? 2 : 1)) : chars.map((c) => c.length); // UTF-16 code units: 2 for astral characters such as emoji
  const single = gsm ? 160 : 70;
  const part = gsm ? 153 : 67;
  const total = sizes.reduce((a, b) => a + b, 0);
  const encoding: Encoding = gsm ? 'GSM-7' : 'UCS-2';
  if (total <= single) return { encoding, segments: 1 };
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > part) {
      segments += 1;
      used = 0;
    }
    used += size;
  }
  return { encoding, segments };
}
