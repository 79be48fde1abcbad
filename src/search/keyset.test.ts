import fc from 'fast-check';
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import type { CurrentRecord, SortKey } from '../store/store.js';
import { fullOrder, keyOf, keysetClause } from './keyset.js';

function rec(id: string, srt: Record<string, string | number>): CurrentRecord {
  return { type: 'Observation', id, versionId: 1, lastUpdated: '2026-01-01T00:00:00.000Z', deleted: false, idx: [], comp: [], srt };
}

/** The engines' order: keys with a missing value last in both directions, then type and id. */
function compare(order: SortKey[]) {
  return (a: CurrentRecord, b: CurrentRecord) => {
    for (const [field, dir] of order) {
      const [x, y] = [keyOf(a, [[field, dir]])[0], keyOf(b, [[field, dir]])[0]];
      if (x === y) continue;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    }
    return 0;
  };
}

describe('keyset paging clauses', () => {
  it('after and before any record select exactly the records that follow and precede it', () => {
    const arbRecords = fc.uniqueArray(
      fc.record({ id: fc.stringMatching(/^[a-e]{1,2}$/), a: fc.option(fc.integer({ min: 0, max: 3 })), b: fc.option(fc.constantFrom('x', 'y')) }),
      { selector: (r) => r.id, minLength: 1, maxLength: 15 },
    );
    const arbSort = fc.array(fc.tuple(fc.constantFrom('srt.a', 'srt.b'), fc.constantFrom(1 as const, -1 as const)), { maxLength: 2 });
    fc.assert(
      fc.property(arbRecords, arbSort, (rows, sort) => {
        const records = rows.map((r) => {
          const srt: Record<string, string | number> = {};
          if (r.a !== null) srt.a = r.a;
          if (r.b !== null) srt.b = r.b;
          return rec(r.id, srt);
        });
        const order = fullOrder(sort as SortKey[]);
        const sorted = [...records].sort(compare(order));
        sorted.forEach((pivot, i) => {
          const key = keyOf(pivot, order);
          const after = new Query(keysetClause(order, key, true));
          const before = new Query(keysetClause(order, key, false));
          expect(sorted.filter((r) => after.test(r as any)).map((r) => r.id)).toEqual(sorted.slice(i + 1).map((r) => r.id));
          expect(sorted.filter((r) => before.test(r as any)).map((r) => r.id)).toEqual(sorted.slice(0, i).map((r) => r.id));
        });
      }),
      { numRuns: 300 },
    );
  });
});
