import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeString } from './string.js';

const LIGATURES: Record<string, string> = { œ: 'oe', æ: 'ae', ß: 'ss', ø: 'o', ł: 'l', đ: 'd' };

/** The general rule, without the printable ASCII shortcut. */
const general = (s: string) =>
  s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[œæßøłđ]/g, (ch) => LIGATURES[ch]!)
    .replace(/\s+/g, ' ')
    .trim();

describe('normalizeString', () => {
  it('folds case, accents, ligatures and whitespace', () => {
    expect(normalizeString('  Hélène  Œuvre ')).toBe('helene oeuvre');
    expect(normalizeString('12  rue des Œillets')).toBe('12 rue des oeillets');
    expect(normalizeString(' Saint  ETIENNE\t')).toBe('saint etienne');
  });

  it('gives on printable ASCII what the general rule gives', () => {
    const ascii = fc.string({ unit: fc.constantFrom(...' aZ09-.  \'"~\t\nÉé'.split('')), maxLength: 20 });
    fc.assert(
      fc.property(fc.oneof(ascii, fc.string({ maxLength: 12 })), (s) => {
        expect(normalizeString(s)).toBe(general(s));
      }),
      { numRuns: 2000 },
    );
  });
});
