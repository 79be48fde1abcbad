import { Query } from 'mingo';
import type { Criteria } from 'mingo/types';
import type { Filter, Sort } from 'mongodb';
import type { CurrentRecord, HistoryQuery, SortKey, StoreQuery, StoreSearchResult, VersionRecord } from '../store.js';
import { CURRENT_PROJECTION, VERSION_PROJECTION, type Collections, type CurrentDoc, type VersionDoc } from './documents.js';

/**
 * The engine's own clauses and the compiler's filter side by side under $and, so that no key of
 * the filter (a `type`, a `deleted`, an `$or`) can replace or loosen them.
 */
export function searchFilter(query: StoreQuery): Filter<CurrentDoc> {
  const clauses: Filter<CurrentDoc>[] = [{ type: { $in: query.types } }, { deleted: false }];
  if (query.createdAtMost !== undefined) clauses.push({ created: { $lte: query.createdAtMost } });
  if (Object.keys(query.filter).length > 0) clauses.push(query.filter as Filter<CurrentDoc>);
  return { $and: clauses };
}

/**
 * The sort keys, then type and id as a tie-break. A value is missing last in both directions:
 * MongoDB puts it last when descending, and first when ascending, so an ascending `srt.x` sorts
 * `srtInv.x` descending instead (see documents.ts). Other fields (lastUpdated, id, type) always have a value.
 */
export function searchSort(keys: SortKey[]): Array<[string, 1 | -1]> {
  const sort: Array<[string, 1 | -1]> = [];
  const seen = new Set<string>();
  for (const [field, direction] of [...keys, ['type', 1], ['id', 1]] as SortKey[]) {
    if (seen.has(field)) continue;
    seen.add(field);
    if (direction === 1 && field.startsWith('srt.')) sort.push([`srtInv.${field.slice(4)}`, -1]);
    else sort.push([field, direction]);
  }
  return sort;
}

export async function search(c: Collections, query: StoreQuery, filterInProcess: boolean): Promise<StoreSearchResult> {
  if (filterInProcess) return searchFilteredInProcess(c, query);
  const filter = searchFilter(query);
  const [records, total] = await Promise.all([
    // limit 0 means "no limit" to MongoDB, and "none" to the contract.
    query.limit > 0
      ? c.resources
          .find<CurrentRecord>(filter, { projection: CURRENT_PROJECTION })
          .sort(searchSort(query.sort) as Sort)
          .skip(query.offset)
          .limit(query.limit)
          .toArray()
      : [],
    query.count ? c.resources.countDocuments(filter) : undefined,
  ]);
  return total === undefined ? { records } : { records, total };
}

/**
 * The server selects the types and sorts; mingo (the embedded engine's evaluator) tests the whole
 * filter on each record as it streams by. A full scan of the types, as FerretDB v1's own
 * evaluation would be anyway: it pushes down no filter but on _id.
 */
async function searchFilteredInProcess(c: Collections, query: StoreQuery): Promise<StoreSearchResult> {
  const filter = searchFilter(query);
  const test = new Query(filter as Criteria<CurrentRecord>, {});
  const { offset, limit } = query;
  const records: CurrentRecord[] = [];
  let matched = 0;
  if (limit <= 0 && !query.count) return { records };
  const cursor = c.resources
    .find<CurrentRecord>({ type: { $in: query.types }, deleted: false }, { projection: CURRENT_PROJECTION })
    .sort(searchSort(query.sort) as Sort);
  for await (const record of cursor) {
    if (!test.test(record)) continue;
    if (matched++ >= offset && records.length < limit) records.push(record);
    if (!query.count && records.length >= limit) break;
  }
  return query.count ? { records, total: matched } : { records };
}

export function historyFilter(query: HistoryQuery): Filter<VersionDoc> {
  const filter: Filter<VersionDoc> = {};
  if (query.type !== undefined) filter.type = query.type;
  if (query.id !== undefined) filter.id = query.id;
  if (query.since !== undefined || query.at !== undefined) {
    filter.lastUpdated = {
      ...(query.since !== undefined && { $gte: query.since }),
      ...(query.at !== undefined && { $lte: query.at }),
    };
  }
  return filter;
}

const HISTORY_SORT: Sort = [
  ['lastUpdated', -1],
  ['versionId', -1],
  ['type', 1],
  ['id', 1],
];

export async function history(c: Collections, query: HistoryQuery): Promise<{ records: VersionRecord[]; total: number }> {
  const filter = historyFilter(query);
  const [records, total] = await Promise.all([
    query.limit > 0
      ? c.versions
          .find<VersionRecord>(filter, { projection: VERSION_PROJECTION })
          .sort(HISTORY_SORT)
          .skip(query.offset)
          .limit(query.limit)
          .toArray()
      : [],
    c.versions.countDocuments(filter),
  ]);
  return { records, total };
}
