import type { CurrentRecord, IndexEntry } from '../store.js';
import type { Dbs } from './dbs.js';
import { currentKey, fitsKey, keySize, longValue, MAX_KEY_BYTES, prefixRange, PREFIX_BYTES, utf8Start, type Key } from './keys.js';
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

/** Ids are FHIR ids: at most 64 characters of [A-Za-z0-9.-], one byte each. */
const MAX_ID_BYTES = 64;
const LONGEST_ID = 'i'.repeat(MAX_ID_BYTES);

/**
 * The key of a term: [...prefix, value, id], or where that would pass LMDB's key limit (a long
 * name, identifier or reference), the value's long form (keys.ts). Only keys that could not be
 * written before take the long form, so a store written by an earlier version holds the same keys.
 */
function keyed(prefix: Key, value: string, id: string): Key {
  const key = [...prefix, value, id];
  return fitsKey(key) ? key : [...prefix, longValue(value), id];
}

export const termKey = (type: string, p: string, field: TermField, value: string, id: string): Key => keyed([type, p, field], value, id);
export const compTermKey = (comp: string, type: string, p: string, field: TermField, value: string, id: string): Key =>
  keyed([comp, type, p, field], value, id);

/**
 * Where the keys under `prefix` holding `value` (or, byPrefix, a value starting with it) lie; the
 * start of an exact range is also its posting's key. `verify`: what the ranges find only may hold
 * the value (a long value's key keeps its start and a hash), so each find is checked on its record.
 */
function lookup(prefix: Key, value: string, byPrefix: boolean): { ranges: Array<{ start: Key; end: Key }>; verify: boolean } {
  if (byPrefix) {
    if (Buffer.byteLength(value) <= PREFIX_BYTES) return { ranges: [{ start: [...prefix, value], end: [...prefix, value + LAST] }], verify: false };
    const start = utf8Start(value, PREFIX_BYTES);
    return { ranges: [{ start: [...prefix, start], end: [...prefix, start + LAST] }], verify: true };
  }
  // Beside any id, the value is in its own key: the common case, decided without counting bytes.
  if (fitsKey([...prefix, value, LONGEST_ID])) return { ranges: [prefixRange(...(prefix as string[]), value)], verify: false };
  const size = keySize([...prefix, value]);
  const ranges: Array<{ start: Key; end: Key }> = [];
  // The shortest id adds two bytes (a separator and a character), the longest 1 + MAX_ID_BYTES.
  if (size + 2 <= MAX_KEY_BYTES) ranges.push(prefixRange(...(prefix as string[]), value));
  if (size + 1 + MAX_ID_BYTES > MAX_KEY_BYTES) ranges.push(prefixRange(...(prefix as string[]), longValue(value)));
  return { ranges, verify: ranges.length > 1 || size + 2 > MAX_KEY_BYTES };
}

