import type { CurrentRecord } from '../store.js';
import type { Dbs } from './dbs.js';
import { currentKey, prefixRange } from './keys.js';
import { idsWithCompTerm, idsWithTerm, type TermField } from './terms.js';

/**
 * Where the candidates of one type come from, and which clauses of the filter that source already
 * answers. A field is pinned when every match must hold one of a few known values: equality, $eq
 * or $in of strings, in a clause of the filter's top-level conjunction. A pin only has to give a
 * superset of the matches: the clauses it does not answer exactly stay in the residual filter,
 * which is tested on every candidate.
 */
export type Source =
  | { kind: 'ids'; ids: string[] }
  | { kind: 'comp'; comps: string[]; terms: TermPin[] }
  | { kind: 'term'; term: TermPin }
  | { kind: 'scan' };

export interface TermPin {
  p: string;
  field: TermField;
  values: string[];
}

export interface Plan {
  source: Source;
  /** The filter's conjunction minus the clauses the source answers exactly. */
  residual: Record<string, unknown>;
}

type Clause = Record<string, unknown>;

/**
 * Ids first; then a patient's compartment, narrowed by every exact term within it (the compartment
 * term index: a patient's documents of one type, with one subject); then one term across the type;
 * else a scan.
 */
export function plan(filter: Record<string, unknown>): Plan {
  const clauses = conjunction(filter);
  const answered = new Set<Clause>();
  let source: Source = { kind: 'scan' };
  const ids = firstPin(clauses, 'id');
  const comps = firstPin(clauses, 'comp');
  const terms = clauses.map((c) => [c, termPin(c)] as const).filter((t): t is readonly [Clause, TermPin & { exact: boolean }] => t[1] !== undefined);
  if (ids) {
    source = { kind: 'ids', ids: ids.values };
    answered.add(ids.clause);
  } else if (comps) {
    source = { kind: 'comp', comps: comps.values, terms: terms.map(([, t]) => t) };
    answered.add(comps.clause);
    for (const [clause, t] of terms) if (t.exact) answered.add(clause);
  } else if (terms.length > 0) {
    const [clause, term] = terms[0];
    source = { kind: 'term', term };
    if (term.exact) answered.add(clause);
  }
  return { source, residual: rebuild(clauses.filter((c) => !answered.has(c))) };
}

/** The clauses of a filter's top-level conjunction, each a one-key object, nested $and flattened. */
function conjunction(filter: Record<string, unknown>): Clause[] {
  const out: Clause[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value) && value.every(isObject)) {
      for (const item of value) out.push(...conjunction(item));
    } else {
      out.push({ [key]: value });
    }
  }
  return out;
}

/** One object where the keys differ, the rest under $and: the same conjunction. */
function rebuild(clauses: Clause[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const and: Clause[] = [];
  for (const clause of clauses) {
    const [key] = Object.keys(clause);
    if (key in out) and.push(clause);
    else out[key] = clause[key];
  }
  if (and.length > 0) out.$and = and;
  return out;
}

function firstPin(clauses: Clause[], field: string): { clause: Clause; values: string[] } | undefined {
  for (const clause of clauses) {
    if (!(field in clause)) continue;
    const values = valuesOf(clause[field]);
    if (values) return { clause, values };
  }
  return undefined;
}

/**
 * `idx: { $elemMatch: { p, c|r|u: values } }`, or `{ p, s, c: values }` as system|code: exact when
 * the entry condition has nothing else, since the term index holds exactly those entries.
 */
function termPin(clause: Clause): (TermPin & { exact: boolean }) | undefined {
  const idx = clause.idx;
  if (!isObject(idx) || Object.keys(idx).length !== 1 || !isObject(idx.$elemMatch)) return undefined;
  const match = idx.$elemMatch;
  if (typeof match.p !== 'string') return undefined;
  const keys = Object.keys(match).length;
  const codes = valuesOf(match.c);
  if (typeof match.s === 'string' && codes) {
    return { p: match.p, field: 'sc', values: codes.map((c) => `${match.s}|${c}`), exact: keys === 3 };
  }
  for (const field of ['c', 'r', 'u'] as const) {
    const values = valuesOf(match[field]);
    if (values) return { p: match.p, field, values, exact: keys === 2 };
  }
  return undefined;
}

/** The strings a condition requires one of; never the empty string, which no index holds. */
function valuesOf(condition: unknown): string[] | undefined {
  let values: string[] | undefined;
  if (typeof condition === 'string') values = [condition];
  else if (!isObject(condition) || Object.keys(condition).length !== 1) return undefined;
  else if (typeof condition.$eq === 'string') values = [condition.$eq];
  else if (Array.isArray(condition.$in) && condition.$in.every((v) => typeof v === 'string')) values = [...new Set(condition.$in as string[])];
  return values?.includes('') ? undefined : values;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RegExp);
}

/** The ids a source designates within one type, unordered. */
function idsOf(dbs: Dbs, type: string, source: Exclude<Source, { kind: 'scan' }>): Iterable<string> {
  switch (source.kind) {
    case 'ids':
      return new Set(source.ids);
    case 'term':
      return idsWithTerm(dbs, type, source.term.p, source.term.field, source.term.values);
    case 'comp': {
      if (source.terms.length === 0) {
        const found = new Set<string>();
        for (const comp of source.comps) {
          for (const key of dbs.comp.getKeys(prefixRange(comp, type))) found.add(key[2] as string);
        }
        return found;
      }
      // Every term narrows: the candidates are in the compartment and carry all of them.
      let found: Set<string> | undefined;
      for (const t of source.terms) {
        const next = idsWithCompTerm(dbs, source.comps, type, t.p, t.field, t.values);
        found = found ? new Set([...found].filter((id) => next.has(id))) : next;
        if (found.size === 0) break;
      }
      return found!;
    }
  }
}

/** The current records of one type a source designates, in id order (the engine's tie-break). */
export function* candidates(dbs: Dbs, type: string, source: Source): Generator<CurrentRecord> {
  if (source.kind === 'scan') {
    for (const { value } of dbs.current.getRange(prefixRange(type))) yield value;
    return;
  }
  // Ids are FHIR ids ([A-Za-z0-9.-]): code-unit order is the key order of a scan.
  const ids = [...idsOf(dbs, type, source)].sort(byCodeUnit);
  for (const id of ids) {
    const record = dbs.current.get(currentKey(type, id));
    if (record) yield record;
  }
}

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
