import type { CurrentRecord, StoreQuery, StoreSearchResult } from '../store.js';
import type { Dbs } from './dbs.js';
import type { RecordTest } from './filters.js';
import { carries } from './terms.js';
import { byCodeUnit, eachCandidate, plan } from './plan.js';
import { compareBy } from './sort.js';

export interface SearchStats {
  /** Current records read and tested against a filter since the store opened. */
  examined: number;
}

/**
 * Runs synchronously from start to end: lmdb-js keeps one read snapshot until the event loop
 * turns, so the index ranges and the records read here all come from the same commit.
 */
export function search(
  dbs: Dbs,
  stats: SearchStats,
  compile: (filter: Record<string, unknown>) => RecordTest,
  query: StoreQuery,
): StoreSearchResult {
  const { source, checks, residual } = plan(query.filter);
  const test = compile(residual);
  const pin = query.createdAtMost;
  const types = [...new Set(query.types)].sort(byCodeUnit);
  const matches = (record: CurrentRecord): boolean => {
    stats.examined++;
    if (record.deleted) return false;
    if (pin !== undefined && !(record.created !== undefined && record.created <= pin)) return false;
    return checks.every((t) => carries(record, t)) && test(record);
  };
  const { offset, limit } = query;

  if (query.sort.length === 0 && !query.count) {
    // Candidates already come in the tie-break order: stop at the end of the page.
    const records: CurrentRecord[] = [];
    if (limit <= 0) return { records };
    let seen = 0;
    for (const type of types) {
      eachCandidate(dbs, type, source, (record) => {
        if (!matches(record) || seen++ < offset) return true;
        records.push(record);
        return records.length < limit;
      });
      if (records.length >= limit) break;
    }
    return { records };
  }

  const all: CurrentRecord[] = [];
  for (const type of types) {
    eachCandidate(dbs, type, source, (record) => {
      if (matches(record)) all.push(record);
      return true;
    });
  }
  if (query.sort.length > 0) all.sort(compareBy(query.sort));
  const records = limit <= 0 ? [] : all.slice(offset, offset + limit);
  return query.count ? { records, total: all.length } : { records };
}
