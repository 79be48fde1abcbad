import { Query } from 'mingo';
import type { Criteria } from 'mingo/types';
import type { CurrentRecord } from '../store.js';
import { compileNative } from './native-filter.js';

export type RecordTest = (record: CurrentRecord) => boolean;

const always: RecordTest = () => true;
const MAX_KEY = 4096;

function mingoTest(filter: Record<string, unknown>): RecordTest {
  const query = new Query<CurrentRecord>(filter as Criteria<CurrentRecord>, {});
  return (record) => query.test(record);
}

/**
 * Compiled filters, kept by their query document: closures for the common subset
 * (native-filter.ts), mingo otherwise. Compiling costs about 10 µs per nested mingo query (each
 * $elemMatch is one) and a few hundred bytes of closures per native one, more than testing a
 * patient's candidates; the residual filters of a given kind of search (what the indexes leave,
 * e.g. a date range) repeat across patients, so most searches find theirs here.
 */
export function filterCache(size = 1000): (filter: Record<string, unknown>) => RecordTest {
  const cache = new Map<string, RecordTest>();
  return (filter) => {
    if (Object.keys(filter).length === 0) return always;
    // A RegExp would print as {}: give it its source so that two patterns never share a key.
    const key = JSON.stringify(filter, (_, v: unknown) => (v instanceof RegExp ? { $re: String(v) } : v));
    let test = cache.get(key);
    if (test) {
      cache.delete(key);
    } else {
      test = compileNative<CurrentRecord>(filter) ?? mingoTest(filter);
      // A long document (a chain resolved to many references) is unlikely to come again: not kept.
      if (key.length > MAX_KEY) return test;
      if (cache.size >= size) cache.delete(cache.keys().next().value!);
    }
    cache.set(key, test);
    return test;
  };
}
