import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonical } from './chain.js';

/** The writer of the events' hashed text before this one: every chain already stored was hashed from its output. */
function earlier(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(earlier).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${earlier((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

describe('the text an event is hashed from', () => {
  it('is the text the earlier writer gave, for any JSON value: stored chains still verify', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonical(value)).toBe(earlier(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('is the same text for values whose keys already come in order (the events carnet builds)', () => {
    const ordered = (value: unknown): unknown =>
      Array.isArray(value) ? value.map(ordered)
      : value && typeof value === 'object' ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, ordered((value as Record<string, unknown>)[k])]))
      : value;
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonical(ordered(value))).toBe(earlier(value));
      }),
      { numRuns: 5000 },
    );
    // Integer-like keys come first in JavaScript, whatever the order they were written in.
    expect(canonical({ 10: 'a', 9: 'b' })).toBe('{"10":"a","9":"b"}');
  });

  it('does not depend on the order of the keys', () => {
    expect(canonical({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 'x' } })).toBe(canonical({ a: { c: 'x', d: [{ y: 2, z: 1 }] }, b: 1 }));
    expect(canonical({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });
});
