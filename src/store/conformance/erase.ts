import { describe, expect } from 'vitest';
import { LOINC, T, code, commitEach, ids, query, rec, versions } from './fixtures.js';
import type { Suite } from './writes.js';

/** Erasure: resources removed for good, with their versions, histories and index entries. */
export function eraseTests({ test }: Suite): void {
  describe('erase', () => {
    const setup = (store: Parameters<Parameters<Suite['test']>[1]>[0]) =>
      commitEach(store, [
        rec('Observation', 'o1', 1, T(1), { idx: [code(LOINC, '1111')], comp: ['Patient/p1'], srt: { code: '1111' } }),
        rec('Observation', 'o1', 2, T(2), { idx: [code(LOINC, '1111')], comp: ['Patient/p1', 'Patient/p2'], srt: { code: '1111' } }),
        rec('Observation', 'o10', 1, T(3), { idx: [code(LOINC, '1111')], comp: ['Patient/p1'], srt: { code: '1111' } }),
        rec('Condition', 'o1', 1, T(4), { comp: ['Patient/p1'] }),
      ]);

    test('leaves nothing of the resource to read, vread, search or history, and nothing else goes', async (store) => {
      await setup(store);
      expect(await store.erase([{ type: 'Observation', id: 'o1' }])).toBe(1);
      expect(await store.read('Observation', 'o1')).toBeUndefined();
      expect(await store.vread('Observation', 'o1', 1)).toBeUndefined();
      expect(await store.vread('Observation', 'o1', 2)).toBeUndefined();
      for (const filter of [{}, { comp: 'Patient/p1' }, { comp: 'Patient/p2' }, { idx: { $elemMatch: { p: 'code', c: '1111' } } }, { idx: { $elemMatch: { p: 'code', s: LOINC, c: '1111' } } }]) {
        const found = await store.search(query(['Observation'], filter, { count: true, sort: [['srt.code', 1]] }));
        expect(ids(found.records), JSON.stringify(filter)).toEqual(filter.comp === 'Patient/p2' ? [] : ['Observation/o10']);
        expect(found.total).toBe(filter.comp === 'Patient/p2' ? 0 : 1);
      }
      expect(versions((await store.history({ offset: 0, limit: 10 })).records)).toEqual(['Condition/o1/1', 'Observation/o10/1']);
      expect((await store.history({ type: 'Observation', offset: 0, limit: 10 })).total).toBe(1);
      expect((await store.history({ type: 'Observation', id: 'o1', offset: 0, limit: 10 })).total).toBe(0);
      expect((await store.read('Condition', 'o1'))?.versionId).toBe(1);
    });

    test('takes tombstones too, counts only what existed, and the id can be created anew', async (store) => {
      await setup(store);
      await store.commit([{ record: rec('Observation', 'o10', 2, T(5), { deleted: true, idx: [code(LOINC, '1111')], comp: ['Patient/p1'] }), expect: { kind: 'version', versionId: 1 } }]);
      expect(await store.erase([{ type: 'Observation', id: 'o10' }, { type: 'Observation', id: 'never' }])).toBe(1);
      expect(await store.read('Observation', 'o10')).toBeUndefined();
      expect((await store.history({ type: 'Observation', id: 'o10', offset: 0, limit: 10 })).total).toBe(0);
      expect(await store.erase([])).toBe(0);
      await store.commit([{ record: rec('Observation', 'o10', 1, T(6), { comp: ['Patient/p1'] }), expect: { kind: 'absent' } }]);
      expect(ids((await store.search(query(['Observation'], { comp: 'Patient/p1' }))).records).sort()).toEqual(['Observation/o1', 'Observation/o10']);
    });
  });
}
