import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { rec, T } from '../conformance/fixtures.js';
import type { CurrentRecord, Write } from '../store.js';
import { openDbs } from './dbs.js';
import { createLmdbStore, type LmdbStore } from './lmdb-store.js';
import { POSTING_LIMIT } from './postings.js';
import { EARLIER_BUILT, TERMS_BUILT } from './terms.js';

const dirs: string[] = [];
const open: LmdbStore[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'carnet-postings-'));
  dirs.push(dir);
  return dir;
}
async function openStore(path: string): Promise<LmdbStore> {
  const store = await createLmdbStore({ path });
  open.push(store);
  return store;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const LOINC = 'http://loinc.org';
const doc = (id: string, patient: string, code: string, versionId = 1, deleted = false): CurrentRecord =>
  rec('DocumentReference', id, versionId, T(versionId), {
    comp: [`Patient/${patient}`],
    deleted,
    idx: [
      { p: 'type', s: LOINC, c: code },
      { p: 'patient', r: `Patient/${patient}` },
    ],
  });
const created = (records: CurrentRecord[]): Write[] => records.map((record) => ({ record, expect: { kind: 'absent' } }));
const updated = (record: CurrentRecord): Write[] => [{ record, expect: { kind: 'version', versionId: record.versionId - 1 } }];

/** A patient's documents of a type, with how many records the store read to find them. */
async function ofType(store: LmdbStore, patient: string, code: string): Promise<{ ids: string[]; examined: number }> {
  const before = store.stats.examined;
  const { records } = await store.search({
    types: ['DocumentReference'],
    filter: { comp: `Patient/${patient}`, idx: { $elemMatch: { p: 'type', s: LOINC, c: code } } },
    sort: [],
    offset: 0,
    limit: 1000,
    count: false,
  });
  return { ids: records.map((r) => r.id), examined: store.stats.examined - before };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, k) => `${prefix}${String(k).padStart(3, '0')}`);

describe('lmdb compartment postings', () => {
  it('follow creates, updates that change a code or a patient, and deletions', async () => {
    const store = await openStore(await tempDir());
    await store.commit(created([doc('d1', 'p1', 'A'), doc('d2', 'p1', 'A'), doc('d3', 'p2', 'A')]));
    expect(await ofType(store, 'p1', 'A')).toEqual({ ids: ['d1', 'd2'], examined: 2 });
    await store.commit(updated(doc('d1', 'p1', 'B', 2)));
    expect(await ofType(store, 'p1', 'A')).toEqual({ ids: ['d2'], examined: 1 });
    expect(await ofType(store, 'p1', 'B')).toEqual({ ids: ['d1'], examined: 1 });
    await store.commit(updated(doc('d2', 'p2', 'A', 2)));
    expect(await ofType(store, 'p1', 'A')).toEqual({ ids: [], examined: 0 });
    expect(await ofType(store, 'p2', 'A')).toEqual({ ids: ['d2', 'd3'], examined: 2 });
    await store.commit(updated(doc('d3', 'p2', 'A', 2, true)));
    expect(await ofType(store, 'p2', 'A')).toEqual({ ids: ['d2'], examined: 1 });
    // Written again with the same terms: nothing doubles.
    await store.commit(updated(doc('d2', 'p2', 'A', 3)));
    expect(await ofType(store, 'p2', 'A')).toEqual({ ids: ['d2'], examined: 1 });
  });

  it(`past ${POSTING_LIMIT} records of one term in one compartment, the range answers, through deletions too`, async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const many = ids('m', POSTING_LIMIT + 6);
    await store.commit(created([...many.map((id) => doc(id, 'p1', 'A')), doc('x1', 'p1', 'B'), doc('y1', 'p2', 'A')]));
    expect(await ofType(store, 'p1', 'A')).toEqual({ ids: many, examined: many.length });
    await store.commit(many.slice(0, 20).map((id) => ({ record: doc(id, 'p1', 'A', 2, true), expect: { kind: 'version' as const, versionId: 1 } })));
    expect(await ofType(store, 'p1', 'A')).toEqual({ ids: many.slice(20), examined: many.length - 20 });
    // Other terms and other patients keep their own postings.
    expect(await ofType(store, 'p1', 'B')).toEqual({ ids: ['x1'], examined: 1 });
    expect(await ofType(store, 'p2', 'A')).toEqual({ ids: ['y1'], examined: 1 });
    await store.close();
    open.splice(0);
    const dbs = openDbs(path);
    const posting = (patient: string, code: string) => dbs.compPostings.get([`Patient/${patient}`, 'DocumentReference', 'type', 'sc', `${LOINC}|${code}`]);
    expect([posting('p1', 'A'), posting('p1', 'B'), posting('p2', 'A'), posting('p3', 'A')]).toEqual([false, ['x1'], ['y1'], undefined]);
    await dbs.root.close();
  });

  it('are built when a store of the previous layout opens', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    await store.commit(created([doc('d1', 'p1', 'A'), doc('d2', 'p1', 'A'), ...ids('m', POSTING_LIMIT + 1).map((id) => doc(id, 'p2', 'A'))]));
    await store.close();
    open.splice(0);
    // The previous layout: the same term indexes, no postings, its own marker.
    const dbs = openDbs(path);
    await dbs.compPostings.clearAsync();
    await dbs.root.remove(TERMS_BUILT);
    await dbs.root.put('terms-index-built-3', true);
    await dbs.root.close();
    const reopened = await openStore(path);
    expect(await ofType(reopened, 'p1', 'A')).toEqual({ ids: ['d1', 'd2'], examined: 2 });
    expect((await ofType(reopened, 'p2', 'A')).ids).toHaveLength(POSTING_LIMIT + 1);
  });

  it('are built again when an earlier version wrote to the store since they were built', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    await store.commit(created([doc('d1', 'p1', 'A')]));
    await store.close();
    open.splice(0);
    // What an earlier version does here: finds no marker of its own (this layout removed them),
    // builds its indexes, sets its marker, then writes a document without touching postings.
    const dbs = openDbs(path);
    expect(EARLIER_BUILT.filter((key) => dbs.root.get(key) !== undefined)).toEqual([]);
    await dbs.root.put('terms-index-built-3', true);
    await dbs.root.childTransaction(() => {
      const d2 = doc('d2', 'p1', 'A');
      dbs.current.putSync(['DocumentReference', 'd2'], d2);
      dbs.compTerms.putSync(['Patient/p1', 'DocumentReference', 'type', 'sc', `${LOINC}|A`, 'd2'], null);
    });
    await dbs.root.close();
    const reopened = await openStore(path);
    expect(await ofType(reopened, 'p1', 'A')).toEqual({ ids: ['d1', 'd2'], examined: 2 });
  });
});
