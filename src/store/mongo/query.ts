import { Query } from 'mingo';
import type { Criteria } from 'mingo/types';
import { MongoServerError, type Filter, type Sort } from 'mongodb';
import { SearchBudgetExceeded, spend, type CurrentRecord, type HistoryQuery, type SearchBudget, type SortKey, type StoreQuery, type StoreSearchResult, type VersionRecord } from '../store.js';
import { pace } from '../../pace.js';
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

/**
 * MongoDB evaluates the filter itself: its own CPU, not this process's event loop. What the budget
 * bounds there is time: `maxTimeMS` of one millisecond per RECORDS_PER_MS records left in the
 * budget (100,000 records: 1 s), MongoDB's "operation exceeded time limit" becoming
 * SearchBudgetExceeded; the records it returns count into the budget too.
 */
export const RECORDS_PER_MS = 100;
const MAX_TIME_MS_EXPIRED = 50;

function timeLimit(budget: SearchBudget | undefined): { maxTimeMS?: number } {
  if (!budget) return {};
  const left = budget.limit - budget.examined;
  if (left <= 0) throw new SearchBudgetExceeded(budget.limit);
  return { maxTimeMS: Math.ceil(left / RECORDS_PER_MS) };
}

export async function search(c: Collections, query: StoreQuery, filterInProcess: boolean): Promise<StoreSearchResult> {
  if (filterInProcess) return searchFilteredInProcess(c, query);
  const filter = searchFilter(query);
  const limits = timeLimit(query.budget);
  try {
    const [records, total] = await Promise.all([
      // limit 0 means "no limit" to MongoDB, and "none" to the contract.
      query.limit > 0
        ? c.resources
            .find<CurrentRecord>(filter, { projection: CURRENT_PROJECTION, ...limits })
            .sort(searchSort(query.sort) as Sort)
            .skip(query.offset)
            .limit(query.limit)
            .toArray()
        : [],
      query.count ? c.resources.countDocuments(filter, limits) : undefined,
    ]);
    spend(query.budget, records.length);
    return total === undefined ? { records } : { records, total };
  } catch (e) {
    if (e instanceof MongoServerError && e.code === MAX_TIME_MS_EXPIRED && query.budget) throw new SearchBudgetExceeded(query.budget.limit);
    throw e;
  }
}

/**
 * The server selects the types and sorts; mingo (the embedded engine's evaluator) tests the whole
 * filter on each record as it streams by. A full scan of the types, as FerretDB v1's own
 * evaluation would be anyway: it pushes down no filter but on _id. Each record streamed counts
 * into the budget, and the event loop is handed back every few milliseconds (a batch of the
 * cursor is otherwise tested in one go: the cursor's promises resolve as microtasks).
 */
async function searchFilteredInProcess(c: Collections, query: StoreQuery): Promise<StoreSearchResult> {
  const filter = searchFilter(query);
  const test = new Query(filter as Criteria<CurrentRecord>, {});
  const { offset, limit, budget } = query;
  const records: CurrentRecord[] = [];
  let matched = 0;
  if (limit <= 0 && !query.count) return { records };
  const slice = pace();
  const cursor = c.resources
    .find<CurrentRecord>({ type: { $in: query.types }, deleted: false }, { projection: CURRENT_PROJECTION })
    .sort(searchSort(query.sort) as Sort);
  for await (const record of cursor) {
    if (slice.due()) await slice.pause();
    spend(budget);
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
