/** GSM 03.38 basic set: one septet each. */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** GSM 03.38 extension table: an escape plus one septet each. */
const GSM_EXTENDED = '^{}\\[~]|€\f';

const basic = new Set(GSM_BASIC);
const extended = new Set(GSM_EXTENDED);

export interface SegmentCount {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) of the text. */
  units: number;
  /** What one more segment would hold, for the composer's counter. */
  perSegment: number;
}

/**
 * How many SMS segments a text takes, as carriers and Twilio count: GSM-7 when every
 * character is in the GSM alphabet (160 septets in one segment, 153 per part when
 * concatenated), else UCS-2 (70 UTF-16 units, or 67 per part). A character never straddles
 * two parts: an escape pair (`€`, `{`, …) or a surrogate pair (an emoji) that would cross a
 * part's end starts the next part, so such a text can take one segment more than its length
 * divided by the part size. An empty text is one segment.
 */
export function countSegments(text: string): SegmentCount {
  const chars = [...text];
  const gsm = chars.every((char) => basic.has(char) || extended.has(char));
  // Septets (GSM-7) or UTF-16 code units (UCS-2) of each character.
  const sizes = chars.map((char) => (gsm ? (extended.has(char) ? 2 : 1) : char.length));
  const units = sizes.reduce((sum, size) => sum + size, 0);
  const single = gsm ? 160 : 70;
  const part = gsm ? 153 : 67;
  const encoding = gsm ? 'GSM-7' : 'UCS-2';
  if (units <= single) return { encoding, segments: 1, units, perSegment: single };
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > part) {
      segments += 1;
      used = 0;
    }
    used += size;
  }
  return { encoding, segments, units, perSegment: part };
}
