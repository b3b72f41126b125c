import { describe, expect, it } from 'vitest';
import { countSegments } from './segments.js';

describe('countSegments', () => {
  it('fits 160 GSM-7 characters in one segment and splits 161 into two of 153', () => {
    expect(countSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', segments: 1 });
    expect(countSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', segments: 2 });
    expect(countSegments('a'.repeat(306))).toEqual({ encoding: 'GSM-7', segments: 2 });
    expect(countSegments('a'.repeat(307))).toEqual({ encoding: 'GSM-7', segments: 3 });
  });

  it('counts extension-table characters as two septets', () => {
    expect(countSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1 });
    expect(countSegments('€'.repeat(81))).toEqual({ encoding: 'GSM-7', segments: 2 });
    // 152 plain septets + an escape pair: the pair cannot straddle, so it opens a third part.
    expect(countSegments(`${'a'.repeat(152)}{${'a'.repeat(153)}`).segments).toBe(3);
  });

  it('falls back to UCS-2 at 70 / 67 UTF-16 units, emoji counting two', () => {
    expect(countSegments('ж'.repeat(70))).toEqual({ encoding: 'UCS-2', segments: 1 });
    expect(countSegments('ж'.repeat(71))).toEqual({ encoding: 'UCS-2', segments: 2 });
    expect(countSegments('😀'.repeat(35))).toEqual({ encoding: 'UCS-2', segments: 1 });
    expect(countSegments('😀'.repeat(36))).toEqual({ encoding: 'UCS-2', segments: 2 });
    // 66 units + one surrogate pair: the pair moves whole to the next part.
    expect(countSegments(`${'ж'.repeat(66)}😀${'ж'.repeat(67)}`).segments).toBe(3);
  });

  it('keeps accented GSM letters in GSM-7 but not others', () => {
    expect(countSegments('é'.repeat(160)).encoding).toBe('GSM-7');
    expect(countSegments('ç').encoding).toBe('UCS-2');
  });
});
