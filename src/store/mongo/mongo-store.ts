import { MongoClient } from 'mongodb';
import type { Derivation, Store, VersionRecord } from '../store.js';
import { ensureLookup, readLookup } from './lookup.js';
import { appendByCommit } from '../append-by-commit.js';
import { withClaims, type ClaimDoc } from './claims.js';
import { openBlobs } from './blobs.js';
import { commitInOrder, commitInTransaction } from './commit.js';
import { toRecord, VERSION_PROJECTION, versionKey, type Collections, type CurrentDoc, type VersionDoc } from './documents.js';
import { ensureIndexes } from './indexes.js';
import { history, search } from './query.js';
import { updateSearchData } from './reindex.js';
import { erase } from './erase.js';
import { readDoc, readRepaired } from './repair.js';
import { describeServer } from './server.js';
import { mongoState, type StateDoc } from './state.js';
import { mongoMarks, type MarkDoc } from './marks.js';

export interface MongoStoreOptions {
  /** A MongoDB connection string, e.g. mongodb://host:27017/?replicaSet=rs0. */
  uri: string;
  /** Database name; the store uses its `resources`, `versions`, `claims`, `state` and `marks` collections, and the GridFS bucket `blobs`. */
  db: string;
  /** Types whose writes change marks (Store.readMarks); none by default. */
  marked?: readonly string[];
  /** What the lookup keys derive from (Store.lookup); without it the store has no lookup(). */
  derivation?: Derivation;
}

/**
 * The MongoDB engine. Every write is acknowledged by a majority and journaled. On a replica set or
 * a sharded cluster each commit is one transaction; elsewhere (a standalone server, FerretDB)
 * commits are applied in order, with compensation and repair, and `info` says so.
 */
export async function createMongoStore(options: MongoStoreOptions): Promise<Store> {
  const client = new MongoClient(options.uri, {
    // A record's absent fields (resource of a deletion, srt) must stay absent, not become null.
    ignoreUndefined: true,
    writeConcern: { w: 'majority', journal: true },
  });
  await client.connect();
  try {
    const db = client.db(options.db);
    const server = await describeServer(db);
    const c: Collections = {
      client,
      resources: db.collection<CurrentDoc>('resources'),
      versions: db.collection<VersionDoc>('versions'),
      derivation: options.derivation,
    };
    await ensureIndexes(c);
    const claims = db.collection<ClaimDoc>('claims');
    const blobs = await openBlobs(db);
    const state = await mongoState(db.collection<StateDoc>('state'));
    await ensureLookup(c, state, options.derivation);
    const marks = mongoMarks(db.collection<MarkDoc>('marks'), c.resources, new Set(options.marked ?? []));
    const commitUnmarked: Store['commit'] = (writes) =>
      withClaims(
        claims,
        writes,
        async (criteria) => (await search(c, { ...criteria, sort: [], offset: 0, limit: 1, count: false }, server.filterInProcess)).records.length > 0,
        () => (server.transactions ? commitInTransaction(c, writes) : commitInOrder(c, writes)),
      );
    const commit: Store['commit'] = (writes) => marks.marking(writes, () => commitUnmarked(writes));

    const read: Store['read'] = async (type, id) => {
      const doc = server.transactions ? await readDoc(c, type, id) : await readRepaired(c, type, id);
      return doc && toRecord(doc);
    };
    return {
      info: { engine: 'mongodb', atomicCommit: server.transactions, atomicity: server.atomicity },
      read,
      // As read() decides (a commit half-written without transactions is repaired first).
      exists: async (type, id) => (await read(type, id)) !== undefined,
      vread: async (type, id, versionId) =>
        (await c.versions.findOne<VersionRecord>({ _id: versionKey(type, id, versionId) }, { projection: VERSION_PROJECTION })) ??
        undefined,
      search: (query) => search(c, query, server.filterInProcess),
      history: (query) => history(c, query),
      readMarks: marks.readMarks,
      ...(options.derivation ? { lookup: (keys: string[]) => readLookup(c, options.derivation!, keys) } : {}),
      commit,
      append: (records, opts) => appendByCommit(opts?.marks === false ? commitUnmarked : commit, records),
      putBlob: blobs.putBlob,
      openBlob: blobs.openBlob,
      statBlob: blobs.statBlob,
      deleteBlob: blobs.deleteBlob,
      ...state,
      updateSearchData: (updates) => updateSearchData(c, updates),
      erase: (resources) => erase(c, resources),
      ping: async () => {
        await db.command({ ping: 1 });
      },
      close: () => client.close(),
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}
