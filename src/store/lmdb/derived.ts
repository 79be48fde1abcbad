import type { CurrentRecord, VersionRecord } from '../store.js';
import { versionOf } from './commit.js';
import type { Dbs } from './dbs.js';
import { currentKey, prefixRange, versionKey } from './keys.js';
import { SCANNED } from './terms.js';

/**
 * Search data derived on read (Store.derivesSearchData): for the types whose terms are not indexed
 * (terms.ts, SCANNED: the access history), a store opened with `searchData` keeps a record's
 * compartments and writers but not its index entries and sort values, and derives them from the
 * resource whenever it reads the record (a read, a search's candidates). An AuditEvent is written
 * for every request and read rarely, nearly always within one patient's compartment: extracting its
 * search data took about a quarter of the access history's cost on a search (`npm run bench:search`,
 * audit on). A record kept with its search data (written before, or by a store opened without
 * `searchData`) is read as it was kept.
 */
export const derives = (dbs: Dbs, type: string): boolean => dbs.searchData !== undefined && SCANNED.has(type);

/** What the store keeps of a record: without its index entries and sort values when it derives them. */
export function kept(dbs: Dbs, record: CurrentRecord): CurrentRecord {
  if (!derives(dbs, record.type) || record.deleted || (record.idx.length === 0 && record.srt === undefined)) return record;
  const { srt: _srt, ...rest } = record;
  return { ...rest, idx: [] };
}

/** The record as read, with its search data derived when it was kept without (in place: each read decodes a new object). */
export function completed<R extends CurrentRecord | undefined>(dbs: Dbs, record: R): R {
  if (!record || record.deleted || record.idx.length > 0 || !record.resource || !derives(dbs, record.type)) return record;
  const { idx, srt } = dbs.searchData!(record.resource);
  record.idx = idx;
  if (Object.keys(srt).length > 0) record.srt = srt;
  return record;
}

/**
 * Whether an appended record is kept without its copy among the versions: for these types, the
 * current record stands for its own version when the versions hold none of it (a first version
 * that no later write replaced: an access history event, never updated). Encoding and writing the
 * copy was about a tenth of an event's cost. A commit that replaces such a record writes the copy
 * first (commit.ts); reads take the current record in its place (vread, history); erasure removes
 * its history keys.
 */
export const uncopied = derives;

/** A version as kept, or the current record when it stands for it. */
export function readVersion(dbs: Dbs, type: string, id: string, versionId: number, current?: CurrentRecord | null): VersionRecord | undefined {
  const copy = dbs.versions.get(versionKey(type, id, versionId));
  if (copy || !uncopied(dbs, type)) return copy;
  const record = current === undefined ? dbs.current.get(currentKey(type, id)) : (current ?? undefined);
  return record?.versionId === versionId ? versionOf(record) : undefined;
}

/** The versions of one resource as kept, the current record included when it stands for its own. */
export function versionsOf(dbs: Dbs, type: string, id: string): VersionRecord[] {
  const all: VersionRecord[] = [];
  for (const { value } of dbs.versions.getRange(prefixRange(type, id))) all.push(value);
  if (!uncopied(dbs, type)) return all;
  const record = dbs.current.get(currentKey(type, id));
  if (record && !all.some((v) => v.versionId === record.versionId)) all.push(versionOf(record));
  return all;
}
