import { Query } from 'mingo';
import type { Criteria } from 'mingo/types';
import type { CurrentRecord } from '../store.js';
import { compileNative } from './native-filter.js';

export type RecordTest = (record: CurrentRecord) => boolean;

const always: RecordTest = () => true;
const MAX_KEY = 4096;

/**
 * Filters of the common subset become closures at once (native-filter.ts: cheaper to build than
 * to look up). Others are compiled mingo filters, kept by their query document. Compiling costs about 10 µs per nested
 * query (each $elemMatch is one), more than testing a patient's candidates with it; the residual
 * filters of a given kind of search (what the indexes leave, e.g. a date range) repeat across
 * patients, so most searches find theirs here.
 */
export function filterCache(size = 1000): (filter: Record<string, unknown>) => RecordTest {
  const cache = new Map<string, RecordTest>();
  return (filter) => {
    if (Object.keys(filter).length === 0) return always;
    const native = compileNative<CurrentRecord>(filter);
    if (native) return native;
    // A RegExp would print as {}: give it its source so that two patterns never share a key.
    const key = JSON.stringify(filter, (_, v: unknown) => (v instanceof RegExp ? { $re: String(v) } : v));
    let test = cache.get(key);
    if (test) {
      cache.delete(key);
    } else {
      const query = new Query<CurrentRecord>(filter as Criteria<CurrentRecord>, {});
      test = (record) => query.test(record);
      // A long document (a chain resolved to many references) is unlikely to come again: not kept.
      if (key.length > MAX_KEY) return test;
      if (cache.size >= size) cache.delete(cache.keys().next().value!);
    }
    cache.set(key, test);
    return test;
  };
}
