import type { Resource } from '../fhir/resource-types.js';

/**
 * The storage contract. A store holds data only: no access rules, no audit, no clock.
 * Both engines (embedded LMDB + mingo, MongoDB) implement it and pass one conformance suite
 * (src/store/conformance.ts).
 *
 * Queries are MongoDB query documents over CurrentRecord fields, produced by the search compiler
 * (src/search/). The store never sees FHIR search syntax.
 */

/** One search index entry, extracted at write time (src/search/). Opaque to the store. */
export type IndexEntry = Record<string, string | number | boolean | null>;

/** A resource version as stored. The current version of each resource also carries search data. */
export interface VersionRecord {
  type: string;
  id: string;
  /** 1, 2, 3... */
  versionId: number;
  /** FHIR instant with milliseconds, UTC (e.g. 2026-11-22T07:00:00.000Z); ordered as text. */
  lastUpdated: string;
  /** A deletion is a version with no resource. */
  deleted: boolean;
  /** The FHIR JSON, with meta.versionId and meta.lastUpdated set; absent when deleted. */
  resource?: Resource;
  /**
   * Who wrote this version, as the server saw it: the token's fhirUser reference
   * ('Practitioner/123'), or 'client:<sub>' for a system client. Absent on versions written before
   * writers were recorded.
   */
  writer?: string;
}

export interface CurrentRecord extends VersionRecord {
  /** When the resource came to exist: its first version, or its first version after a deletion. Pins page sequences. */
  created?: string;
  /** Search index entries, e.g. {p: 'code', s: 'http://loinc.org', c: '1234-5'}. Queried with $elemMatch. */
  idx: IndexEntry[];
  /** Patient compartments the resource belongs to, e.g. ['Patient/123']. */
  comp: string[];
  /** Sort values per search parameter code (first value for ascending, see src/search). */
  srt?: Record<string, string | number>;
  /** Every distinct writer of the resource's versions (VersionRecord.writer), oldest first. Queried by access clauses. */
  by?: string[];
}

/** What a write expects of the current version, checked atomically with the write. */
export type Expectation =
  | { kind: 'any' }
  | { kind: 'absent' } // no current record at all (create with a new id)
  | { kind: 'version'; versionId: number }; // current versionId must equal this (0 = absent)

export interface Write {
  record: CurrentRecord;
  expect: Expectation;
  /**
   * A search that must match nothing when the write applies: a conditional create's criteria.
   * Checked before any write of the commit; a match throws StoreConflict (actualVersionId 0). Of
   * concurrent writes with the same criteria, one lands and the others conflict: the embedded
   * engine checks the criteria inside its single write transaction; MongoDB claims them first
   * (a document with a unique _id, removed after the commit; see mongo/claims.ts).
   * `claim` names the criteria as the client gave them, apart from who asks: writes with the same
   * claim are arbitrated against each other even when their filters differ (two callers whose
   * access clauses differ); without it, the types and filter are the claim.
   */
  unlessFound?: { types: string[]; filter: Record<string, unknown>; claim?: string };
}

/**
 * An entry of a derived lookup table: a key the application asks for and a small value, both
 * derived from a current record by the application's function (Derivation). Several records may
 * give the same key.
 */
export interface LookupEntry {
  key: string;
  value: unknown;
  /**
   * No other record gives this key (it names the record, say): a store may write it without
   * reading the entries the key holds (the embedded engine's appends).
   */
  sole?: boolean;
}

/**
 * The application's search data of a resource (src/search/extract.ts), for a store that derives it
 * when it reads a record rather than keeping it (Store.derivesSearchData). It must depend on the
 * resource alone.
 */
export type SearchDataOf = (resource: Resource) => { idx: IndexEntry[]; srt: Record<string, string | number> };

/**
 * How the application derives lookup entries from the current records of some types (carnet's
 * access facts, src/access/lookup.ts). The store keeps them as it keeps search index entries: each
 * write, reindex and erasure of a record of these types replaces the entries of the record it
 * replaces, in the same transaction on the embedded engine and in the same document on MongoDB. A
 * store opened with a different `version` (or none) derives them again from every current record
 * of `types` before it serves anything. `derive` must depend on the record alone (its resource,
 * search data and writers), never on other records or on the clock.
 */
export interface Derivation {
  version: string;
  types: readonly string[];
  derive(record: CurrentRecord): LookupEntry[];
}

/** One lookup entry found, with the record that gave it. */
export interface LookupHit extends LookupEntry {
  type: string;
  id: string;
}

export type SortKey = [field: string, direction: 1 | -1];

