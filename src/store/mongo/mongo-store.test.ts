import { randomBytes } from 'node:crypto';
import { Binary, MongoClient, ObjectId, type Db, type Document } from 'mongodb';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunked, expectedInfo, readAll, runBlobConformance } from '../conformance-blobs.js';
import { MARKED_TYPES, TEST_DERIVATION, checkLookupAcrossOpens, rec, runStoreConformance } from '../conformance.js';
import { BlobTooLarge, StoreConflict, type CurrentRecord, type Store, type StoreQuery, type Write } from '../store.js';
import { STALE_UPLOAD_MS, tempName } from './blobs.js';
import { toVersionDoc, type Collections, type CurrentDoc, type VersionDoc } from './documents.js';
import { createMongoStore } from './mongo-store.js';
import { search, searchFilter, searchSort } from './query.js';
import { ROLL_FORWARD_AFTER_MS } from './repair.js';

const uri = process.env.MONGODB_URI;

const T = (n: number): string => `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`;
const ids = (records: CurrentRecord[]): string[] => records.map((r) => r.id);
const any = (record: CurrentRecord): Write => ({ record, expect: { kind: 'any' } });
const query = (types: string[], filter: Record<string, unknown>, more: Partial<StoreQuery> = {}): StoreQuery => ({
  types, filter, sort: [], offset: 0, limit: 100, count: false, ...more,
});

/** Every indexName anywhere in an explain plan, whatever its shape (classic or slot-based engine). */
function indexNames(plan: unknown): string[] {
  if (Array.isArray(plan)) return plan.flatMap(indexNames);
  if (plan === null || typeof plan !== 'object') return [];
  return Object.entries(plan).flatMap(([k, v]) => (k === 'indexName' && typeof v === 'string' ? [v] : indexNames(v)));
}