/** The value an index entry holds for a term field, if the term index holds it. */
function termValue(entry: IndexEntry, field: TermField): string | undefined {
  if (field === 'sc') return typeof entry.s === 'string' && typeof entry.c === 'string' && entry.c !== '' ? `${entry.s}|${entry.c}` : undefined;
  const value = entry[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

type Term = [p: string, field: TermField, value: string];

/**
 * Types whose terms are not indexed: their searches read ids, compartments, writers or the whole
 * type, and test each record (plan.ts). AuditEvent: one is written for every request and few are
 * ever searched, nearly always within one patient's compartment; its terms were about 60 of the 70
 * keys each event wrote, and most of the access history's cost on a request (bench:journal).
 */
export const SCANNED: ReadonlySet<string> = new Set(['AuditEvent']);

function termsOf(record: CurrentRecord): Term[] {
  if (record.deleted || SCANNED.has(record.type)) return [];
  const terms = new Map<string, Term>();
  for (const entry of record.idx) {
    if (typeof entry.p !== 'string') continue;
    for (const field of FIELDS) {
      const value = termValue(entry, field);
      if (value === undefined) continue;
      const term: Term = [entry.p, field, value];
      terms.set(JSON.stringify(term), term);
    }
  }
  return [...terms.values()];
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

function compTermsOf(record: CurrentRecord | undefined, terms: Term[]): Key[] {
  if (!record || record.deleted || record.comp.length === 0) return [];
  return [...new Set(record.comp)].flatMap((comp) => terms.map(([p, field, value]) => compTermKey(comp, record.type, p, field, value, record.id)));
}

const termKeys = (record: CurrentRecord | undefined, terms: Term[]): Key[] =>
  record ? terms.map(([p, field, value]) => termKey(record.type, p, field, value, record.id)) : [];

/**
 * The term keys of a record written where none was, by a write that reads nothing first (append.ts):
 * each compartment term's posting is set to `false` (read the range) rather than read and extended.
 */
export function newTermWrites(record: CurrentRecord): { terms: Key[]; compTerms: Key[]; postings: Key[] } {
  const terms = termsOf(record);
  const compTerms = compTermsOf(record, terms);
  return { terms: termKeys(record, terms), compTerms, postings: compTerms.filter((key) => hasPostings(key[3] as string)).map((key) => key.slice(0, -1)) };
}

/**
 * Inside a write transaction: the terms of `previous` give way to those of `next`. Only the
 * compartment terms that differ are touched: each one also rewrites a posting (postings.ts).
 */
export function replaceTerms(dbs: Dbs, previous: CurrentRecord | undefined, next: CurrentRecord | undefined): void {
  const before = previous ? termsOf(previous) : [];
  const after = next ? termsOf(next) : [];
  for (const key of termKeys(previous, before)) dbs.terms.removeSync(key);
  for (const key of termKeys(next, after)) dbs.terms.putSync(key, null);
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

/** Whether the current record of type/id carries one value of the pin (a find of a `verify` lookup). */
function holds(dbs: Dbs, type: string, id: string, pin: TermPin, value: string): boolean {
  const record = dbs.current.get(currentKey(type, id));
  return record !== undefined && !record.deleted && carries(record, { ...pin, values: [value] });
}

/** The ids of one type that carry the pin. */
export function idsWithTerm(dbs: Dbs, type: string, pin: TermPin): Set<string> {
  const ids = new Set<string>();
  for (const value of pin.values) {
    const { ranges, verify } = lookup([type, pin.p, pin.field], value, !!pin.prefix);
    for (const range of ranges) {
      for (const key of dbs.terms.getKeys(range)) {
        const id = key[4] as string;
        if (!verify || holds(dbs, type, id, pin, value)) ids.add(id);
      }
    }
  }
  return ids;
}

/** The ids of one type in one of these compartments that carry the pin: from postings where they hold them. */
export function idsWithCompTerm(dbs: Dbs, comps: string[], type: string, pin: TermPin): Set<string> {
  const ids = new Set<string>();
  for (const comp of comps) {
    for (const value of pin.values) {
      const { ranges, verify } = lookup([comp, type, pin.p, pin.field], value, !!pin.prefix);
      const add = (id: string) => {
        if (!verify || holds(dbs, type, id, pin, value)) ids.add(id);
      };
      for (const range of ranges) {
        if (!pin.prefix && hasPostings(pin.field)) {
          const posting = dbs.compPostings.get(range.start);
          if (posting === undefined) continue;
          if (posting) {
            posting.forEach(add);
            continue;
          }
        }
        for (const key of dbs.compTerms.getKeys(range)) add(key[5] as string);
      }
    }
  }
  return ids;
}

/**
 * Set once the term indexes hold every current record in the current layout (3: with strings; 4:
 * with postings; 5: without the SCANNED types).
 */
export const TERMS_BUILT = 'terms-index-built-5';

/**
 * While a build is under way: the key of the last record indexed ([] once the old indexes are
 * cleared). Named by layout, so that a build of an earlier layout left halfway is started over.
 */
export const TERMS_PROGRESS = 'terms-index-progress-5';
const EARLIER_PROGRESS = ['terms-index-progress', 'terms-index-progress-4'];

/**
 * The markers of earlier layouts, removed once this one is built. An earlier version of carnet
 * opening the store afterwards finds none, builds its own indexes and sets its marker, and writes
 * without keeping postings (before 4), or with the terms of the SCANNED types (4): finding such a
 * marker, this version builds again. Building again also drops what layout 4 kept of those types.
 */
export const EARLIER_BUILT = ['terms-index-built', 'terms-index-built-2', 'terms-index-built-3', 'terms-index-built-4'];

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