export interface StoreQuery {
  /** Resource types searched (one for a type search; several for a system search). */
  types: string[];
  /** MongoDB query document over CurrentRecord fields; deleted records are never returned. */
  filter: Record<string, unknown>;
  /** Sort keys; the engines always append [type, 1], [id, 1] as a tie-break for a stable order. */
  sort: SortKey[];
  offset: number;
  /** Maximum records returned; 0 returns none (a count-only query). */
  limit: number;
  /** Count all matches (accurate total). */
  count: boolean;
  /**
   * Leaves out the records created after this instant (a FHIR instant as in `created`): pins a
   * sequence of pages to what existed when the first one was read.
   */
  createdAtMost?: string;
  /**
   * The records this query may examine, shared by every query of one request (its sub-queries,
   * includes, the entries of a batch): each engine counts what it examines into it and throws
   * SearchBudgetExceeded past the limit.
   */
  budget?: SearchBudget;
}

/** A count of records examined against a limit; mutable, shared across the queries of one request. */
export interface SearchBudget {
  limit: number;
  examined: number;
}

export interface StoreSearchResult {
  records: CurrentRecord[];
  total?: number;
}

export interface HistoryQuery {
  /** Absent for system history. */
  type?: string;
  /** Requires type; instance history. */
  id?: string;
  /** Only versions with lastUpdated >= since. */
  since?: string;
  /** Only versions with lastUpdated <= at (pins a page sequence). */
  at?: string;
  offset: number;
  limit: number;
}

/** New search data for the current version of a resource (after a search definition changed). */
export interface SearchDataUpdate {
  type: string;
  id: string;
  /** Applied only while the current record is still at this version. */
  versionId: number;
  idx: IndexEntry[];
  comp: string[];
  srt?: Record<string, string | number>;
}

export interface StoreInfo {
  engine: 'lmdb' | 'mongodb';
  /** True when commit() of several writes is all-or-nothing. */
  atomicCommit: boolean;
  /** One sentence for the CapabilityStatement and the start-up log. */
  atomicity: string;
}

/** What the store knows of a blob (binary content), computed while it was written. */
export interface BlobInfo {
  /** SHA-256 of the content, lowercase hex: the blob's address. */
  sha256: string;
  /** SHA-1 of the content, base64: the form of FHIR Attachment.hash, which IHE MHD requires. */
  sha1: string;
  /** Length in bytes. */
  size: number;
}

/** An entry of the store's internal state; rev counts its writes (1 after the first). */
export interface StateEntry {
  key: string;
  rev: number;
  /** JSON-compatible. */
  value: unknown;
}