if (uri === undefined || uri === '') {
  describe.skip('MongoDB engine tests skipped: MONGODB_URI is not set (CI sets it to a FerretDB server)', () => {
    it('store conformance and MongoDB engine tests', () => {});
  });
} else {
  const admin = new MongoClient(uri);
  const created: string[] = [];
  const freshDb = (): string => {
    const name = `carnet_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    created.push(name);
    return name;
  };
  const newStore = (): Promise<Store> => createMongoStore({ uri, db: freshDb(), marked: MARKED_TYPES, derivation: TEST_DERIVATION });

  const build = await admin.db('admin').command({ buildInfo: 1 });
  const ferret = typeof build.ferretdbVersion === 'string';
  const probe = await newStore();
  const atomic = probe.info.atomicCommit;
  await probe.close();

  afterAll(async () => {
    for (const name of created) await admin.db(name).dropDatabase();
    await admin.close();
  });

  runStoreConformance({
    name: 'mongodb',
    newStore,
    skip: atomic
      ? []
      : [
          {
            reason: 'this server has no multi-document transactions: commits of several writes are applied in order, with compensation',
            tests: ['crossing commits of several writes are all-or-nothing'],
          },
        ],
  });

  runBlobConformance({ name: 'mongodb', newStore });

  describe('MongoDB engine: GridFS blobs', () => {
    let store: Store;
    let db: Db;
    let name: string;
    beforeEach(async () => {
      name = freshDb();
      store = await createMongoStore({ uri, db: name });
      db = admin.db(name);
    });
    afterEach(async () => {
      await store.close();
    });

    it('derives the lookup keys again at open when the database held none, or another version of them', async () => {
      const name = freshDb();
      await checkLookupAcrossOpens((derivation) => createMongoStore({ uri, db: name, derivation }));
    });
    const count = (collection: string) => db.collection(collection).countDocuments();

    it('a blob is one GridFS file named by its sha256, with metadata {sha1, size}; identical content is one file', async () => {
      const content = randomBytes(600_000);
      const info = await store.putBlob(chunked(content), { maxBytes: 1_000_000 });
      await Promise.all([1, 2, 3].map(() => store.putBlob(chunked(content), { maxBytes: 1_000_000 })));
      const files = await db.collection('blobs.files').find().toArray();
      expect(files).toHaveLength(1);
      expect(files[0]).toMatchObject({ filename: info.sha256, length: 600_000, metadata: { sha1: info.sha1, size: 600_000 } });
      expect(await count('blobs.chunks')).toBe(Math.ceil(600_000 / files[0]!.chunkSize));
      expect(await count('blobs.uploads')).toBe(0);
    });

    it('nothing remains of content past maxBytes or failing part-way', async () => {
      await expect(store.putBlob(chunked(randomBytes(3_000_000)), { maxBytes: 1_000_000 })).rejects.toBeInstanceOf(BlobTooLarge);
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(600_000);
        throw new Error('aborted');
      }
      await expect(store.putBlob(failing(), { maxBytes: 1_000_000 })).rejects.toThrow('aborted');
      expect([await count('blobs.files'), await count('blobs.chunks'), await count('blobs.uploads')]).toEqual([0, 0, 0]);
    });

    it('an upload a crash left is never a blob, and is removed at a later open once stale', async () => {
      const stale = new Date(Date.now() - STALE_UPLOAD_MS - 60_000);
      const content = randomBytes(1000);
      /** An upload as a crash leaves it: its record, a chunk, and its file document once the content was complete. */
      const crashed = async (at: Date, complete: boolean): Promise<ObjectId> => {
        const id = new ObjectId();
        await db.collection('blobs.uploads').insertOne({ _id: id, at, state: 'upload' });
        await db.collection('blobs.chunks').insertOne({ files_id: id, n: 0, data: new Binary(content) });
        if (complete) {
          await db.collection('blobs.files').insertOne({ _id: id, length: 1000, chunkSize: 261_120, uploadDate: at, filename: tempName(id) });
        }
        return id;
      };
      await crashed(stale, true);
      await crashed(stale, false);
      const running = await crashed(new Date(), false);
      // A crash after naming a blob, before removing its record.
      const named = await store.putBlob(randomBytes(2000), { maxBytes: 10_000 });
      const namedId = (await db.collection('blobs.files').findOne({ filename: named.sha256 }))!._id;
      await db.collection('blobs.uploads').insertOne({ _id: namedId, at: stale, state: 'final' });
      expect(await store.statBlob(expectedInfo(content).sha256)).toBeUndefined();
      await store.close();

      store = await createMongoStore({ uri, db: name });
      const left = async (collection: string, field: string) =>
        (await db.collection(collection).find().toArray()).map((doc) => String(doc[field])).sort();
      expect(await left('blobs.uploads', '_id')).toEqual([String(running)]);
      expect(await left('blobs.chunks', 'files_id')).toEqual([String(running), String(namedId)].sort());
      expect(await left('blobs.files', 'filename')).toEqual([named.sha256]);
      expect(await store.statBlob(named.sha256)).toEqual(named);
      expect((await readAll((await store.openBlob(named.sha256))!.stream)).byteLength).toBe(2000);
    });
  });

  describe('MongoDB engine', () => {
    let store: Store;
    let db: Db;
    beforeEach(async () => {
      const name = freshDb();
      store = await createMongoStore({ uri, db: name });
      db = admin.db(name);
    });
    afterEach(async () => {
      await store.close();
    });

    /** A version as a commit leaves it when it stops between the version and the current record. */
    const crashedWrite = (record: CurrentRecord, ageMs: number) =>
      db.collection<VersionDoc>('versions').insertOne(toVersionDoc(record, { token: 'crashed', at: new Date(Date.now() - ageMs) }));

    it('creates its indexes at start-up', async () => {
      const keys = async (collection: string) => (await db.collection(collection).listIndexes().toArray()).map((i: Document) => i.key);
      expect(await keys('resources')).toEqual(
        expect.arrayContaining([
          { type: 1, comp: 1, lastUpdated: -1 },
          { type: 1, lastUpdated: -1 },
          ...['c', 'v', 'r', 'st', 'u'].map((f) => ({ type: 1, 'idx.p': 1, [`idx.${f}`]: 1 })),
          { type: 1, id: 1 },
        ]),
      );
      expect(await keys('versions')).toEqual(
        expect.arrayContaining([{ type: 1, id: 1, versionId: -1 }, { lastUpdated: -1 }, { type: 1, lastUpdated: -1 }]),
      );
    });

    it('states in info whether commits are atomic on this server', () => {
      expect(store.info.engine).toBe('mongodb');
      if (ferret) expect(store.info.atomicCommit).toBe(false);
      if (!store.info.atomicCommit) expect(store.info.atomicity).toMatch(/no multi-document transactions.*partly applied/);
    });

    describe('a patient-scoped search', () => {
      const patientQuery = query(['Observation'], { comp: 'Patient/p1' }, { sort: [['lastUpdated', -1]], limit: 20 });
      const explain = async (): Promise<Document> => {
        for (let i = 0; i < 60; i++) {
          await store.commit([any(rec('Observation', `o${i}`, 1, T(i), { comp: [`Patient/p${i % 6}`] }))]);
        }
        const found = await store.search(patientQuery);
        expect(ids(found.records)).toEqual(['o55', 'o49', 'o43', 'o37', 'o31', 'o25', 'o19', 'o13', 'o7', 'o1']);
        return db
          .collection<CurrentDoc>('resources')
          .find(searchFilter(patientQuery))
          .sort(searchSort(patientQuery.sort))
          .limit(patientQuery.limit)
          .explain('queryPlanner');
      };

      it.skipIf(ferret)('is planned on the {type, comp, lastUpdated} index (MongoDB)', async () => {
        expect(indexNames((await explain()).queryPlanner.winningPlan)).toContain('type_1_comp_1_lastUpdated_-1');
      });

      // FerretDB v1 keeps each document as JSON in one SQLite column and pushes down only _id
      // filters; its SQLite indexes cover whole JSON values, never array elements. (On FerretDB the
      // engine sends only the type and deletion clauses and filters in process: see server.ts.)
      it.runIf(ferret)('is a full scan on FerretDB v1, which does not use secondary indexes for it', async () => {
        const plan = await explain();
        expect(plan.filterPushdown).toBe(false);
        expect(plan.sortPushdown).toBe(false);
        expect((plan.queryPlanner.Plan as string[]).join('\n')).toMatch(/^id=\d+ parent=\d+ notused=\d+ detail=SCAN resources_\w+$/);
      });
    });

    describe('a commit that fails part-way', () => {
      const setup = () =>
        store.commit([
          any(rec('Patient', 'p1', 1, T(1), { data: { active: true } })),
          any(rec('Patient', 'p2', 1, T(1))),
        ]);
      const expectUntouched = async () => {
        expect(await store.read('Patient', 'p1')).toMatchObject({ versionId: 1, resource: { active: true } });
        expect(await store.vread('Patient', 'p1', 2)).toBeUndefined();
        expect((await store.history({ type: 'Patient', id: 'p1', offset: 0, limit: 10 })).total).toBe(1);
        expect(await db.collection('versions').countDocuments({ id: 'p1' })).toBe(1);
      };

      it('leaves nothing behind when a later write fails', async () => {
        await setup();
        const tooLarge = rec('Binary', 'b1', 1, T(2), { data: { data: 'x'.repeat(17 * 1024 * 1024) } });
        const err = await store
          .commit([
            { record: rec('Patient', 'p1', 2, T(2), { data: { active: false } }), expect: { kind: 'version', versionId: 1 } },
            { record: tooLarge, expect: { kind: 'absent' } },
          ])
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect(err).not.toBeInstanceOf(StoreConflict);
        await expectUntouched();
        expect(await store.read('Binary', 'b1')).toBeUndefined();
      });

      it('leaves nothing behind when a later write loses a race for its version', async () => {
        await setup();
        // Another commit is between its version and its current record for p2.
        await crashedWrite(rec('Patient', 'p2', 2, T(2)), 0);
        const err = await store
          .commit([
            { record: rec('Patient', 'p1', 2, T(2), { data: { active: false } }), expect: { kind: 'version', versionId: 1 } },
            { record: rec('Patient', 'p2', 2, T(2)), expect: { kind: 'version', versionId: 1 } },
          ])
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreConflict);
        expect(err).toMatchObject({ type: 'Patient', id: 'p2', actualVersionId: 2 });
        await expectUntouched();
      });
    });

    it('undoes a rewrite with expectation any when a later write of its commit fails', async () => {
      await store.commit([any(rec('Patient', 'p1', 1, T(1), { data: { active: true } })), any(rec('Patient', 'p2', 1, T(1)))]);
      await crashedWrite(rec('Patient', 'p2', 2, T(2)), 0);
      const err = await store
        .commit([
          any(rec('Patient', 'p1', 1, T(2), { data: { active: false } })),
          { record: rec('Patient', 'p2', 2, T(2)), expect: { kind: 'version', versionId: 1 } },
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreConflict);
      expect(await store.read('Patient', 'p1')).toMatchObject({ lastUpdated: T(1), resource: { active: true } });
      expect(await store.vread('Patient', 'p1', 1)).toMatchObject({ lastUpdated: T(1), resource: { active: true } });
    });

    it('refuses a commit that writes one resource twice', async () => {
      await expect(store.commit([any(rec('Patient', 'p1', 1, T(1))), any(rec('Patient', 'p1', 2, T(2)))])).rejects.toThrow(
        /more than one write/,
      );
      expect(await store.read('Patient', 'p1')).toBeUndefined();
    });

    it('returns versions with the contract fields only, whatever it keeps for repair', async () => {
      const v1 = rec('Patient', 'p1', 1, T(1), { idx: [{ p: 'name', v: 'a' }], comp: ['Patient/p1'], srt: { name: 'a' } });
      await store.commit([any(v1)]);
      await store.commit([any(rec('Patient', 'p1', 2, T(2), { deleted: true }))]);
      const { idx: _idx, comp: _comp, srt: _srt, created: _created, ...version } = v1;
      expect(await store.vread('Patient', 'p1', 1)).toStrictEqual(version);
      expect((await store.history({ type: 'Patient', id: 'p1', offset: 0, limit: 10 })).records).toStrictEqual([
        { type: 'Patient', id: 'p1', versionId: 2, lastUpdated: T(2), deleted: true },
        version,
      ]);
    });

    describe.skipIf(atomic)('repair after a crash between a version and its current record (no transactions)', () => {
      const v1 = rec('Patient', 'p1', 1, T(1), { idx: [{ p: 'name', v: 'a' }], comp: ['Patient/p1'], data: { active: true } });
      const v2 = rec('Patient', 'p1', 2, T(2), { idx: [{ p: 'name', v: 'b' }], comp: ['Patient/p1'], srt: { name: 'b' } });
      const byName = (v: string) => query(['Patient'], { idx: { $elemMatch: { p: 'name', v } } });

      it('rolls the current record forward on read once the version is old enough', async () => {
        await store.commit([any(v1)]);
        await crashedWrite(v2, ROLL_FORWARD_AFTER_MS + 1000);
        expect(ids((await store.search(byName('b'))).records)).toEqual([]);
        expect(await store.read('Patient', 'p1')).toEqual(v2);
        expect(ids((await store.search(byName('b'))).records)).toEqual(['p1']);
        expect(ids((await store.search(query(['Patient'], {}, { sort: [['srt.name', 1]] }))).records)).toEqual(['p1']);
        expect(await store.read('Patient', 'p1')).toEqual(v2);
        await store.commit([{ record: rec('Patient', 'p1', 3, T(3)), expect: { kind: 'version', versionId: 2 } }]);
        expect((await store.read('Patient', 'p1'))?.versionId).toBe(3);
      });

      it('leaves a young version alone, as its commit may still be running, and refuses its version number', async () => {
        await store.commit([any(v1)]);
        await crashedWrite(v2, 0);
        expect((await store.read('Patient', 'p1'))?.versionId).toBe(1);
        const err = await store.commit([{ record: v2, expect: { kind: 'version', versionId: 1 } }]).catch((e: unknown) => e);
        expect(err).toMatchObject({ name: 'StoreConflict', actualVersionId: 2 });
      });

      it('rolls forward a crashed rewrite of the current version (expectation any)', async () => {
        await store.commit([any(v1)]);
        const rewrite = rec('Patient', 'p1', 1, T(3), { idx: [{ p: 'name', v: 'c' }], data: { active: false } });
        await db.collection<VersionDoc>('versions').replaceOne(
          { _id: 'Patient/p1/1' },
          toVersionDoc(rewrite, { token: 'crashed', at: new Date(Date.now() - ROLL_FORWARD_AFTER_MS - 1000) }),
        );
        expect(await store.read('Patient', 'p1')).toEqual(rewrite);
      });

      it('repairs a crashed create before checking the next commit', async () => {
        await crashedWrite(v1, ROLL_FORWARD_AFTER_MS + 1000);
        await store.commit([{ record: v2, expect: { kind: 'version', versionId: 1 } }]);
        expect(await store.read('Patient', 'p1')).toEqual(v2);
        expect((await store.history({ type: 'Patient', id: 'p1', offset: 0, limit: 10 })).records.map((r) => r.versionId)).toEqual([2, 1]);
      });
    });

    describe('sorting', () => {
      it('orders strings as MongoDB does (UTF-8 bytes), missing values last in both directions', async () => {
        // JavaScript (UTF-16) would put a😀 before a\uFFFD.
        const names = ['b', 'ab', '', 'é', 'a\u{1F600}', 'a\uFFFD', 'a'];
        await store.commit(names.map((name, i) => any(rec('Patient', `n${i}`, 1, T(1), { srt: { name } }))));
        await store.commit([any(rec('Patient', 'none', 1, T(1)))]);
        const sorted = async (direction: 1 | -1) =>
          ids((await store.search(query(['Patient'], {}, { sort: [['srt.name', direction]] }))).records);
        const ascending = ['n2', 'n6', 'n1', 'n5', 'n4', 'n0', 'n3'];
        expect(await sorted(1)).toEqual([...ascending, 'none']);
        expect(await sorted(-1)).toEqual([...ascending.reverse(), 'none']);
      });

      it('orders numbers, integers and decimals together, missing values last', async () => {
        const values = [10, -5, 1e12, 0, 2.5];
        await store.commit(values.map((n, i) => any(rec('Observation', `v${i}`, 1, T(1), { srt: { n } }))));
        await store.commit([any(rec('Observation', 'none', 1, T(1)))]);
        const found = await store.search(query(['Observation'], {}, { sort: [['srt.n', 1]] }));
        expect(ids(found.records)).toEqual(['v1', 'v3', 'v4', 'v0', 'v2', 'none']);
      });
    });

    it('evaluates filters on the server and in process alike (for filters FerretDB evaluates: no $elemMatch)', async () => {
      const records = Array.from({ length: 12 }, (_, i) =>
        rec(i % 3 === 0 ? 'Condition' : 'Observation', `r${i}`, 1, T(i), {
          comp: [`Patient/p${i % 4}`],
          deleted: i === 5,
          ...(i % 5 === 0 ? {} : { srt: { date: i % 4, code: `c${i % 3}` } }),
        }),
      );
      await store.commit(records.map(any));
      const c: Collections = { client: admin, resources: db.collection('resources'), versions: db.collection('versions') };
      const types = ['Observation', 'Condition'];
      const queries: StoreQuery[] = [
        query(types, {}, { count: true }),
        query(types, { comp: 'Patient/p1' }, { sort: [['lastUpdated', -1]], count: true }),
        query(['Observation'], { comp: { $in: ['Patient/p1', 'Patient/p2'] } }, { sort: [['srt.date', 1], ['srt.code', -1]] }),
        query(types, { id: { $in: ['r1', 'r5', 'r6', 'r9'] } }, { sort: [['srt.code', 1]], count: true }),
        query(types, { lastUpdated: { $gte: T(3), $lt: T(9) } }, { sort: [['srt.date', -1]], offset: 2, limit: 3, count: true }),
        query(types, { $or: [{ comp: 'Patient/p0' }, { id: 'r7' }] }, { limit: 0, count: true }),
        query(['Observation'], { $nor: [{ comp: 'Patient/p3' }], type: 'Condition' }, { count: true }),
        query(types, { deleted: true }, { count: true }),
      ];
      for (const q of queries) {
        const inProcess = await search(c, q, true);
        expect(await search(c, q, false), JSON.stringify(q)).toEqual(inProcess);
      }
      expect((await search(c, queries[0]!, false)).total).toBe(11);
    });

    it('a filter cannot widen the types searched or bring back deletions', async () => {
      await store.commit([
        any(rec('Patient', 'p1', 1, T(1))),
        any(rec('Observation', 'o1', 1, T(1))),
        any(rec('Observation', 'gone', 2, T(1), { deleted: true })),
      ]);
      const found = async (filter: Record<string, unknown>) => ids((await store.search(query(['Observation'], filter))).records);
      expect(await found({ type: 'Patient' })).toEqual([]);
      expect(await found({ type: { $in: ['Observation', 'Patient'] } })).toEqual(['o1']);
      expect(await found({ $or: [{ deleted: true }, { deleted: false }] })).toEqual(['o1']);
    });
  });
}
