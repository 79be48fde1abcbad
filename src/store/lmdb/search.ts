import type { Transaction } from 'lmdb';
import { spend, type CurrentRecord, type StoreQuery, type StoreSearchResult } from '../store.js';
import { pace } from '../../pace.js';
import type { Dbs } from './dbs.js';
import type { RecordTest } from './filters.js';
import { carries, SCANNED } from './terms.js';
import { byCodeUnit, candidates, idsAfterIn, plan, type Candidates, type Plan } from './plan.js';
import { compareBy } from './sort.js';

export interface SearchStats {
  /** Current records read and tested against a filter since the store opened. */
  examined: number;
}

type Compile = (filter: Record<string, unknown>) => RecordTest;

/** The candidates of each type, each with its test, the same for a search and for an existence check. */
function prepare(dbs: Dbs, stats: SearchStats, compile: Compile, query: Pick<StoreQuery, 'types' | 'filter' | 'createdAtMost' | 'budget'>, txn?: Transaction): Typed[] {
  const pin = query.createdAtMost;
  const { budget } = query;
  // One plan for the types whose terms are indexed, one for the others (SCANNED), made when needed.
  const plans = new Map<boolean, { plan: Plan; matches: (record: CurrentRecord) => boolean }>();
  const planned = (indexed: boolean) => {
    let found = plans.get(indexed);
    if (!found) {
      const p = plan(query.filter, indexed);
      const test = compile(p.residual);
      const matches = (record: CurrentRecord): boolean => {
        stats.examined++;
        spend(budget);
        if (record.deleted) return false;
        if (pin !== undefined && !(record.created !== undefined && record.created <= pin)) return false;
        return p.checks.every((t) => carries(record, t)) && test(record);
      };
      plans.set(indexed, (found = { plan: p, matches }));
    }
    return found;
  };
  const types = [...new Set(query.types)].sort(byCodeUnit);
  // Every type's ids are read now, in this turn of the event loop: from the snapshot `txn` pins.
  return types.map((type) => {
    const { plan: p, matches } = planned(!SCANNED.has(type));
    return { next: candidates(dbs, type, p.source, txn, idsAfterIn(type, p.after)), matches };
  });
}

/** The candidates of one type and their test. */
interface Typed {
  next: Candidates;
  matches: (record: CurrentRecord) => boolean;
}

/**
 * Reads from one snapshot, pinned for the whole search (lmdb-js otherwise moves to a newer one
 * when the event loop turns), and hands the event loop back every few milliseconds of work
 * (pace.ts): a search over many candidates no longer stalls other requests. Past the query's
 * budget of records examined, throws SearchBudgetExceeded.
 */
export async function search(dbs: Dbs, stats: SearchStats, compile: Compile, query: StoreQuery): Promise<StoreSearchResult> {
  const txn = dbs.root.useReadTransaction();
  let perType: Typed[] = [];
  try {
    perType = prepare(dbs, stats, compile, query, txn);
    return await searchIn(query, perType);
  } finally {
    // A search that stops at the end of its page, or past its budget, leaves scans open.
    for (const { next } of perType) next.close?.();
    txn.done();
  }
}

async function searchIn(query: StoreQuery, perType: Typed[]): Promise<StoreSearchResult> {
  const { offset, limit } = query;
  const slice = pace();

  if (query.sort.length === 0 && !query.count) {
    // Candidates already come in the tie-break order: stop at the end of the page.
    const records: CurrentRecord[] = [];
    if (limit <= 0) return { records };
    let seen = 0;
    for (const { next, matches } of perType) {
      for (let record = next(); record; record = next()) {
        if (slice.due()) await slice.pause();
        if (!matches(record) || seen++ < offset) continue;
        records.push(record);
        if (records.length >= limit) return { records };
      }
    }
    return { records };
  }

  const all: CurrentRecord[] = [];
  for (const { next, matches } of perType) {
    for (let record = next(); record; record = next()) {
      if (slice.due()) await slice.pause();
      if (matches(record)) all.push(record);
    }
  }
  if (query.sort.length > 0) all.sort(compareBy(query.sort));
  const records = limit <= 0 ? [] : all.slice(offset, offset + limit);
  return query.count ? { records, total: all.length } : { records };
}

/**
 * Whether any record matches: a conditional create's criteria, checked inside the commit's write
 * transaction, synchronously (the transaction's callback cannot wait), without a budget.
 */
export function anyMatch(dbs: Dbs, stats: SearchStats, compile: Compile, query: Pick<StoreQuery, 'types' | 'filter'>): boolean {
  const perType = prepare(dbs, stats, compile, query);
  try {
    for (const { next, matches } of perType) {
      for (let record = next(); record; record = next()) if (matches(record)) return true;
    }
    return false;
  } finally {
    for (const { next } of perType) next.close?.();
  }
}
