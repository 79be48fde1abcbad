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
  const cache = new Map<string, { key: string; test: RecordTest }>();
  let newest: string | undefined;
  return (filter) => {
    if (Object.keys(filter).length === 0) return always;
    const key = keyOf(filter);
    const hit = cache.get(key);
    if (hit) {
      // Moved to the back (most recently used) under the stored key, not this search's copy of it,
      // and only when it is not there already: the long-lived map then never points at an object
      // of this search, which the next young-generation GC would have to keep (a delete and set on
      // a map of one entry also reallocates its table each time).
      if (hit.key !== newest) {
        cache.delete(key);
        cache.set(hit.key, hit);
        newest = hit.key;
      }
      return hit.test;
    }
    const test = compileNative<CurrentRecord>(filter) ?? mingoTest(filter);
    // A long document (a chain resolved to many references) is unlikely to come again: not kept.
    if (key.length > MAX_KEY) return test;
    if (cache.size >= size) cache.delete(cache.keys().next().value!);
    cache.set(key, { key, test });
    newest = key;
    return test;
  };
}

/**
 * The filter as JSON. A RegExp would print as {}: when `{}` shows, the filter is printed again
 * with each RegExp as its source, so two patterns never share a key. (A replacer function takes
 * JSON.stringify off its fast path: several microseconds per search.)
 */
function keyOf(filter: Record<string, unknown>): string {
  const plain = JSON.stringify(filter);
  if (!plain.includes('{}')) return plain;
  return JSON.stringify(filter, (_, v: unknown) => (v instanceof RegExp ? { $re: String(v) } : v));
}
