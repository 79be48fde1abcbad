import type { CurrentRecord, IndexEntry } from '../store.js';
import type { Dbs } from './dbs.js';
import { prefixRange, type Key } from './keys.js';

/**
 * The term index: [type, parameter, field, value, id] for the exact-match fields of search index
 * entries (token codes `c`, references `r`, uris `u`), so that a search pinned on one of them
 * (an identifier, a subject, a masterIdentifier) reads only the resources that carry it.
 *
 * The compartment term index: the same terms under each patient compartment the resource is in,
 * [compartment, type, parameter, field, value, id], so that a patient-scoped search pinned on a
 * code (`DocumentReference?patient=X&type=Y`) reads only that patient's resources with that code.
 */
/** `sc` is a token's system and code as one value, `system|code`, the common form of a token search. */
const FIELDS = ['c', 'r', 'u', 'sc'] as const;
export type TermField = (typeof FIELDS)[number];

export const termKey = (type: string, p: string, field: TermField, value: string, id: string): Key => [type, p, field, value, id];
export const compTermKey = (comp: string, term: Key): Key => [comp, ...term];

/** The value an index entry holds for a term field, if the term index holds it. */
function termValue(entry: IndexEntry, field: TermField): string | undefined {
  if (field === 'sc') return typeof entry.s === 'string' && typeof entry.c === 'string' && entry.c !== '' ? `${entry.s}|${entry.c}` : undefined;
  const value = entry[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function termsOf(record: CurrentRecord): Key[] {
  if (record.deleted) return [];
  const keys = new Map<string, Key>();
  for (const entry of record.idx) {
    if (typeof entry.p !== 'string') continue;
    for (const field of FIELDS) {
      const value = termValue(entry, field);
      if (value === undefined) continue;
      const key = termKey(record.type, entry.p, field, value, record.id);
      keys.set(JSON.stringify(key), key);
    }
  }
  return [...keys.values()];
}

/** Whether the term index holds this record under the parameter with one of the values: what a range read of it would say. */
export function carries(record: CurrentRecord, p: string, field: TermField, values: string[]): boolean {
  for (const entry of record.idx) {
    if (entry.p !== p) continue;
    const value = termValue(entry, field);
    if (value !== undefined && values.includes(value)) return true;
  }
  return false;
}

function compTermsOf(record: CurrentRecord, terms: Key[]): Key[] {
  if (record.deleted || record.comp.length === 0) return [];
  return [...new Set(record.comp)].flatMap((comp) => terms.map((term) => compTermKey(comp, term)));
}

/** Inside a write transaction: the terms of `previous` give way to those of `next`. */
export function replaceTerms(dbs: Dbs, previous: CurrentRecord | undefined, next: CurrentRecord | undefined): void {
  if (previous) {
    const terms = termsOf(previous);
    for (const key of terms) dbs.terms.removeSync(key);
    for (const key of compTermsOf(previous, terms)) dbs.compTerms.removeSync(key);
  }
  if (next) {
    const terms = termsOf(next);
    for (const key of terms) dbs.terms.putSync(key, null);
    for (const key of compTermsOf(next, terms)) dbs.compTerms.putSync(key, null);
  }
}

/** The ids of one type carrying one of these values in a parameter's field, in key order. */
export function idsWithTerm(dbs: Dbs, type: string, p: string, field: TermField, values: string[]): Set<string> {
  const ids = new Set<string>();
  for (const value of values) {
    for (const key of dbs.terms.getKeys(prefixRange(type, p, field, value))) ids.add(key[4] as string);
  }
  return ids;
}

/** The ids of one type in one of these compartments carrying one of these values, in key order of each. */
export function idsWithCompTerm(dbs: Dbs, comps: string[], type: string, p: string, field: TermField, values: string[]): Set<string> {
  const ids = new Set<string>();
  for (const comp of comps) {
    for (const value of values) {
      for (const key of dbs.compTerms.getKeys(prefixRange(comp, type, p, field, value))) ids.add(key[5] as string);
    }
  }
  return ids;
}

/** Set once both term indexes hold every current record (the compartment one came second). */
const BUILT = 'terms-index-built-2';

/**
 * Builds the term indexes of a store written before they existed (once, at open), in
 * transactions of `batch` records: a store of millions of resources is not rebuilt in one
 * transaction holding every page it writes. Interrupted, it starts over at the next open.
 */
export async function ensureTerms(dbs: Dbs, batch = 10_000): Promise<void> {
  if (dbs.root.get(BUILT)) return;
  // Rebuilt whole: a store of the first layout has the type terms and not the compartment ones.
  await dbs.root.childTransaction(() => {
    dbs.terms.clearSync();
    dbs.compTerms.clearSync();
  });
  let after: Key | undefined;
  for (let done = false; !done; ) {
    await dbs.root.childTransaction(() => {
      let n = 0;
      const range = after ? { start: after, exclusiveStart: true, limit: batch } : { limit: batch };
      for (const { key, value } of dbs.current.getRange(range)) {
        replaceTerms(dbs, undefined, value);
        after = key;
        n++;
      }
      done = n < batch;
    });
  }
  await dbs.root.childTransaction(() => {
    dbs.root.putSync(BUILT, true);
  });
}
