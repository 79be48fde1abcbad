import type { Dbs } from './dbs.js';
import type { Key } from './keys.js';

/**
 * Compartment postings: [compartment, type, parameter, field, value] -> the ids holding that code
 * in that compartment, sorted, while there are at most POSTING_LIMIT of them; past it, `false`,
 * and the compartment term index's range is read instead (a patient's ten thousand heart rates
 * must not rewrite a list of ten thousand ids at each new one). A search pinned on a patient and a
 * code (`DocumentReference?patient=X&type=Y`) then costs one key read, not a range read: in a
 * server, a range read of lmdb-js costs ~10 µs more than a key read and makes the objects of the
 * search outlive the next young-generation GC (measured: ~480 KB promoted per scavenge, ~110 KB
 * without). Written in the same transactions as the compartment term index, so they never differ.
 * The price is on writes (measured on the bench stores: loading 12 % slower at the store,
 * 100-resource transactions over HTTP 5 % slower); the search gains 10 to 20 %.
 */
export const POSTING_LIMIT = 64;

/**
 * Codes with their system only (`system|code`, how clients and IHE MHD name a document type or an
 * observation code), so that a write pays for few postings: a code alone, a reference (within a
 * patient's compartment mostly to the patient, a list past the limit at once) or a uri is read
 * from the range.
 */
const FIELDS = new Set(['sc']);

/** Whether postings hold the terms of this field (position 3 of a compartment term key). */
export const hasPostings = (field: string): boolean => FIELDS.has(field);

/** The ids of a compartment code, or `false` when the range must be read; no entry: none. */
export type Posting = string[] | false;

/** A compartment term key ([..., value, id]) as its posting's key and the id. */
function split(compTermKey: Key): [Key, string] {
  return [compTermKey.slice(0, -1), compTermKey[compTermKey.length - 1] as string];
}

/** Where `id` goes in a list sorted by code unit (the order of ids in index keys). */
function place(ids: string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inside a write transaction. */
export function addToPosting(dbs: Dbs, compTermKey: Key): void {
  if (!hasPostings(compTermKey[3] as string)) return;
  const [key, id] = split(compTermKey);
  const posting = dbs.compPostings.get(key);
  if (posting === false) return;
  const ids = posting ?? [];
  const at = place(ids, id);
  if (ids[at] === id) return;
  dbs.compPostings.putSync(key, ids.length >= POSTING_LIMIT ? false : [...ids.slice(0, at), id, ...ids.slice(at)]);
}

/** Inside a write transaction. A posting past the limit stays `false`: the range stays the answer. */
export function removeFromPosting(dbs: Dbs, compTermKey: Key): void {
  if (!hasPostings(compTermKey[3] as string)) return;
  const [key, id] = split(compTermKey);
  const posting = dbs.compPostings.get(key);
  if (!posting) return;
  const ids = posting.filter((x) => x !== id);
  if (ids.length === posting.length) return;
  if (ids.length === 0) dbs.compPostings.removeSync(key);
  else dbs.compPostings.putSync(key, ids);
}
