import { lmdbState } from './state.js';
import type { Derivation, SearchDataOf, Store, StoreInfo } from '../store.js';
import { completed, derives, readVersion } from './derived.js';
import { ensureLookup, readLookup } from './lookup.js';
import { openBlobs } from './blobs.js';
import { append } from './append.js';
import { commit } from './commit.js';
import { erase } from './erase.js';
import { openDbs } from './dbs.js';
import { history } from './history.js';
import { ensureTerms } from './terms.js';
import { updateSearchData } from './reindex.js';
import { currentKey } from './keys.js';
import { anyMatch, search, type SearchStats } from './search.js';
import { filterCache } from './filters.js';

export interface LmdbStoreOptions {
  /** Directory of the LMDB environment, and of blob files under `blobs/`; created when missing. */
  path: string;
  /** Hears of long work at open (building the indexes of a store of an earlier layout). */
  log?: (message: string) => void;
  /** Types whose writes change marks (Store.readMarks); none by default. */
  marked?: readonly string[];
  /** What the lookup table derives from records (Store.lookup); without it the store has no lookup(). */
  derivation?: Derivation;
  /**
   * The application's search data of a resource: given, the store keeps none for the types whose
   * terms it does not index and derives it on read (derived.ts, Store.derivesSearchData).
   */
  searchData?: SearchDataOf;
}

export interface LmdbStore extends Store {
  /** Counters for tests and diagnostics. */
  readonly stats: Readonly<SearchStats>;
}

const info: StoreInfo = {
  engine: 'lmdb',
  atomicCommit: true,
  atomicity:
    'Embedded LMDB: each commit is one ACID transaction, all-or-nothing, acknowledged once synced to disk.',
};

export async function createLmdbStore(options: LmdbStoreOptions): Promise<LmdbStore> {
  const dbs = openDbs(options.path);
  dbs.derivation = options.derivation;
  dbs.searchData = options.searchData;
  const marked = new Set(options.marked ?? []);
  const stats: SearchStats = { examined: 0 };
  const compile = filterCache();
  let told = 0;
  await ensureTerms(dbs, undefined, (indexed, total) => {
    // An empty store (a new one) has nothing to tell.
    if (total === 0 || (indexed - told < 100_000 && indexed < total)) return;
    told = indexed;
    options.log?.(`building the search term indexes of a store of an earlier layout: ${indexed} of ${total} records`);
  });
  await ensureLookup(dbs, options.log);
  const blobs = await openBlobs(options.path, dbs.root).catch(async (err: unknown) => {
    await dbs.root.close();
    throw err;
  });
  let closing = false;
  const store: LmdbStore = {
    info,
    stats,
    read: async (type, id) => completed(dbs, dbs.current.get(currentKey(type, id))),
    exists: async (type, id) => dbs.current.doesExist(currentKey(type, id)),
    vread: async (type, id, versionId) => readVersion(dbs, type, id, versionId),
    search: (query) => search(dbs, stats, compile, query),
    history: async (query) => history(dbs, query),
    commit: async (writes) =>
      commit(dbs, writes, ({ types, filter }) => anyMatch(dbs, stats, compile, { types, filter }), marked),
    append: (records, opts) => {
      const marking = opts?.marks === false ? new Set<string>() : marked;
      return append(dbs, records, marking, (record) => commit(dbs, [{ record, expect: { kind: 'absent' } }], () => false, marking));
    },
    readMarks: async (keys) => keys.map((key) => dbs.marks.get(key)),
    groupsWrites: true,
    ...(options.derivation ? { lookup: async (keys: string[]) => readLookup(dbs, keys) } : {}),
    ...(options.searchData ? { derivesSearchData: (type: string) => derives(dbs, type) } : {}),
    updateSearchData: (updates) => updateSearchData(dbs, updates),
    erase: (resources) => erase(dbs, resources),
    putBlob: blobs.putBlob,
    openBlob: blobs.openBlob,
    statBlob: blobs.statBlob,
    deleteBlob: blobs.deleteBlob,
    ...lmdbState(dbs.state),
    ping: async () => {
      dbs.root.get('ping');
    },
    close: () => {
      closing = true;
      return dbs.root.close();
    },
  };
  // Once close() has begun, every call is refused. A read during lmdb-js's close leaves a timer that
  // throws (the process ends): a job or poll still running at shutdown gets an error instead.
  for (const [name, method] of Object.entries(store)) {
    if (typeof method !== 'function' || name === 'close') continue;
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) =>
      closing ? Promise.reject(new Error('The store is closed')) : (method as (...a: unknown[]) => unknown)(...args);
  }
  return store;
}
