import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { open as openEnvironment } from 'lmdb';
import { chunked, expectedInfo, readAll, runBlobConformance } from '../conformance-blobs.js';
import { MARKED_TYPES, TEST_DERIVATION, checkLookupAcrossOpens, rec, runStoreConformance } from '../conformance.js';
import { BlobTooLarge, type CurrentRecord, type HistoryQuery, type StoreQuery } from '../store.js';
import { STALE_UPLOAD_MS } from './blobs.js';
import { openDbs } from './dbs.js';
import { createLmdbStore, type LmdbStore } from './lmdb-store.js';
import { auditEvent, patientEntity } from '../../audit/event.js';
import { buildRecord } from '../../interactions/records.js';
import { searchDataOf } from '../../search/extract.js';
import { createSearchRegistry } from '../../search/registry.js';
import { ensureTerms, replaceTerms, TERMS_BUILT, TERMS_PROGRESS } from './terms.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'carnet-lmdb-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

runStoreConformance({
  name: 'lmdb',
  newStore: async () => createLmdbStore({ path: await tempDir(), marked: MARKED_TYPES, derivation: TEST_DERIVATION }),
});

runBlobConformance({
  name: 'lmdb',
  newStore: async () => createLmdbStore({ path: await tempDir() }),
});

describe('lmdb engine', () => {
  const open: LmdbStore[] = [];
  const openStore = async (path: string) => {
    const store = await createLmdbStore({ path });
    open.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close().catch(() => undefined);
  });

  const T = (n: number) => `2026-02-01T00:00:${String(n).padStart(2, '0')}.000Z`;
  const obs = (id: string, patient: string, v = 1, n = 1): CurrentRecord =>
    rec('Observation', id, v, T(n), { comp: [`Patient/${patient}`], idx: [{ p: 'code', c: id.startsWith('a') ? 'A' : 'B' }] });

  it('keeps committed data across close and reopen of the same path', async () => {
    const path = await tempDir();
    const first = await openStore(path);
    await first.commit([{ record: obs('o1', 'p1'), expect: { kind: 'absent' } }]);
    await first.commit([{ record: obs('o1', 'p1', 2, 2), expect: { kind: 'version', versionId: 1 } }]);
    await first.commit([{ record: rec('Observation', 'o1', 3, T(3), { deleted: true }), expect: { kind: 'any' } }]);
    await first.commit([{ record: obs('o2', 'p1', 1, 4), expect: { kind: 'absent' } }]);
    await first.close();

    const again = await openStore(path);
    expect(await again.read('Observation', 'o1')).toMatchObject({ versionId: 3, deleted: true });
    expect((await again.vread('Observation', 'o1', 2))?.lastUpdated).toBe(T(2));
    const found = await again.search({ types: ['Observation'], filter: { comp: 'Patient/p1' }, sort: [], offset: 0, limit: 10, count: true });
    expect(found.records.map((r) => r.id)).toEqual(['o2']);
    expect(found.total).toBe(1);
    const history = await again.history({ type: 'Observation', offset: 0, limit: 10 });
    expect(history.records.map((r) => `${r.id}/${r.versionId}`)).toEqual(['o2/1', 'o1/3', 'o1/2', 'o1/1']);
  });

  it('derives the lookup entries again at open when the store held none, or another version of them', async () => {
    const path = await tempDir();
    await checkLookupAcrossOpens((derivation) => createLmdbStore({ path, derivation }));
  });

  it('searches that stop before the end of a scan give back their read transaction (LMDB has a fixed number of reader slots)', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    await store.commit(Array.from({ length: 20 }, (_, n) => ({ record: obs(`s${n}`, `p${n}`), expect: { kind: 'absent' } as const })));
    // Pages of 1 over a scan, with commits in between: each snapshot's transaction was kept by the
    // scan's abandoned cursor, until reads failed with MDB_READERS_FULL.
    for (let round = 0; round < 200; round++) {
      const pages = await Promise.all(
        [0, 1, 2].map(async () => {
          const page = store.search({ types: ['Observation'], filter: {}, sort: [], offset: 0, limit: 1, count: false });
          await new Promise((r) => setTimeout(r, 0));
          return page;
        }),
      );
      expect(pages.map((p) => p.records.length)).toEqual([1, 1, 1]);
      // A commit between rounds: the next read needs a newer snapshot, hence another transaction.
      await store.commit([{ record: obs(`w${round}`, 'p0'), expect: { kind: 'absent' } }]);
      expect((await store.read('Observation', 's0'))?.id).toBe('s0');
    }
    // The most reader slots ever taken at once (the environment is the process's one for this path).
    const env = openEnvironment({ path, maxDbs: 16, maxReaders: 1024, overlappingSync: false });
    expect((env.getStats() as { numReaders: number }).numReaders).toBeLessThan(20);
  });

  it('a compartment-pinned search reads only that patient\'s records', async () => {
    const store = await openStore(await tempDir());
    const records: CurrentRecord[] = [];
    for (let n = 0; n < 300; n++) records.push(obs(`${n % 2 ? 'a' : 'b'}${n}`, `p${n % 30}`));
    await store.commit(records.map((record) => ({ record, expect: { kind: 'absent' } })));
    const query = (filter: Record<string, unknown>): StoreQuery =>
      ({ types: ['Observation'], filter, sort: [], offset: 0, limit: 100, count: true });

    const examined = () => store.stats.examined;
    let before = examined();
    const pinned = await store.search(query({ $and: [{ comp: 'Patient/p7' }, { idx: { $elemMatch: { p: 'code', c: 'A' } } }] }));
    expect(pinned.total).toBe(10);
    expect(examined() - before).toBe(10);

    before = examined();
    const two = await store.search(query({ comp: { $in: ['Patient/p7', 'Patient/p8'] } }));
    expect(two.total).toBe(20);
    expect(examined() - before).toBe(20);

    // A keyset page (ids above the last one given): the ids at or below it are not even read.
    before = examined();
    const later = await store.search(query({ $and: [{ comp: 'Patient/p7' }, { id: { $gt: 'a67' } }] }));
    // p7's ids in order: a127 a157 a187 a217 a247 a277 a37 a67 a7 a97.
    expect(later.records.map((r) => r.id)).toEqual(['a7', 'a97']);
    expect(examined() - before).toBe(2);
    // The same across types (type, then id): the types before the position are not read either.
    await store.commit([{ record: rec('Condition', 'c1', 1, T(1), { comp: ['Patient/p7'], idx: [] }), expect: { kind: 'absent' } }]);
    before = examined();
    const across = await store.search({ ...query({ $and: [{ comp: 'Patient/p7' }, { $or: [{ type: { $gt: 'Observation' } }, { type: 'Observation', id: { $gt: 'a67' } }] }] }), types: ['Condition', 'Observation'] });
    expect(across.records.map((r) => r.id)).toEqual(['a7', 'a97']);
    expect(examined() - before).toBe(2);

    before = examined();
    const byId = await store.search(query({ id: { $in: ['a1', 'b2', 'zz'] } }));
    expect(byId.records.map((r) => r.id)).toEqual(['a1', 'b2']);
    expect(examined() - before).toBe(2);

    before = examined();
    const byTerm = await store.search(query({ idx: { $elemMatch: { p: 'code', c: 'A' } } }));
    expect(byTerm.total).toBe(150);
    expect(examined() - before).toBe(150);

    before = examined();
    const scanned = await store.search(query({ idx: { $elemMatch: { p: 'code', c: { $ne: 'B' } } } }));
    expect(scanned.total).toBe(150);
    expect(examined() - before).toBe(300);
  });

  it('AuditEvents keep no term keys, and are found by their compartment, their id or a scan of the type, exactly', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const event = (id: string, patient: string, action: string) =>
      rec('AuditEvent', id, 1, T(1), { comp: [`Patient/${patient}`], idx: [{ p: 'action', s: 'http://hl7.org/fhir/audit-event-action', c: action }, { p: 'patient', r: `Patient/${patient}` }] });
    const events = Array.from({ length: 40 }, (_, n) => event(`e${String(n).padStart(2, '0')}`, `p${n % 4}`, n % 2 ? 'R' : 'C'));
    await store.commit([...events, obs('a1', 'p0')].map((record) => ({ record, expect: { kind: 'absent' } })));
    const query = (filter: Record<string, unknown>, types = ['AuditEvent']): StoreQuery => ({ types, filter, sort: [], offset: 0, limit: 100, count: true });
    const action = (c: string) => ({ idx: { $elemMatch: { p: 'action', s: 'http://hl7.org/fhir/audit-event-action', c } } });

    let before = store.stats.examined;
    const mine = await store.search(query({ $and: [{ comp: 'Patient/p1' }, action('R')] }));
    expect(mine.records.map((r) => r.id)).toEqual(['e01', 'e05', 'e09', 'e13', 'e17', 'e21', 'e25', 'e29', 'e33', 'e37']);
    expect(store.stats.examined - before).toBe(10);
    // Across patients, the type is scanned and each record tested: the same answer a term index gave.
    before = store.stats.examined;
    expect((await store.search(query(action('C')))).total).toBe(20);
    expect((await store.search(query({ idx: { $elemMatch: { p: 'patient', r: 'Patient/p3' } } }))).total).toBe(10);
    expect(store.stats.examined - before).toBe(80);
    // With another type in the same search, each type has its own plan: the Observation still by its term.
    const both = await store.search(query({ $or: [action('C'), { idx: { $elemMatch: { p: 'code', c: 'A' } } }] }, ['AuditEvent', 'Observation']));
    expect(both.total).toBe(21);
    await store.close();
    open.splice(0);

    const dbs = openDbs(path);
    const keys = (db: typeof dbs.terms) => [...db.getKeys()].filter((k) => k.includes('AuditEvent'));
    expect(keys(dbs.terms)).toEqual([]);
    expect(keys(dbs.compTerms)).toEqual([]);
    expect([...dbs.terms.getKeys()].length).toBeGreaterThan(0);
    await dbs.root.close();
  });

  it('with searchData, an AuditEvent is kept without its search data and read, found and sorted by what derives it again', async () => {
    const path = await tempDir();
    const registry = createSearchRegistry();
    const searchData = searchDataOf(registry, {});
    const store = await createLmdbStore({ path, searchData });
    open.push(store);
    expect(store.derivesSearchData?.('AuditEvent')).toBe(true);
    expect(store.derivesSearchData?.('Observation')).toBe(false);
    const ctx = { now: () => new Date(), registry, baseUrl: 'http://x/fhir' };
    const event = (id: string, patient: string, recorded: string, doc: string) =>
      buildRecord(
        auditEvent({ interaction: 'read', status: 200, recorded, user: { who: { reference: 'Practitioner/pr1' } }, entities: [{ what: { reference: `DocumentReference/${doc}` } }, patientEntity(`Patient/${patient}`)] }),
        'AuditEvent', id, undefined, ctx,
      );
    // Written with their search data (a reported event, a commit) or without (the access history's own, appended).
    const full = event('e1', 'p1', '2026-03-01T10:00:00Z', 'd1');
    await store.commit([{ record: full, expect: { kind: 'absent' } }]);
    const bare = buildRecord(full.resource!, 'AuditEvent', 'e2', undefined, ctx, true);
    expect(bare.idx).toEqual([]);
    expect(bare.comp).toEqual(['Patient/p1']);
    expect(await store.append([{ ...bare, resource: { ...bare.resource!, recorded: '2026-03-02T10:00:00Z', entity: [{ what: { reference: 'DocumentReference/d2' } }, patientEntity('Patient/p1')] } }, event('e3', 'p2', '2026-03-03T10:00:00Z', 'd1')])).toBe(2);

    const e1 = await store.read('AuditEvent', 'e1');
    expect(e1?.idx).toEqual(full.idx);
    expect(e1?.srt).toEqual(full.srt);
    const query = (filter: Record<string, unknown>, sort: StoreQuery['sort'] = []): StoreQuery => ({ types: ['AuditEvent'], filter, sort, offset: 0, limit: 100, count: true });
    const entity = (r: string) => ({ idx: { $elemMatch: { p: 'entity', r } } });
    expect((await store.search(query(entity('DocumentReference/d1')))).records.map((r) => r.id)).toEqual(['e1', 'e3']);
    expect((await store.search(query({ $and: [{ comp: 'Patient/p1' }, entity('DocumentReference/d2')] }))).records.map((r) => r.id)).toEqual(['e2']);
    expect((await store.search(query({ comp: 'Patient/p1' }, [['srt.-date', -1]]))).records.map((r) => r.id)).toEqual(['e2', 'e1']);
    // Reindexing does not make the store keep it either.
    await store.updateSearchData([{ type: 'AuditEvent', id: 'e1', versionId: 1, idx: full.idx, comp: full.comp, srt: full.srt }]);
    await store.close();
    open.splice(0);

    // What is kept: no index entries, no sort values; the compartments and writers are.
    const dbs = openDbs(path);
    for (const id of ['e1', 'e2', 'e3']) {
      const kept = dbs.current.get(['AuditEvent', id]);
      expect(kept?.idx).toEqual([]);
      expect(kept?.srt).toBeUndefined();
      expect(kept?.comp.length).toBe(1);
    }
    await dbs.root.close();

    // Opened without searchData, a store keeps what it is given, and one opened with it reads that as kept.
    const plain = await openStore(path);
    expect(plain.derivesSearchData).toBeUndefined();
    await plain.commit([{ record: event('e4', 'p3', '2026-03-04T10:00:00Z', 'd4'), expect: { kind: 'absent' } }]);
    expect((await plain.read('AuditEvent', 'e4'))?.idx.length).toBeGreaterThan(0);
    await plain.close();
    open.splice(0);
    const again = await createLmdbStore({ path, searchData });
    open.push(again);
    expect((await again.search(query(entity('DocumentReference/d4')))).records.map((r) => r.id)).toEqual(['e4']);
    expect((await again.read('AuditEvent', 'e2'))?.idx).toEqual(searchData((await again.read('AuditEvent', 'e2'))!.resource!).idx);
  });

  it('with searchData, an appended AuditEvent keeps no copy among the versions: vread, history, a later version and erasure still see it', async () => {
    const path = await tempDir();
    const registry = createSearchRegistry();
    const store = await createLmdbStore({ path, searchData: searchDataOf(registry, {}) });
    open.push(store);
    let clock = Date.parse('2026-03-01T10:00:00Z');
    const ctx = { now: () => new Date(clock++), registry, baseUrl: 'http://x/fhir' };
    const resource = (patient: string) => auditEvent({ interaction: 'read', status: 200, recorded: '2026-03-01T10:00:00Z', user: { who: { reference: 'Practitioner/pr1' } }, entities: [patientEntity(`Patient/${patient}`)] });
    const e1 = buildRecord(resource('p1'), 'AuditEvent', 'e1', undefined, ctx, true);
    const e2 = buildRecord(resource('p2'), 'AuditEvent', 'e2', undefined, ctx, true);
    expect(await store.append([e1, e2])).toBe(2);
    const raw = openDbs(path);
    expect(raw.versions.get(['AuditEvent', 'e1', 1])).toBeUndefined();
    await raw.root.close();

    const asVersion = (r: CurrentRecord) => ({ type: r.type, id: r.id, versionId: r.versionId, lastUpdated: r.lastUpdated, deleted: false, resource: r.resource, writer: r.writer });
    expect(await store.vread('AuditEvent', 'e1', 1)).toEqual(asVersion(e1));
    expect(await store.vread('AuditEvent', 'e1', 2)).toBeUndefined();
    const ids = async (query: Partial<HistoryQuery>) => (await store.history({ offset: 0, limit: 10, ...query })).records.map((r) => `${r.id}/${r.versionId}`);
    expect(await ids({ type: 'AuditEvent', id: 'e1' })).toEqual(['e1/1']);
    expect(await ids({ type: 'AuditEvent' })).toEqual(['e2/1', 'e1/1']);
    expect(await ids({})).toEqual(['e2/1', 'e1/1']);
    expect((await store.history({ type: 'AuditEvent', since: e2.lastUpdated, offset: 0, limit: 10 })).total).toBe(1);

    // A later version (a store's commit: the API refuses it) keeps the first one in the history.
    const next = buildRecord({ ...resource('p1'), outcome: '4' }, 'AuditEvent', 'e1', e1, ctx, true);
    await store.commit([{ record: next, expect: { kind: 'version', versionId: 1 } }]);
    expect(await ids({ type: 'AuditEvent', id: 'e1' })).toEqual(['e1/2', 'e1/1']);
    expect((await store.vread('AuditEvent', 'e1', 1))?.resource).toEqual(e1.resource);
    expect(await ids({ type: 'AuditEvent' })).toEqual(['e1/2', 'e2/1', 'e1/1']);

    // Erasure leaves none of their history keys.
    expect(await store.erase([{ type: 'AuditEvent', id: 'e1' }, { type: 'AuditEvent', id: 'e2' }])).toBe(2);
    expect(await ids({})).toEqual([]);
    expect((await store.history({ offset: 0, limit: 10 })).total).toBe(0);
    expect(await store.vread('AuditEvent', 'e2', 1)).toBeUndefined();
  });

  it('a keyset page by id (an export\'s) starts after the id instead of reading the type from its start', async () => {
    const store = await openStore(await tempDir());
    const records: CurrentRecord[] = [];
    for (let n = 0; n < 300; n++) records.push(obs(`o${String(n).padStart(3, '0')}`, `p${n % 30}`));
    await store.commit(records.map((record) => ({ record, expect: { kind: 'absent' } })));
    const page = (filter: Record<string, unknown>) => store.search({ types: ['Observation'], filter, sort: [], offset: 0, limit: 10, count: false });

    let before = store.stats.examined;
    const scanned = await page({ $and: [{ 'comp.0': { $exists: true } }, { id: { $gt: 'o289' } }] });
    expect(scanned.records.map((r) => r.id)).toEqual(['o290', 'o291', 'o292', 'o293', 'o294', 'o295', 'o296', 'o297', 'o298', 'o299']);
    expect(store.stats.examined - before).toBe(10);

    before = store.stats.examined;
    const inComp = await page({ $and: [{ comp: 'Patient/p7' }, { id: { $gt: 'o200' } }] });
    expect(inComp.records.map((r) => r.id)).toEqual(['o217', 'o247', 'o277']);
    expect(store.stats.examined - before).toBe(3);
  });

  it('the term index follows updates and deletions, and is built for data written before it', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const byCode = async (s: LmdbStore, c: string) =>
      (await s.search({ types: ['Observation'], filter: { idx: { $elemMatch: { p: 'code', c } } }, sort: [], offset: 0, limit: 10, count: false })).records.map((r) => r.id);
    await store.commit([{ record: obs('a1', 'p1'), expect: { kind: 'absent' } }, { record: obs('a2', 'p1'), expect: { kind: 'absent' } }]);
    expect(await byCode(store, 'A')).toEqual(['a1', 'a2']);
    await store.commit([{ record: { ...obs('a1', 'p1', 2, 2), idx: [{ p: 'code', c: 'B' }] }, expect: { kind: 'version', versionId: 1 } }]);
    await store.commit([{ record: rec('Observation', 'a2', 2, T(3), { deleted: true }), expect: { kind: 'version', versionId: 1 } }]);
    expect(await byCode(store, 'A')).toEqual([]);
    expect(await byCode(store, 'B')).toEqual(['a1']);
    await store.close();
    // A store from before the term indexes: drop them and their marker, as such a store would be.
    const env = openEnvironment({ path, maxDbs: 8 });
    await env.openDB('terms', {}).clearAsync();
    await env.openDB('comp-terms', {}).clearAsync();
    await env.remove(TERMS_BUILT);
    await env.close();
    const reopened = await openStore(path);
    expect(await byCode(reopened, 'B')).toEqual(['a1']);
    const inP1 = await reopened.search({ types: ['Observation'], filter: { comp: 'Patient/p1', idx: { $elemMatch: { p: 'code', c: 'B' } } }, sort: [], offset: 0, limit: 10, count: false });
    expect(inP1.records.map((r) => r.id)).toEqual(['a1']);
  });

  it('a name search reads only the names that start with the text, across the type or within a compartment', async () => {
    const store = await openStore(await tempDir());
    const NAMES = ['helene', 'henri', 'hector', 'marc', 'marcel', 'de la tour'];
    const patient = (n: number) => rec('Patient', `p${n}`, 1, T(1), { comp: [`Patient/p${n}`], idx: [{ p: 'name', v: NAMES[n % NAMES.length] }] });
    await store.commit(Array.from({ length: 120 }, (_, n) => ({ record: patient(n), expect: { kind: 'absent' as const } })));
    const byName = async (filter: Record<string, unknown>) => {
      const before = store.stats.examined;
      const { records } = await store.search({ types: ['Patient'], filter, sort: [], offset: 0, limit: 200, count: false });
      return { n: records.length, examined: store.stats.examined - before };
    };
    expect(await byName({ idx: { $elemMatch: { p: 'name', v: { $regex: '^he' } } } })).toEqual({ n: 60, examined: 60 });
    expect(await byName({ idx: { $elemMatch: { p: 'name', v: { $regex: '^marc' } } } })).toEqual({ n: 40, examined: 40 });
    expect(await byName({ idx: { $elemMatch: { p: 'name', v: { $regex: '^de la t' } } } })).toEqual({ n: 20, examined: 20 });
    expect(await byName({ idx: { $elemMatch: { p: 'name', v: { $regex: '^zo' } } } })).toEqual({ n: 0, examined: 0 });
    // Contains is not a range of the index: every Patient is read.
    expect(await byName({ idx: { $elemMatch: { p: 'name', v: { $regex: 'en' } } } })).toEqual({ n: 40, examined: 120 });
  });

  it('erase leaves no key of the resource in any of its databases, postings included', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const writer = (r: CurrentRecord): CurrentRecord => ({ ...r, by: ['Practitioner/w1'] });
    await store.commit([{ record: writer(obs('a1', 'p1')), expect: { kind: 'absent' } }, { record: obs('a2', 'p1'), expect: { kind: 'absent' } }]);
    await store.commit([{ record: writer(obs('a1', 'p1', 2, 2)), expect: { kind: 'version', versionId: 1 } }]);
    await store.close();
    const dump = (dbs: ReturnType<typeof openDbs>) => {
      const named = { current: dbs.current, versions: dbs.versions, typeHistory: dbs.typeHistory, systemHistory: dbs.systemHistory, comp: dbs.comp, terms: dbs.terms, compTerms: dbs.compTerms };
      const out: string[] = [];
      for (const [name, db] of Object.entries(named)) for (const key of (db as { getKeys(): Iterable<unknown> }).getKeys()) out.push(`${name} ${JSON.stringify(key)}`);
      for (const { key, value } of dbs.compPostings.getRange({})) out.push(`posting ${JSON.stringify(key)} ${JSON.stringify(value)}`);
      return out;
    };
    const before = openDbs(path);
    expect(dump(before).filter((line) => line.includes('"a1"')).length).toBeGreaterThan(6);
    await before.root.close();
    const again = await openStore(path);
    expect(await again.erase([{ type: 'Observation', id: 'a1' }])).toBe(1);
    await again.close();
    const after = openDbs(path);
    expect(dump(after).filter((line) => line.includes('a1'))).toEqual([]);
    expect(dump(after).filter((line) => line.includes('"a2"')).length).toBeGreaterThan(0);
    await after.root.close();
  });

  it('builds the term indexes of an older store in batches, every record included, resuming after an interruption', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    await store.commit(Array.from({ length: 7 }, (_, n) => ({ record: obs(`${n % 2 ? 'a' : 'b'}${n}`, `p${n % 3}`), expect: { kind: 'absent' as const } })));
    const search = (s: LmdbStore, filter: Record<string, unknown>) =>
      s.search({ types: ['Observation'], filter, sort: [], offset: 0, limit: 10, count: false }).then((r) => r.records.map((x) => x.id));
    const before = [await search(store, { idx: { $elemMatch: { p: 'code', c: 'A' } } }), await search(store, { comp: 'Patient/p1', idx: { $elemMatch: { p: 'code', c: 'B' } } })];
    await store.close();
    const dbs = openDbs(path);
    await dbs.terms.clearAsync();
    await dbs.compTerms.clearAsync();
    await dbs.root.remove(TERMS_BUILT);
    // 7 records in batches of 3: three transactions, the last one short.
    await ensureTerms(dbs, 3);
    expect(dbs.root.get(TERMS_BUILT)).toBe(true);
    await dbs.root.close();
    const reopened = await openStore(path);
    expect([await search(reopened, { idx: { $elemMatch: { p: 'code', c: 'A' } } }), await search(reopened, { comp: 'Patient/p1', idx: { $elemMatch: { p: 'code', c: 'B' } } })]).toEqual(before);
    expect(before[0]).toEqual(['a1', 'a3', 'a5']);
    expect(before[1]).toEqual(['b4']);
    await reopened.close();

    // Interrupted after its first batch: the next open resumes after the last record indexed.
    const again = openDbs(path);
    await again.terms.clearAsync();
    await again.compTerms.clearAsync();
    await again.root.remove(TERMS_BUILT);
    const first = [...again.current.getRange({ limit: 3 })];
    await again.root.childTransaction(() => {
      for (const { value } of first) replaceTerms(again, undefined, value);
      again.root.putSync(TERMS_PROGRESS, first[2].key);
    });
    const heard: Array<[number, number]> = [];
    await ensureTerms(again, 3, (indexed, total) => heard.push([indexed, total]));
    expect(heard).toEqual([[6, 7], [7, 7]]);
    expect(again.root.get(TERMS_PROGRESS)).toBeUndefined();
    await again.root.close();
    const resumed = await openStore(path);
    expect([await search(resumed, { idx: { $elemMatch: { p: 'code', c: 'A' } } }), await search(resumed, { comp: 'Patient/p1', idx: { $elemMatch: { p: 'code', c: 'B' } } })]).toEqual(before);
  });

  it('a compartment search pinned on codes reads only that patient\'s records carrying them', async () => {
    const store = await openStore(await tempDir());
    const LOINC = 'http://loinc.org';
    const doc = (n: number): CurrentRecord =>
      rec('DocumentReference', `d${n}`, 1, T(1), {
        comp: [`Patient/p${n % 10}`],
        idx: [
          { p: 'type', s: n % 4 === 0 ? 'urn:other' : LOINC, c: `t${n % 3}` },
          { p: 'patient', r: `Patient/p${n % 10}` },
          { p: 'date', st: n, et: n },
        ],
      });
    await store.commit(Array.from({ length: 600 }, (_, n) => ({ record: doc(n), expect: { kind: 'absent' as const } })));
    const search = async (filter: Record<string, unknown>) => {
      const before = store.stats.examined;
      const { records } = await store.search({ types: ['DocumentReference'], filter, sort: [], offset: 0, limit: 100, count: false });
      return { ids: records.map((r) => r.id), examined: store.stats.examined - before };
    };
    // The brute-force answer: the same conditions over the records as written.
    const expected = (pred: (n: number) => boolean) =>
      Array.from({ length: 600 }, (_, n) => n).filter(pred).map((n) => `d${n}`).sort();
    const p3 = (n: number) => n % 10 === 3;

    const byCode = await search({ $and: [{ comp: 'Patient/p3' }, { idx: { $elemMatch: { p: 'type', c: 't1' } } }] });
    expect(byCode.ids).toEqual(expected((n) => p3(n) && n % 3 === 1));
    expect(byCode.examined).toBe(byCode.ids.length);

    const bySystemAndCode = await search({
      $and: [
        { idx: { $elemMatch: { p: 'patient', r: 'Patient/p3' } } },
        { comp: 'Patient/p3' },
        { idx: { $elemMatch: { p: 'type', s: LOINC, c: { $in: ['t1', 't2'] } } } },
      ],
    });
    expect(bySystemAndCode.ids).toEqual(expected((n) => p3(n) && n % 4 !== 0 && n % 3 !== 0));
    expect(bySystemAndCode.examined).toBe(bySystemAndCode.ids.length);

    // What the index cannot answer is still tested on each candidate.
    const withRange = await search({ comp: 'Patient/p3', idx: { $elemMatch: { p: 'type', c: 't1' } }, $and: [{ idx: { $elemMatch: { p: 'date', st: { $gte: 300 } } } }] });
    expect(withRange.ids).toEqual(expected((n) => p3(n) && n % 3 === 1 && n >= 300));
    expect(withRange.examined).toBe(byCode.ids.length);
    const noSystem = await search({ comp: 'Patient/p3', idx: { $elemMatch: { p: 'type', c: 't0', s: { $exists: false } } } });
    expect(noSystem.ids).toEqual([]);
    expect(noSystem.examined).toBe(expected((n) => p3(n) && n % 3 === 0).length);
  });

  it('the compartment index follows updates and deletions', async () => {
    const store = await openStore(await tempDir());
    const inComp = async (patient: string) =>
      (await store.search({ types: ['Observation'], filter: { comp: `Patient/${patient}` }, sort: [], offset: 0, limit: 10, count: false }))
        .records.map((r) => r.id);
    await store.commit([{ record: obs('o1', 'p1'), expect: { kind: 'any' } }]);
    await store.commit([{ record: obs('o1', 'p2', 2, 2), expect: { kind: 'any' } }]);
    expect(await inComp('p1')).toEqual([]);
    expect(await inComp('p2')).toEqual(['o1']);
    const before = store.stats.examined;
    await store.commit([{ record: rec('Observation', 'o1', 3, T(3), { deleted: true, comp: ['Patient/p2'] }), expect: { kind: 'any' } }]);
    expect(await inComp('p2')).toEqual([]);
    expect(store.stats.examined - before).toBe(0);
  });

  it('a page without sort or count stops reading at the end of the page', async () => {
    const store = await openStore(await tempDir());
    const records = Array.from({ length: 50 }, (_, n) => obs(`o${String(n).padStart(2, '0')}`, 'p1'));
    await store.commit(records.map((record) => ({ record, expect: { kind: 'any' } })));
    const before = store.stats.examined;
    const page = await store.search({ types: ['Observation'], filter: {}, sort: [], offset: 5, limit: 3, count: false });
    expect(page.records.map((r) => r.id)).toEqual(['o05', 'o06', 'o07']);
    expect(store.stats.examined - before).toBe(8);
  });

  it('many concurrent commits to distinct resources all land', async () => {
    const store = await openStore(await tempDir());
    await Promise.all(
      Array.from({ length: 500 }, (_, n) => store.commit([{ record: obs(`o${n}`, `p${n % 5}`), expect: { kind: 'absent' } }])),
    );
    expect((await store.history({ offset: 0, limit: 0 })).total).toBe(500);
    const p3 = await store.search({ types: ['Observation'], filter: { comp: 'Patient/p3' }, sort: [], offset: 0, limit: 0, count: true });
    expect(p3.total).toBe(100);
  });

  it('a closed store rejects calls instead of answering', async () => {
    const store = await openStore(await tempDir());
    await store.close();
    await expect(store.ping()).rejects.toThrow();
    await expect(store.commit([{ record: obs('o1', 'p1'), expect: { kind: 'any' } }])).rejects.toThrow();
    // lmdb-js itself would queue the puts and throw from a timer, ending the process.
    await expect(store.append([rec('AuditEvent', 'e1', 1, T(1), { comp: ['Patient/p1'] })])).rejects.toThrow('The store is closed');
  });

  it('refuses reads that come while it closes: lmdb-js would end the process from a timer', async () => {
    const store = await openStore(await tempDir());
    await store.putState('lease:job:x', { holder: 'a' }, 0);
    await store.read('Patient', 'p1');
    // What a job still running at shutdown does: it reads while the server closes the store.
    const closing = store.close();
    await expect(store.getState('lease:job:x')).rejects.toThrow('The store is closed');
    await expect(store.read('Patient', 'p1')).rejects.toThrow('The store is closed');
    await expect(store.search({ types: ['Patient'], filter: {}, sort: [], offset: 0, limit: 1, count: false })).rejects.toThrow('The store is closed');
    await closing;
    // The timer lmdb-js would have left throws within a few milliseconds: the test run would see it.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
});

