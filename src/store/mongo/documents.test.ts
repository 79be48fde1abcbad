import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { invertSortValue } from './documents.js';

/** MongoDB's order for strings without a collation: their UTF-8 bytes. */
const mongoOrder = (a: string, b: string): number => Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  // Few characters, so that prefixes and ties are frequent; astral and BMP-high ones order
  // differently in UTF-16 (JavaScript) and in UTF-8 (MongoDB).
  fc.string({ unit: fc.constantFrom('a', 'b', 'é', '\0', '\uFFFD', '\u{1F600}', '\u{10FFFE}'), maxLength: 4 }),
);

describe('invertSortValue', () => {
  it('reverses the order of strings as MongoDB compares them, prefixes included', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        fc.pre(!a.includes('\u{10FFFF}') && !b.includes('\u{10FFFF}'));
        expect(mongoOrder(invertSortValue(b) as string, invertSortValue(a) as string)).toBe(mongoOrder(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('yields strings that survive UTF-8, as BSON stores them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const inverted = invertSortValue(s) as string;
        expect(Buffer.from(inverted, 'utf8').toString('utf8')).toBe(inverted);
      }),
    );
  });

  it('negates numbers', () => {
    expect([-5, 0, 2.5, 1e12].map(invertSortValue)).toEqual([5, 0, -2.5, -1e12]);
  });
});
