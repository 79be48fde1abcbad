import { describe, expect, it } from 'vitest';
import { checkSizeLimits, holdsMoreValuesThan } from './limits.js';

/** The values checkSizeLimits counts in a parsed resource: the smallest limit it accepts. */
function counted(value: unknown): number {
  for (let limit = 0; ; limit++) {
    try {
      checkSizeLimits(value, { maxStringLength: Infinity, maxArrayItems: Infinity, maxElements: limit }, 'R');
      return limit;
    } catch {
      // over this limit: try the next
    }
  }
}

describe('holdsMoreValuesThan (the values of a JSON text, unparsed)', () => {
  const samples = [
    { resourceType: 'Patient' },
    { resourceType: 'Patient', name: [{ family: 'a,b', given: ['"x"', 'y\\', '{[,]}'] }], active: true, multipleBirthInteger: 2 },
    { resourceType: 'Observation', component: [], extension: [{}], note: [{ text: 'a \\" , b' }], valueQuantity: { value: 1.5e3, unit: null } },
    { resourceType: 'List', entry: [[[]], [1, [2, 3]], { a: { b: { c: [] } } }] },
  ];
  it('counts what the size check counts, whatever the strings hold and however it is spaced', () => {
    for (const sample of samples) {
      const n = counted(sample);
      for (const text of [JSON.stringify(sample), JSON.stringify(sample, null, 2)]) {
        // A text shorter than twice the limit is not read: pad the limit's side with spaces.
        const padded = text + ' '.repeat(2 * n + 2);
        expect(holdsMoreValuesThan(padded, n), text).toBe(false);
        if (n > 0) expect(holdsMoreValuesThan(padded, n - 1), text).toBe(true);
      }
    }
  });

  it('says so as soon as the count passes the limit, and not below it', () => {
    expect(holdsMoreValuesThan('[1,2,3,4,5]', 4)).toBe(true);
    expect(holdsMoreValuesThan('[1,2,3,4,5]', 5)).toBe(false);
    expect(holdsMoreValuesThan(`{"a":"${',,,,'.repeat(10)}"}`, 1)).toBe(false);
  });
});
