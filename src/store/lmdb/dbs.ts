import { open, type Database, type RootDatabase } from 'lmdb';
import type { CurrentRecord, Derivation, SearchDataOf, VersionRecord } from '../store.js';
import type { Key } from './keys.js';
import type { LookupEntries } from './lookup.js';
import type { Posting } from './postings.js';

/** The named databases of one LMDB environment (layout in keys.ts). */
export interface Dbs {
  root: RootDatabase;
  current: Database<CurrentRecord, Key>;
  versions: Database<VersionRecord, Key>;
  typeHistory: Database<null, Key>;
  systemHistory: Database<null, Key>;
  comp: Database<null, Key>;
  terms: Database<null, Key>;
  compTerms: Database<null, Key>;
  compPostings: Database<Posting, Key>;
  state: Database<{ rev: number; value: unknown }, string>;
  /** Change marks (Store.readMarks): a number per key, new at each write that moves it (marks.ts). */
  marks: Database<number, string>;
  /** Entries derived from current records by the store's Derivation (lookup.ts). */
  lookup: Database<LookupEntries, string>;
  /** What the lookup table derives from records (set at open, lookup.ts); none: no entries kept. */
  derivation?: Derivation;
  /** The search data of the types it is derived for on read (set at open, derived.ts); none: kept with every record. */
  searchData?: SearchDataOf;
}

const STRUCTURES = Symbol.for('structures');

export function openDbs(path: string): Dbs {
  const root = open({
    path,
    // overlappingSync (the default off Windows) resolves writes at commit, before the flush to
    // disk; without it a commit resolves only once LMDB has synced it. Never noSync.
    overlappingSync: false,
    maxDbs: 16,
    // Each search that pauses holds its snapshot's read transaction (search.ts), and a snapshot per
    // commit in between: LMDB's default of 126 reader slots is a few hundred slow searches away
    // under writes. A slot is 64 bytes of the lock file.
    maxReaders: 1024,
  });
  return {
    root,
    // Shared msgpack structures: records of a few recurring shapes decode about 4x faster and
    // take a third less space (measured on DocumentReferences with their index entries).
    current: root.openDB<CurrentRecord, Key>('current', { sharedStructuresKey: STRUCTURES }),
    versions: root.openDB<VersionRecord, Key>('versions', { sharedStructuresKey: STRUCTURES }),
    typeHistory: root.openDB<null, Key>('history-type', {}),
    systemHistory: root.openDB<null, Key>('history-system', {}),
    comp: root.openDB<null, Key>('comp', {}),
    terms: root.openDB<null, Key>('terms', {}),
    compTerms: root.openDB<null, Key>('comp-terms', {}),
    compPostings: root.openDB<Posting, Key>('comp-postings', {}),
    state: root.openDB<{ rev: number; value: unknown }, string>('state', {}),
    marks: root.openDB<number, string>('marks', {}),
    lookup: root.openDB<LookupEntries, string>('lookup', {}),
  };
}
