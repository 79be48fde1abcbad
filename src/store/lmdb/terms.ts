import type { CurrentRecord } from '../store.js';
import type { Dbs } from './dbs.js';
import { prefixRange, type Key } from './keys.js';

/**
 * The term index: [type, parameter, field, value, id] for the exact-match fields of search index
 * entries (token codes `c`, references `r`, uris `u`), so that a search pinned on one of them
 * (an identifier, a subject, a masterIdentifier) reads only the resources that carry it.
 */
const FIELDS = ['c', 'r', 'u'] as const;
export type TermField = (typeof FIELDS)[number];

export const termKey = (type: string, p: string, field: TermField, value: string, id: string): Key => [type, p, field, value, id];

function termsOf(record: CurrentRecord): Key[] {
  if (record.deleted) return [];
  const keys = new Map<string, Key>();
  for (const entry of record.idx) {
    if (typeof entry.p !== 'string') continue;
    for (const field of FIELDS) {
      const value = entry[field];
      if (typeof value !== 'string' || value === '') continue;
      const key = termKey(record.type, entry.p, field, value, record.id);
      keys.set(JSON.stringify(key), key);
    }
  }
  return [...keys.values()];
}

/** Inside a write transaction: the terms of `previous` give way to those of `next`. */
export function replaceTerms(dbs: Dbs, previous: CurrentRecord | undefined, next: CurrentRecord | undefined): void {
  if (previous) for (const key of termsOf(previous)) dbs.terms.removeSync(key);
  if (next) for (const key of termsOf(next)) dbs.terms.putSync(key, null);
}

/** The ids of one type carrying one of these values in a parameter's field, in key order. */
export function idsWithTerm(dbs: Dbs, type: string, p: string, field: TermField, values: string[]): Set<string> {
  const ids = new Set<string>();
  for (const value of values) {
    for (const key of dbs.terms.getKeys(prefixRange(type, p, field, value))) ids.add(key[4] as string);
  }
  return ids;
}

const BUILT = 'terms-index-built';

/** Builds the term index of a store written before it existed (once, at open). */
export async function ensureTerms(dbs: Dbs): Promise<void> {
  if (dbs.root.get(BUILT)) return;
  await dbs.root.childTransaction(() => {
    for (const { value } of dbs.current.getRange({})) replaceTerms(dbs, undefined, value);
    dbs.root.putSync(BUILT, true);
  });
}