export interface Store {
  readonly info: StoreInfo;
  /** Current record (including a deletion tombstone), or undefined. */
  read(type: string, id: string): Promise<CurrentRecord | undefined>;
  /** Whether read() would find a record (a deletion tombstone included), without decoding it. */
  exists(type: string, id: string): Promise<boolean>;
  vread(type: string, id: string, versionId: number): Promise<VersionRecord | undefined>;
  search(query: StoreQuery): Promise<StoreSearchResult>;
  /** Versions, newest first (lastUpdated desc, then versionId desc). */
  history(query: HistoryQuery): Promise<{ records: VersionRecord[]; total: number }>;
  /**
   * Writes each record as the new current version and appends it to history.
   * Every expectation is checked first; if any fails, nothing is written and a StoreConflict is thrown.
   * Acknowledged writes are durable (synced to disk / journaled with majority write concern).
   */
  commit(writes: Write[]): Promise<void>;
  /**
   * Writes new resources, each as its version 1, where none with its id exists: one that exists is
   * left out, the others are written, searchable and moving their change marks as a commit's would.
   * For records nothing else writes (the access history's events, fresh ids; notifications, sent
   * once). Resolves once durable, with how many were written. Lighter than commit() where an engine
   * can make it so (LMDB: nothing read first, no step on the main thread inside the write
   * transaction); otherwise commit() of each. `marks: false`: they move no change mark, for records
   * nothing derived from the marks reads (carnet's notifications: the access facts read only the
   * messages a patient wrote).
   */
  append(records: CurrentRecord[], opts?: { marks?: boolean }): Promise<number>;
  /**
   * Stores binary content (FHIR Binary, document attachments) apart from the resources, addressed
   * by its SHA-256: identical content is stored once. The content streams in and is hashed as it is
   * written; the promise resolves once the blob is durable. Past opts.maxBytes it throws
   * BlobTooLarge, stops reading the content and keeps nothing of it; if the content fails, nothing
   * is kept either. Blobs are immutable; deleteBlob removes one.
   */
  putBlob(content: AsyncIterable<Uint8Array> | Uint8Array, opts: { maxBytes: number }): Promise<BlobInfo>;
  /**
   * The blob's content as a stream, or undefined when no blob has this SHA-256 (lowercase hex; any
   * other string is unknown). The caller reads the stream to its end or destroys it.
   */
  openBlob(sha256: string): Promise<{ info: BlobInfo; stream: NodeJS.ReadableStream } | undefined>;
  statBlob(sha256: string): Promise<BlobInfo | undefined>;
  /**
   * Removes the blob's content for good; false when no blob has this SHA-256. Blobs are shared by
   * content: the caller must know that nothing else uses these bytes (a Bulk Data export's files
   * carry a random first line for that, src/export/files.ts). A put of the same content racing the
   * delete may find its blob gone, and a stream opened before may fail. Durable on return.
   */
  deleteBlob(sha256: string): Promise<boolean>;
  /**
   * Replaces idx, comp and srt of current records (reindexing); each update applies only while the
   * record is still at the given version. Versions and history are untouched. Returns how many changed.
   */
  updateSearchData(updates: SearchDataUpdate[]): Promise<number>;
  /**
   * Removes resources for good: the current record (or tombstone), every version, their places in
   * the histories and every search index entry, leaving no trace a read, vread, search or history
   * could find (unlike a deletion, which is a new version). For retention and erasure, never for a
   * client's delete. Returns how many of them existed.
   */
  erase(resources: Array<{ type: string; id: string }>): Promise<number>;
  /**
   * Internal state that is not FHIR data (leases, cursors, job state, queues), kept apart from the
   * resources: not versioned, not in any history, never searched. Keys are ordered as text.
   */
  getState(key: string): Promise<StateEntry | undefined>;
  /**
   * Writes (or, with value undefined, removes) the entry while it is at `expectRev` (0: absent).
   * Returns false, writing nothing, when it is not: someone else wrote it first. Durable on return.
   */
  putState(key: string, value: unknown, expectRev: number): Promise<boolean>;
  /** Entries whose key starts with prefix, in key order, after `after` when given. */
  listState(prefix: string, opts: { after?: string; limit: number }): Promise<StateEntry[]>;
  /**
   * Change marks: each commit that writes a record of one of the store's marked types (an option of
   * each engine) changes the mark `type:<type>` and `comp:<compartment>` of each compartment the
   * record leaves or enters, once synced. Values are opaque (undefined: never changed); a mark read
   * before some data and equal later says no marked write touched that data in between. Lets a
   * process keep what it derived from rarely written records (access facts) and know when to
   * derive it again, across processes and servers sharing the store.
   */
  readMarks(keys: string[]): Promise<unknown[]>;
  /**
   * The entries of these keys that the store's Derivation (an option of each engine) gives the
   * current records (deletions give none), in key order then by type and id; absent when the store
   * was opened without one. Each key is read as of one moment on the embedded engine; on MongoDB as
   * a search reads.
   */
  lookup?(keys: string[]): Promise<LookupHit[]>;
  /**
   * Whether the store derives the search data of records of this type when it reads them, keeping
   * only their compartments (the embedded engine opened with `searchData`, for the types whose terms
   * it does not index: the access history). A writer may then give such a record no index entries
   * and no sort values (`idx` empty): the store would drop them anyway. Absent: every record is
   * written with its search data.
   */
  derivesSearchData?(type: string): boolean;
  /**
   * True where writes sent while others are under way join them in the engine's next commit (the
   * embedded engine: lmdb-js queues them into one transaction and one sync). Absent (MongoDB: each
   * append its own round trip and journal write), a writer that groups (the access history's
   * journal) sends one at a time and gathers the rest meanwhile.
   */
  readonly groupsWrites?: boolean;
  /** Resolves when the store can serve requests. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** An expectation of commit() did not hold: someone else wrote first. */
export class StoreConflict extends Error {
  constructor(
    readonly type: string,
    readonly id: string,
    readonly actualVersionId: number,
  ) {
    super(`${type}/${id} is at version ${actualVersionId}, not the expected one`);
    this.name = 'StoreConflict';
  }
}

/** putBlob() read more than opts.maxBytes of content: nothing of it was kept. */
export class BlobTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`binary content exceeds the limit of ${maxBytes} bytes`);
    this.name = 'BlobTooLarge';
  }
}

/** A query examined more records than its budget allows: nothing is returned. */
export class SearchBudgetExceeded extends Error {
  constructor(readonly limit: number) {
    super(`the search examined more than ${limit} records`);
    this.name = 'SearchBudgetExceeded';
  }
}

/** Counts one examined record into the budget; throws past its limit. */
export function spend(budget: SearchBudget | undefined, records = 1): void {
  if (budget && (budget.examined += records) > budget.limit) throw new SearchBudgetExceeded(budget.limit);
}
