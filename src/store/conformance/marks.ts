import { describe, expect } from 'vitest';
import { StoreConflict } from '../store.js';
import { T, any, rec } from './fixtures.js';
import type { Suite } from './writes.js';

/** The types the suite's stores mark (newStore passes them to the engine). */
export const MARKED_TYPES = ['Consent', 'Patient'];

/** Change marks: moved by commits of marked types, for the type and every compartment left or entered. */
export function markTests({ test }: Suite): void {
  describe('change marks', () => {
    test('a marked write moves its type and compartment marks, and only those', async (store) => {
      const keys = ['type:Consent', 'comp:Patient/p1', 'comp:Patient/p2', 'type:Observation'];
      const before = await store.readMarks(keys);
      expect(before).toEqual([undefined, undefined, undefined, undefined]);
      await store.commit([any(rec('Consent', 'c1', 1, T(1), { comp: ['Patient/p1'] }))]);
      const after = await store.readMarks(keys);
      expect(after[0]).not.toBeUndefined();
      expect(after[1]).not.toBeUndefined();
      expect(after[2]).toBeUndefined();
      // Writes of an unmarked type move nothing.
      await store.commit([any(rec('Observation', 'o1', 1, T(2), { comp: ['Patient/p2'] }))]);
      expect(await store.readMarks(keys)).toEqual(after);
    });
    test('moving a record to another compartment moves the mark of the one it left', async (store) => {
      await store.commit([any(rec('Consent', 'c1', 1, T(1), { comp: ['Patient/p1'] }))]);
      const [p1, p2] = await store.readMarks(['comp:Patient/p1', 'comp:Patient/p2']);
      await store.commit([{ record: rec('Consent', 'c1', 2, T(2), { comp: ['Patient/p2'] }), expect: { kind: 'version', versionId: 1 } }]);
      const [p1After, p2After] = await store.readMarks(['comp:Patient/p1', 'comp:Patient/p2']);
      expect(p1After).not.toEqual(p1);
      expect(p2After).not.toEqual(p2);
      expect(p2After).not.toBeUndefined();
    });
    test('concurrent commits that create the same marks all succeed and leave them set', async (store) => {
      await Promise.all(Array.from({ length: 16 }, (_, i) => store.commit([any(rec('Patient', `p${i}`, 1, T(1), { comp: [`Patient/p${i}`] }))])));
      const marks = await store.readMarks(['type:Patient', 'comp:Patient/p0', 'comp:Patient/p15']);
      expect(marks.every((m) => m !== undefined)).toBe(true);
    });
    test('every commit moves the mark again; a refused commit does not', async (store) => {
      await store.commit([any(rec('Patient', 'p1', 1, T(1), { comp: ['Patient/p1'] }))]);
      const [first] = await store.readMarks(['comp:Patient/p1']);
      await store.commit([any(rec('Patient', 'p1', 2, T(2), { comp: ['Patient/p1'] }))]);
      const [second] = await store.readMarks(['comp:Patient/p1']);
      expect(second).not.toEqual(first);
      await expect(store.commit([{ record: rec('Patient', 'p1', 9, T(3), { comp: ['Patient/p1'] }), expect: { kind: 'version', versionId: 7 } }])).rejects.toBeInstanceOf(StoreConflict);
      expect(await store.readMarks(['comp:Patient/p1'])).toEqual([second]);
    });
  });
}