describe('lmdb engine: blob files', () => {
  const opened: LmdbStore[] = [];
  const openStore = async (path: string) => {
    const store = await createLmdbStore({ path });
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close().catch(() => undefined);
  });
  const fileOf = (path: string, sha256: string) => join(path, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  /** Every file under blobs/, relative to it. */
  const blobTree = async (path: string) =>
    (await readdir(join(path, 'blobs'), { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(join(path, 'blobs').length + 1))
      .sort();

  it('a blob is the file blobs/ab/cd/<sha256>, stored once, kept across close and reopen', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const content = randomBytes(2_000_000);
    const info = await store.putBlob(chunked(content), { maxBytes: 4_000_000 });
    await store.putBlob(content, { maxBytes: 4_000_000 });
    await Promise.all([1, 2, 3].map(() => store.putBlob(chunked(content), { maxBytes: 4_000_000 })));
    const { sha256 } = info;
    expect(await blobTree(path)).toEqual([`${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`]);
    expect((await readFile(fileOf(path, sha256))).equals(content)).toBe(true);
    await store.close();

    const again = await openStore(path);
    expect(await again.statBlob(sha256)).toEqual(expectedInfo(content));
    expect((await readAll((await again.openBlob(sha256))!.stream)).equals(content)).toBe(true);
  });

  it('nothing remains of content past maxBytes or failing part-way: no blob file, no temporary file', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    await expect(store.putBlob(chunked(randomBytes(3_000_000)), { maxBytes: 1_000_000 })).rejects.toBeInstanceOf(BlobTooLarge);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield randomBytes(500_000);
      throw new Error('aborted');
    }
    await expect(store.putBlob(failing(), { maxBytes: 1_000_000 })).rejects.toThrow('aborted');
    expect(await blobTree(path)).toEqual([]);
  });

  it('a temporary file a crash left is never served, and is removed at open once stale', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const half = randomBytes(1000);
    const { sha256 } = expectedInfo(half);
    const stale = join(path, 'blobs', 'tmp', 'crashed.part');
    const fresh = join(path, 'blobs', 'tmp', 'running.part');
    await writeFile(stale, half);
    await writeFile(fresh, half);
    const old = new Date(Date.now() - STALE_UPLOAD_MS - 60_000);
    await utimes(stale, old, old);
    expect(await store.statBlob(sha256)).toBeUndefined();
    await store.close();

    const again = await openStore(path);
    expect(await blobTree(path)).toEqual(['tmp/running.part']);
    expect(await again.openBlob(sha256)).toBeUndefined();
  });

  it('a blob file restored without its metadata gets it back from its content; a damaged one is refused', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const content = randomBytes(100_000);
    const { sha256 } = await store.putBlob(content, { maxBytes: 1_000_000 });
    await store.close();
    const env = openEnvironment({ path });
    await env.openDB<unknown, string>('blobs', {}).remove(sha256);
    await env.close();

    const again = await openStore(path);
    expect(await again.statBlob(sha256)).toEqual(expectedInfo(content));
    await truncate(fileOf(path, sha256), 50_000);
    await expect(again.statBlob(sha256)).rejects.toThrow('damaged');
    await expect(again.openBlob(sha256)).rejects.toThrow('damaged');
  });
});
