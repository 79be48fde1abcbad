import type { CurrentRecord } from '../store.js';
import type { Dbs } from './dbs.js';
import { currentKey, prefixRange } from './keys.js';
import { idsWithTerm, type TermField } from './terms.js';

/**
 * Where the candidates of one type come from. A field is pinned when every match must hold one of
 * a few known values: equality, $eq or $in of strings, at the top level or inside $and. The full
 * filter is applied to every candidate afterwards, so a pin only has to be a superset.
 */
export type Plan =
  | { kind: 'ids'; ids: string[] }
  | { kind: 'comp'; comps: string[] }
  | { kind: 'term'; p: string; field: TermField; values: string[] }
  | { kind: 'scan' };

/** Ids first, then a patient's compartment, then an exact term (identifier, reference), else a scan. */
export function plan(filter: Record<string, unknown>): Plan {
  const ids = pinned(filter, 'id');
  if (ids) return { kind: 'ids', ids };
  const comps = pinned(filter, 'comp');
  if (comps) return { kind: 'comp', comps };
  const term = pinnedTerm(filter);
  if (term) return { kind: 'term', ...term };
  return { kind: 'scan' };
}

/** `idx: { $elemMatch: { p, c|r|u: value or $in } }` at the top level or inside $and. */
function pinnedTerm(filter: Record<string, unknown>): { p: string; field: TermField; values: string[] } | undefined {
  const idx = filter.idx;
  if (isObject(idx) && isObject(idx.$elemMatch)) {
    const match = idx.$elemMatch;
    if (typeof match.p === 'string') {
      for (const field of ['c', 'r', 'u'] as const) {
        const values = valuesOf(match[field]);
        if (values) return { p: match.p, field, values };
      }
    }
  }
  const and = filter.$and;
  if (!Array.isArray(and)) return undefined;
  for (const clause of and) {
    if (!isObject(clause)) continue;
    const found = pinnedTerm(clause);
    if (found) return found;
  }
  return undefined;
}

function pinned(filter: Record<string, unknown>, field: string): string[] | undefined {
  const direct = valuesOf(filter[field]);
  if (direct) return direct;
  const and = filter.$and;
  if (!Array.isArray(and)) return undefined;
  for (const clause of and) {
    if (!isObject(clause)) continue;
    const values = pinned(clause, field);
    if (values) return values;
  }
  return undefined;
}

function valuesOf(condition: unknown): string[] | undefined {
  if (typeof condition === 'string') return [condition];
  if (!isObject(condition)) return undefined;
  if (typeof condition.$eq === 'string') return [condition.$eq];
  const $in = condition.$in;
  if (Array.isArray($in) && $in.every((v) => typeof v === 'string')) return [...new Set($in as string[])];
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RegExp);
}

/** The current records of one type a plan designates, in id order (the engine's tie-break). */
export function* candidates(dbs: Dbs, type: string, how: Plan): Generator<CurrentRecord> {
  if (how.kind === 'scan') {
    for (const { value } of dbs.current.getRange(prefixRange(type))) yield value;
    return;
  }
  let ids: string[];
  if (how.kind === 'ids') {
    ids = [...new Set(how.ids)];
  } else if (how.kind === 'term') {
    ids = [...idsWithTerm(dbs, type, how.p, how.field, how.values)];
  } else {
    const found = new Set<string>();
    for (const comp of how.comps) {
      for (const key of dbs.comp.getKeys(prefixRange(comp, type))) found.add(key[2] as string);
    }
    ids = [...found];
  }
  // Ids are FHIR ids ([A-Za-z0-9.-]): code-unit order is the key order of a scan.
  ids.sort(byCodeUnit);
  for (const id of ids) {
    const record = dbs.current.get(currentKey(type, id));
    if (record) yield record;
  }
}

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
