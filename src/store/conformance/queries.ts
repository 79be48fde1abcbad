import { describe, expect } from 'vitest';
import type { SortKey, Store, StoreQuery } from '../store.js';
import { LOINC, SNOMED, T, any, code, commitEach, date, historyData, ids, name, query, rec, searchData, status, versions } from './fixtures.js';
import type { Suite } from './writes.js';

/** Search, search-data updates and history. */
export function queryTests({ test }: Suite): void {
  describe('search', () => {
    const search = async (store: Store, types: string[], filter: Record<string, unknown>, more?: Partial<StoreQuery>) => {
      await commitEach(store, searchData());
      return store.search(query(types, filter, more));
    };
    const found = async (store: Store, types: string[], filter: Record<string, unknown>, sort: SortKey[] = []) =>
      ids((await search(store, types, filter, { sort })).records);

    test('an empty filter returns every current record of the type, ordered by id', async (store) => {
      expect(await found(store, ['Observation'], {})).toEqual([
        'Observation/o1', 'Observation/o10', 'Observation/o2', 'Observation/o3', 'Observation/o4', 'Observation/o5',
      ]);
    });
    test('search returns whole records', async (store) => {
      const result = await search(store, ['Patient'], { id: 'p1' });
      expect(result.records).toEqual([searchData()[0]]);
    });
    test('$elemMatch on idx matches conditions within one entry', async (store) => {
      expect(await found(store, ['Observation'], { idx: { $elemMatch: { p: 'code', s: LOINC, c: '1111' } } })).toEqual([
        'Observation/o1', 'Observation/o3',
      ]);
      // o4 has SNOMED 1111 and a LOINC entry, but not in the same entry.
      expect(await found(store, ['Observation'], { idx: { $elemMatch: { p: 'code', s: SNOMED, c: '1111' } } })).toEqual([
        'Observation/o4',
      ]);
      expect(await found(store, ['Observation'], { idx: { $elemMatch: { p: 'code', c: 'final' } } })).toEqual([]);
    });
    test('$elemMatch with $in and number ranges', async (store) => {
      expect(await found(store, ['Observation'], { idx: { $elemMatch: { p: 'code', c: { $in: ['2222', '3333'] } } } })).toEqual([
        'Observation/o10', 'Observation/o2', 'Observation/o5',
      ]);
      expect(await found(store, ['Observation'], { idx: { $elemMatch: { p: 'date', st: { $gte: 1500 }, et: { $lt: 3000 } } } })).toEqual([
        'Observation/o2', 'Observation/o5',
      ]);
    });
    test('several $elemMatch clauses under $and must all hold', async (store) => {
      const filter = {
        $and: [
          { idx: { $elemMatch: { p: 'code', c: '1111' } } },
          { idx: { $elemMatch: { p: 'status', c: 'final' } } },
          { idx: { $elemMatch: { p: 'date', st: { $lt: 2000 } } } },
        ],
      };
      expect(await found(store, ['Observation'], filter)).toEqual(['Observation/o1']);
    });
    test('comp equality selects one patient compartment', async (store) => {
      expect(await found(store, ['Observation'], { comp: 'Patient/p2' })).toEqual([
        'Observation/o3', 'Observation/o4', 'Observation/o5',
      ]);
    });
    test('comp $in selects several compartments without duplicates', async (store) => {
      expect(await found(store, ['Observation'], { comp: { $in: ['Patient/p1', 'Patient/p2'] } })).toEqual([
        'Observation/o1', 'Observation/o2', 'Observation/o3', 'Observation/o4', 'Observation/o5',
      ]);
    });
    test('comp inside $and combines with other clauses', async (store) => {
      const filter = { $and: [{ comp: 'Patient/p1' }, { idx: { $elemMatch: { p: 'code', c: '2222' } } }] };
      expect(await found(store, ['Observation'], filter)).toEqual(['Observation/o2', 'Observation/o5']);
      expect(await found(store, ['Observation'], { comp: 'Patient/p3', idx: { $elemMatch: { p: 'code', c: '1111' } } })).toEqual([]);
    });
    test('id equality and $in', async (store) => {
      expect(await found(store, ['Observation'], { id: 'o3' })).toEqual(['Observation/o3']);
      expect(await found(store, ['Observation'], { id: { $in: ['o4', 'o1', 'nope', 'c1'] } })).toEqual(['Observation/o1', 'Observation/o4']);
      expect(await found(store, ['Observation'], { id: { $in: [] } })).toEqual([]);
    });
    test('lastUpdated ranges compare instants as text', async (store) => {
      expect(await found(store, ['Observation'], { lastUpdated: { $gte: T(11), $lt: T(14) } })).toEqual([
        'Observation/o2', 'Observation/o3', 'Observation/o4',
      ]);
      expect(await found(store, ['Observation'], { lastUpdated: { $gt: T(14) } })).toEqual(['Observation/o10']);
    });
    test('system and code pinned within a compartment match within one entry, with and without other clauses', async (store) => {
      const inP2 = (match: Record<string, unknown>, more: Record<string, unknown>[] = []) => ({ $and: [{ comp: 'Patient/p2' }, { idx: { $elemMatch: match } }, ...more] });
      expect(await found(store, ['Observation'], inP2({ p: 'code', s: LOINC, c: '1111' }))).toEqual(['Observation/o3']);
      expect(await found(store, ['Observation'], inP2({ p: 'code', s: SNOMED, c: { $in: ['1111', '9999'] } }))).toEqual(['Observation/o4']);
      expect(await found(store, ['Observation'], inP2({ p: 'code', s: LOINC, c: '1111' }, [{ idx: { $elemMatch: { p: 'code', s: SNOMED, c: '1111' } } }]))).toEqual([]);
      expect(await found(store, ['Observation'], inP2({ p: 'code', s: LOINC, c: '1111' }, [{ comp: 'Patient/p1' }]))).toEqual([]);
    });
    test('createdAtMost leaves out what was created after the instant', async (store) => {
      const all = await found(store, ['Observation'], {});
      const early = ids((await search(store, ['Observation'], {}, { createdAtMost: T(12) })).records);
      const expected = searchData().filter((r) => r.type === 'Observation' && r.created! <= T(12));
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(all.length);
      expect(early).toEqual(ids(expected).sort());
      expect(ids((await search(store, ['Observation'], { comp: 'Patient/p2' }, { createdAtMost: T(12) })).records)).toEqual(
        ids(expected.filter((r) => r.comp.includes('Patient/p2'))).sort(),
      );
    });
    test('$or matches any branch', async (store) => {
      const filter = { $or: [{ id: 'o1' }, { comp: 'Patient/p3' }, { idx: { $elemMatch: { p: 'code', s: SNOMED } } }] };
      expect(await found(store, ['Observation'], filter)).toEqual(['Observation/o1', 'Observation/o10', 'Observation/o4']);
    });
    test('$nor excludes every branch', async (store) => {
      const filter = { $nor: [{ comp: 'Patient/p1' }, { idx: { $elemMatch: { p: 'status', c: 'preliminary' } } }] };
      expect(await found(store, ['Observation'], filter)).toEqual(['Observation/o10', 'Observation/o3', 'Observation/o4']);
    });
    test('$exists on srt fields and on index entry fields', async (store) => {
      expect(await found(store, ['Observation'], { 'srt.date': { $exists: false } })).toEqual(['Observation/o4']);
      expect(await found(store, ['Patient'], { 'srt.birthdate': { $exists: true } })).toEqual(['Patient/p1', 'Patient/p2']);
      expect(await found(store, ['Observation'], { idx: { $elemMatch: { p: 'code', t: { $exists: true } } } })).toEqual(['Observation/o4']);
    });
    test('$regex on idx.v matches normalised strings', async (store) => {
      expect(await found(store, ['Patient'], { idx: { $elemMatch: { p: 'name', v: { $regex: '^du' } } } })).toEqual([
        'Patient/p1', 'Patient/p2',
      ]);
      expect(await found(store, ['Patient'], { idx: { $elemMatch: { p: 'name', v: { $regex: 'paul' } } } })).toEqual(['Patient/p2']);
      expect(await found(store, ['Patient'], { idx: { $elemMatch: { p: 'name', v: { $regex: '^paul' } } } })).toEqual([]);
    });
    test('several types are searched together, ordered by type then id', async (store) => {
      expect(await found(store, ['Observation', 'Condition', 'Patient'], { comp: 'Patient/p1' })).toEqual([
        'Condition/c1', 'Observation/o1', 'Observation/o2', 'Observation/o5', 'Patient/p1',
      ]);
    });
    test('types not listed are not returned', async (store) => {
      expect(await found(store, ['Condition'], { idx: { $elemMatch: { p: 'code', s: SNOMED } } })).toEqual(['Condition/c1', 'Condition/c2']);
      expect(await found(store, ['Encounter'], {})).toEqual([]);
    });
    test('sort ascending on srt with ties broken by type then id, missing values last', async (store) => {
      expect(await found(store, ['Observation'], {}, [['srt.date', 1]])).toEqual([
        'Observation/o10', 'Observation/o1', 'Observation/o2', 'Observation/o5', 'Observation/o3', 'Observation/o4',
      ]);
    });
    test('sort descending on srt with ties broken by type then id ascending, missing values last', async (store) => {
      expect(await found(store, ['Observation'], {}, [['srt.date', -1]])).toEqual([
        'Observation/o3', 'Observation/o2', 'Observation/o5', 'Observation/o1', 'Observation/o10', 'Observation/o4',
      ]);
    });
    test('sort on several keys', async (store) => {
      expect(await found(store, ['Observation'], {}, [['srt.code', 1], ['srt.date', -1]])).toEqual([
        'Observation/o3', 'Observation/o1', 'Observation/o4', 'Observation/o2', 'Observation/o5', 'Observation/o10',
      ]);
    });
    test('sort on lastUpdated across types', async (store) => {
      expect(await found(store, ['Patient', 'Condition'], {}, [['lastUpdated', -1]])).toEqual([
        'Condition/c2', 'Condition/c1', 'Patient/p3', 'Patient/p2', 'Patient/p1',
      ]);
    });
    test('offset and limit page through the sorted matches', async (store) => {
      await commitEach(store, searchData());
      const pages: string[] = [];
      for (let offset = 0; offset < 8; offset += 2) {
        const page = await store.search(query(['Observation', 'Condition'], {}, { sort: [['srt.code', 1]], offset, limit: 2 }));
        expect(page.records.length).toBeLessThanOrEqual(2);
        pages.push(...ids(page.records));
      }
      expect(pages).toEqual([
        'Observation/o1', 'Observation/o3', 'Observation/o4', 'Observation/o2', 'Observation/o5', 'Observation/o10',
        'Condition/c2', 'Condition/c1',
      ]);
      const beyond = await store.search(query(['Observation'], {}, { offset: 6, limit: 2 }));
      expect(beyond.records).toEqual([]);
    });
    test('count gives the total of all matches, whatever the page', async (store) => {
      const result = await search(store, ['Observation'], { comp: 'Patient/p1' }, { count: true, offset: 1, limit: 1 });
      expect(ids(result.records)).toEqual(['Observation/o2']);
      expect(result.total).toBe(3);
    });
    test('limit 0 returns no records but the total', async (store) => {
      const result = await search(store, ['Observation', 'Condition'], { comp: 'Patient/p2' }, { count: true, limit: 0 });
      expect(result.records).toEqual([]);
      expect(result.total).toBe(4);
    });
  });

  describe('search data updates (reindexing)', () => {
    test('replaces idx, comp and srt of the current version only, leaving versions and history alone', async (store) => {
      await store.commit([any(rec('Observation', 'r1', 1, T(1), { idx: [status('final')], comp: ['Patient/p1'], srt: { code: 'a' } }))]);
      await store.commit([any(rec('Observation', 'r2', 1, T(2), { idx: [status('final')], comp: ['Patient/p1'] }))]);
      const changed = await store.updateSearchData([
        { type: 'Observation', id: 'r1', versionId: 1, idx: [status('amended')], comp: ['Patient/p2'], srt: { code: 'b' } },
        // Written since it was indexed: the stale update must not apply.
        { type: 'Observation', id: 'r2', versionId: 7, idx: [status('amended')], comp: ['Patient/p2'] },
        { type: 'Observation', id: 'missing', versionId: 1, idx: [], comp: [] },
      ]);
      expect(changed).toBe(1);
      const byStatus = (c: string) => query(['Observation'], { idx: { $elemMatch: { p: 'status', c } } });
      expect(ids((await store.search(byStatus('amended'))).records)).toEqual(['Observation/r1']);
      expect(ids((await store.search(byStatus('final'))).records)).toEqual(['Observation/r2']);
      expect(ids((await store.search(query(['Observation'], { comp: 'Patient/p2' }))).records)).toEqual(['Observation/r1']);
      expect(ids((await store.search(query(['Observation'], { comp: 'Patient/p1' }))).records)).toEqual(['Observation/r2']);
      const r1 = await store.read('Observation', 'r1');
      expect(r1?.versionId).toBe(1);
      expect(r1?.srt).toEqual({ code: 'b' });
      expect((await store.history({ type: 'Observation', id: 'r1', offset: 0, limit: 10 })).total).toBe(1);
    });
  });

  describe('history', () => {
    const history = async (store: Store, q: Partial<Parameters<Store['history']>[0]>) => {
      await commitEach(store, historyData());
      const result = await store.history({ offset: 0, limit: 100, ...q });
      return { versions: versions(result.records), total: result.total, records: result.records };
    };
    test('instance history lists versions newest first, deletions included', async (store) => {
      const result = await history(store, { type: 'Observation', id: 'o1' });
      expect(result.versions).toEqual(['Observation/o1/2', 'Observation/o1/1']);
      expect(result.total).toBe(2);
      expect(result.records[0]).toMatchObject({ deleted: true, lastUpdated: T(5) });
      expect(result.records[0]?.resource).toBeUndefined();
      expect(result.records[1]?.resource).toMatchObject({ resourceType: 'Observation', id: 'o1' });
    });
    test('instance history keeps each version content', async (store) => {
      const result = await history(store, { type: 'Patient', id: 'p1' });
      expect(result.records.map((r) => r.resource?.active)).toEqual([true, false]);
    });
    test('history of an unknown instance is empty', async (store) => {
      expect(await history(store, { type: 'Patient', id: 'o1' })).toMatchObject({ versions: [], total: 0 });
    });
    test('type history lists the versions of every resource of the type', async (store) => {
      const result = await history(store, { type: 'Observation' });
      expect(result.versions).toEqual(['Observation/o1/2', 'Observation/o2/1', 'Observation/o1/1']);
      expect(result.total).toBe(3);
    });
    test('system history lists the versions of every type', async (store) => {
      const result = await history(store, {});
      expect(result.versions).toEqual([
        'Condition/c1/1', 'Observation/o1/2', 'Observation/o2/1', 'Patient/p1/2', 'Observation/o1/1', 'Patient/p1/1',
      ]);
      expect(result.total).toBe(6);
    });
    test('since keeps versions at or after the instant', async (store) => {
      expect(await history(store, { since: T(3) })).toMatchObject({
        versions: ['Condition/c1/1', 'Observation/o1/2', 'Observation/o2/1', 'Patient/p1/2'],
        total: 4,
      });
      expect((await store.history({ type: 'Observation', since: T(3), offset: 0, limit: 10 })).records.length).toBe(2);
      expect((await store.history({ type: 'Patient', id: 'p1', since: T(4), offset: 0, limit: 10 })).total).toBe(0);
    });
    test('at keeps versions at or before the instant', async (store) => {
      expect(await history(store, { at: T(4) })).toMatchObject({
        versions: ['Observation/o2/1', 'Patient/p1/2', 'Observation/o1/1', 'Patient/p1/1'],
        total: 4,
      });
      expect(await history(store, { since: T(2), at: T(4), type: 'Observation' })).toMatchObject({
        versions: ['Observation/o2/1', 'Observation/o1/1'],
        total: 2,
      });
    });
    test('offset and limit page newest first with the total of all versions', async (store) => {
      expect(await history(store, { offset: 1, limit: 2 })).toMatchObject({
        versions: ['Observation/o1/2', 'Observation/o2/1'],
        total: 6,
      });
      expect(await store.history({ offset: 0, limit: 0 })).toEqual({ records: [], total: 6 });
      expect(await store.history({ type: 'Observation', offset: 2, limit: 5 })).toMatchObject({ total: 3 });
    });
    test('versions with the same lastUpdated come newest versionId first', async (store) => {
      await commitEach(store, [rec('Patient', 'p9', 1, T(7)), rec('Patient', 'p9', 2, T(7)), rec('Patient', 'p9', 3, T(7))]);
      const result = await store.history({ type: 'Patient', id: 'p9', offset: 0, limit: 10 });
      expect(versions(result.records)).toEqual(['Patient/p9/3', 'Patient/p9/2', 'Patient/p9/1']);
    });
  });

}
