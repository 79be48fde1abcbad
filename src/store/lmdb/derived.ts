import type { CurrentRecord } from '../store.js';
import type { Dbs } from './dbs.js';
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
