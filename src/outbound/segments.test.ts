import { describe, expect, it } from 'vitest';
import { countSegments } from './segments.js';

describe('countSegments', () => {
  it.each([
    ['', 'GSM-7', 1],
    ['a'.repeat(160), 'GSM-7', 1],
    ['a'.repeat(161), 'GSM-7', 2],
    ['a'.repeat(306), 'GSM-7', 2],
    ['a'.repeat(307), 'GSM-7', 3],
    ['€'.repeat(80), 'GSM-7', 1],
    ['€'.repeat(81), 'GSM-7', 2],
    ['ü'.repeat(160), 'GSM-7', 1],
    ['ç'.repeat(70), 'UCS-2', 1],
    ['ç'.repeat(71), 'UCS-2', 2],
    ['😀'.repeat(35), 'UCS-2', 1],
    ['😀'.repeat(36), 'UCS-2', 2],
    // An escape pair that would straddle the end of part one (septets 153-154) moves to part
    // two: 152 + 2 + 152 = 306 septets fit 2 parts by length, but take 3.
    [`${'a'.repeat(152)}€${'a'.repeat(152)}`, 'GSM-7', 3],
    [`${'a'.repeat(151)}€${'a'.repeat(153)}`, 'GSM-7', 2],
    // An emoji (two UTF-16 units) across units 67-68 of a UCS-2 text moves to part two.
    [`${'ç'.repeat(66)}😀${'ç'.repeat(66)}`, 'UCS-2', 3],
    [`${'ç'.repeat(65)}😀${'ç'.repeat(67)}`, 'UCS-2', 2],
  ])('%j is %s in %i segment(s)', (text, encoding, segments) => {
    expect(countSegments(text)).toMatchObject({ encoding, segments });
  });
});
