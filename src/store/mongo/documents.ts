import type { Collection, MongoClient } from 'mongodb';
import type { CurrentRecord, Derivation, IndexEntry, VersionRecord } from '../store.js';

/**
 * The stored shapes. `resources` holds one document per resource (its current record),
 * `versions` one per version. Documents are the contract's records plus `_id` and the fields
 * below, which never leave the engine.
 */

type SortValues = Record<string, string | number>;

export interface CurrentDoc extends CurrentRecord {
  _id: string;
  /** The commit that wrote this document: tells repair and compensation whose write is current. */
  tok: string;
  /**
   * `srt` with every value inverted (see invertSortValue): sorting `srtInv.x` descending orders
   * `srt.x` ascending with missing values last, which MongoDB's own ascending sort puts first and
   * which FerretDB v1 cannot compute in an aggregation ($cond, $ifNull are missing there).
   */
  srtInv?: SortValues;
  /** The keys the store's Derivation gives the record (Store.lookup, lookup.ts). */
  look?: string[];
}

/**
 * On a version written without a transaction: the commit that wrote it, and what a repair needs
 * to roll the current record forward to it (see repair.ts). Left in place afterwards, as removing
 * it would cost every commit a third write; repair tells a current record that already holds this
 * version by its token.
 */
export interface CommitInfo {
  token: string;
  at: Date;
  idx: IndexEntry[];
  comp: string[];
  srt?: SortValues;
  created?: string;
  by?: string[];
}

export interface VersionDoc extends VersionRecord {
  _id: string;
  commit?: CommitInfo;
}

export interface Collections {
  client: MongoClient;
  resources: Collection<CurrentDoc>;
  versions: Collection<VersionDoc>;
  /** What the documents' `look` keys derive from (lookup.ts); none: no keys kept. */
  derivation?: Derivation;
}

export const CURRENT_PROJECTION = { _id: 0, srtInv: 0, tok: 0, look: 0 } as const;
export const VERSION_PROJECTION = { _id: 0, commit: 0 } as const;

export const currentKey = (type: string, id: string): string => `${type}/${id}`;
export const versionKey = (type: string, id: string, versionId: number): string => `${type}/${id}/${versionId}`;

function versionFields(record: VersionRecord): VersionRecord {
  const fields: VersionRecord = {
    type: record.type,
    id: record.id,
    versionId: record.versionId,
    lastUpdated: record.lastUpdated,
    deleted: record.deleted,
  };
  if (record.resource !== undefined) fields.resource = record.resource;
  if (record.writer !== undefined) fields.writer = record.writer;
  return fields;
}

/** The keys a record gives (stored as `look`, indexed; lookup.ts); none for a deletion. */
export function lookKeys(derivation: Derivation | undefined, record: CurrentRecord): string[] | undefined {
  if (!derivation || record.deleted || !derivation.types.includes(record.type)) return undefined;
  const keys = [...new Set(derivation.derive(record).map((e) => e.key))];
  return keys.length > 0 ? keys : undefined;
}

export function toCurrentDoc(record: CurrentRecord, token: string, derivation?: Derivation): CurrentDoc {
  const doc: CurrentDoc = {
    _id: currentKey(record.type, record.id),
    tok: token,
    ...versionFields(record),
    idx: record.idx,
    comp: record.comp,
  };
  if (record.by !== undefined) doc.by = record.by;
  if (record.created !== undefined) doc.created = record.created;
  if (record.srt !== undefined) {
    doc.srt = record.srt;
    doc.srtInv = Object.fromEntries(Object.entries(record.srt).map(([k, v]) => [k, invertSortValue(v)]));
  }
  const look = lookKeys(derivation, record);
  if (look) doc.look = look;
  return doc;
}

export function toVersionDoc(record: CurrentRecord, commit?: { token: string; at: Date }): VersionDoc {
  const doc: VersionDoc = { _id: versionKey(record.type, record.id, record.versionId), ...versionFields(record) };
  if (commit) {
    doc.commit = { ...commit, idx: record.idx, comp: record.comp };
    if (record.srt !== undefined) doc.commit.srt = record.srt;
    if (record.created !== undefined) doc.commit.created = record.created;
    if (record.by !== undefined) doc.commit.by = record.by;
  }
  return doc;
}

export function toRecord(doc: CurrentDoc): CurrentRecord {
  const record: CurrentRecord = { ...versionFields(doc), idx: doc.idx, comp: doc.comp };
  if (doc.by !== undefined) record.by = doc.by;
  if (doc.created !== undefined) record.created = doc.created;
  if (doc.srt !== undefined) record.srt = doc.srt;
  return record;
}

/** The current record a version written without a transaction stands for. */
export function fromCommitted(doc: VersionDoc & { commit: CommitInfo }): CurrentRecord {
  const record: CurrentRecord = { ...versionFields(doc), idx: doc.commit.idx, comp: doc.commit.comp };
  if (doc.commit.created !== undefined) record.created = doc.commit.created;
  if (doc.commit.by !== undefined) record.by = doc.commit.by;
  if (doc.commit.srt !== undefined) record.srt = doc.commit.srt;
  return record;
}

const SURROGATES = 0x800;
/** Unicode scalar values ranked without the surrogate range, which BSON strings cannot hold. */
const MAX_RANK = 0x10ffff - SURROGATES;
const rankOf = (cp: number): number => (cp < 0xd800 ? cp : cp - SURROGATES);
const fromRank = (rank: number): string => String.fromCodePoint(rank < 0xd800 ? rank : rank + SURROGATES);
const END = fromRank(MAX_RANK);

/**
 * An order-reversing map: a < b exactly when invert(a) > invert(b), in MongoDB's string order
 * (UTF-8 bytes, i.e. code points). Numbers are negated. A string maps each code point to its mirror
 * and ends with U+10FFFF, greater than every mirror, so that a prefix inverts to more than its
 * extensions. U+10FFFF itself, a noncharacter, mirrors like U+10FFFE. A sort code holds values of
 * one type: numbers and strings mixed under one code would not sort as MongoDB sorts them.
 */
export function invertSortValue(value: string | number): string | number {
  if (typeof value === 'number') return value === 0 ? 0 : -value;
  let out = '';
  for (const ch of value) out += fromRank(Math.max(0, MAX_RANK - 1 - rankOf(ch.codePointAt(0)!)));
  return out + END;
}
