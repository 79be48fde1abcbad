import type { CurrentRecord, IndexEntry } from '../store.js';
import type { Dbs } from './dbs.js';
import { prefixRange, type Key } from './keys.js';
import { addToPosting, hasPostings, removeFromPosting } from './postings.js';

/**
 * The term index: [type, parameter, field, value, id] for the exact-match fields of search index
 * entries (token codes `c`, references `r`, uris `u`), so that a search pinned on one of them
 * (an identifier, a subject, a masterIdentifier) reads only the resources that carry it.
 *
 * The compartment term index: the same terms under each patient compartment the resource is in,
 * [compartment, type, parameter, field, value, id], so that a patient-scoped search pinned on a
 * code (`DocumentReference?patient=X&type=Y`) reads only that patient's resources with that code.
 */
/**
 * `sc` is a token's system and code as one value, `system|code`, the common form of a token search;
 * `v` is a string's normalised text, read by prefix (string search is starts-with).
 */
const FIELDS = ['c', 'r', 'u', 'sc', 'v'] as const;
export type TermField = (typeof FIELDS)[number];

/** What a search needs the term index to hold: one of the values, or (prefix) a value starting with one. */
export interface TermPin {
  p: string;
  field: TermField;
  values: string[];
  prefix?: boolean;
}

/** After every string that starts with the prefix: U+10FFFF is the last code point (its UTF-8 lead byte F4 is the highest). */
const LAST = '\u{10FFFF}';
const valueRange = (prefix: Array<string | number>, value: string, byPrefix: boolean): { start: Key; end: Key } =>
  byPrefix ? { start: [...prefix, value], end: [...prefix, value + LAST] } : prefixRange(...prefix, value);

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

/** Whether the term index holds this record under the pin: what a range read of it would say. */
export function carries(record: CurrentRecord, pin: TermPin): boolean {
  for (const entry of record.idx) {
    if (entry.p !== pin.p) continue;
    const value = termValue(entry, pin.field);
    if (value === undefined) continue;
    if (pin.prefix ? pin.values.some((v) => value.startsWith(v)) : pin.values.includes(value)) return true;
  }
  return false;
}

function compTermsOf(record: CurrentRecord | undefined, terms: Key[]): Key[] {
  if (!record || record.deleted || record.comp.length === 0) return [];
  return [...new Set(record.comp)].flatMap((comp) => terms.map((term) => compTermKey(comp, term)));
}

/**
 * Inside a write transaction: the terms of `previous` give way to those of `next`. Only the
 * compartment terms that differ are touched: each one also rewrites a posting (postings.ts).
 */
export function replaceTerms(dbs: Dbs, previous: CurrentRecord | undefined, next: CurrentRecord | undefined): void {
  const before = previous ? termsOf(previous) : [];
  const after = next ? termsOf(next) : [];
  for (const key of before) dbs.terms.removeSync(key);
  for (const key of after) dbs.terms.putSync(key, null);
  const gone = compTermsOf(previous, before);
  let fresh = compTermsOf(next, after);
  if (gone.length > 0) {
    const byText = new Map(fresh.map((key) => [JSON.stringify(key), key]));
    for (const key of gone) {
      if (byText.delete(JSON.stringify(key))) continue;
      dbs.compTerms.removeSync(key);
      removeFromPosting(dbs, key);
    }
    fresh = [...byText.values()];
  }
  for (const key of fresh) {
    dbs.compTerms.putSync(key, null);
    addToPosting(dbs, key);
  }
}

/** The ids of one type that carry the pin. */
export function idsWithTerm(dbs: Dbs, type: string, pin: TermPin): Set<string> {
  const ids = new Set<string>();
  for (const value of pin.values) {
    for (const key of dbs.terms.getKeys(valueRange([type, pin.p, pin.field], value, !!pin.prefix))) ids.add(key[4] as string);
  }
  return ids;
}

/** The ids of one type in one of these compartments that carry the pin: from postings where they hold them. */
export function idsWithCompTerm(dbs: Dbs, comps: string[], type: string, pin: TermPin): Set<string> {
  const ids = new Set<string>();
  for (const comp of comps) {
    for (const value of pin.values) {
      const prefix = [comp, type, pin.p, pin.field];
      if (!pin.prefix && hasPostings(pin.field)) {
        const posting = dbs.compPostings.get([...prefix, value]);
        if (posting === undefined) continue;
        if (posting) {
          for (const id of posting) ids.add(id);
          continue;
        }
      }
      for (const key of dbs.compTerms.getKeys(valueRange(prefix, value, !!pin.prefix))) ids.add(key[5] as string);
    }
  }
  return ids;
}

/** Set once the term indexes hold every current record in the current layout (3: with strings; 4: with postings). */
export const TERMS_BUILT = 'terms-index-built-4';

/**
 * While a build is under way: the key of the last record indexed ([] once the old indexes are
 * cleared). Named by layout, so that a build of an earlier layout left halfway is started over.
 */
export const TERMS_PROGRESS = 'terms-index-progress-4';
const EARLIER_PROGRESS = ['terms-index-progress'];

/**
 * The markers of earlier layouts, removed once this one is built. An earlier version of carnet
 * opening the store afterwards finds none, builds its own indexes and sets its marker, and writes
 * without keeping postings: finding such a marker, this version builds again.
 */
export const EARLIER_BUILT = ['terms-index-built', 'terms-index-built-2', 'terms-index-built-3'];

/**
 * Builds the term indexes of a store written before they existed (once, at open, before the store
 * serves), in transactions of `batch` records: a store of millions of resources is not rebuilt in
 * one transaction holding every page it writes. Each batch records how far it got, so a build
 * that is interrupted (a restart by an orchestrator that found the server slow to start) resumes
 * there rather than starting over. `progress` hears of each batch.
 */
export async function ensureTerms(dbs: Dbs, batch = 10_000, progress?: (indexed: number, total: number) => void): Promise<void> {
  const earlier = EARLIER_BUILT.some((key) => dbs.root.get(key) !== undefined);
  if (dbs.root.get(TERMS_BUILT) && !earlier) return;
  let after = earlier ? undefined : (dbs.root.get(TERMS_PROGRESS) as Key | undefined);
  if (after === undefined) {
    // Rebuilt whole: a store of an earlier layout has some of the terms and not others.
    await dbs.root.childTransaction(() => {
      dbs.terms.clearSync();
      dbs.compTerms.clearSync();
      dbs.compPostings.clearSync();
      for (const key of [...EARLIER_PROGRESS, ...EARLIER_BUILT, TERMS_BUILT]) dbs.root.removeSync(key);
      dbs.root.putSync(TERMS_PROGRESS, []);
    });
    after = [];
  }
  const total = dbs.current.getCount();
  let indexed = after.length === 0 ? 0 : dbs.current.getCount({ end: after, inclusiveEnd: true });
  for (let done = false; !done; ) {
    await dbs.root.childTransaction(() => {
      let n = 0;
      const range = after!.length > 0 ? { start: after, exclusiveStart: true, limit: batch } : { limit: batch };
      for (const { key, value } of dbs.current.getRange(range)) {
        replaceTerms(dbs, undefined, value);
        after = key;
        n++;
      }
      dbs.root.putSync(TERMS_PROGRESS, after);
      indexed += n;
      done = n < batch;
    });
    progress?.(indexed, total);
  }
  await dbs.root.childTransaction(() => {
    dbs.root.putSync(TERMS_BUILT, true);
    dbs.root.removeSync(TERMS_PROGRESS);
  });
}
