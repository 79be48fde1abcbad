import type { Transaction } from 'lmdb';
import type { CurrentRecord } from '../store.js';
import type { Dbs } from './dbs.js';
import { completed } from './derived.js';
import { currentKey, prefixRange } from './keys.js';
import { idsWithCompTerm, idsWithTerm, type TermField, type TermPin } from './terms.js';

/**
 * Where the candidates of one type come from, and which clauses of the filter the indexes answer.
 * A field is pinned when every match must hold one of a few known values: equality, $eq or $in of
 * strings, in a clause of the filter's top-level conjunction. The source only has to give a
 * superset of the matches. An exact term clause (an index entry condition that is nothing but a
 * term) is answered by the term index: by the source's range read, or by checking the candidate
 * against the index's own definition (`carries`). Everything else stays in the residual filter,
 * which mingo tests on every candidate; with the per-patient parts gone, it is the same document
 * for the same kind of search, and compiled once (filters.ts).
 */
export type Source =
  | { kind: 'ids'; ids: string[] }
  | { kind: 'comp'; comps: string[]; term?: TermPin }
  /** What a user may reach: some patients' compartments (through the term, when pinned) and what some writers wrote. */
  | { kind: 'reach'; comps: string[]; writers: string[]; term?: TermPin }
  | { kind: 'term'; term: TermPin }
  | { kind: 'union'; terms: TermPin[] }
  | { kind: 'scan' };

export interface Plan {
  source: Source;
  /**
   * Where a keyset page starts, from a top-level `{ id: { $gt: i } }`, or
   * `{ $or: [{ type: { $gt: t } }, { type: t, id: { $gt: i } }] }` across types: the types before t,
   * and the ids of t (of every type, without t) not above i, are skipped before any record is
   * read. The clause stays in the residual: this only spares reads.
   */
  after?: { type?: string; id: string };
  /** Exact terms the source does not read: each candidate must carry them. */
  checks: TermPin[];
  /** The filter's conjunction minus the clauses answered by the indexes. */
  residual: Record<string, unknown>;
}

type Clause = Record<string, unknown>;
type FoundTerm = { clause: Clause; term: TermPin; exact: boolean };

/**
 * Ids first; then a patient's compartment, read through the compartment term index when a term is
 * pinned (a code before a reference: within a patient's compartment, references mostly point at
 * the patient); then the first pinned term across the type; then an alternative whose every
 * branch pins a term, as the union of their ranges; else a scan. For a type whose terms are not
 * indexed (`indexed` false), no term is read: ids, compartments and writers, else a scan.
 */
export function plan(filter: Record<string, unknown>, indexed = true): Plan {
  const clauses = conjunction(filter);
  const answered = new Set<Clause>();
  const terms: FoundTerm[] = clauses.flatMap((clause) => termPin(clause) ?? []);
  const ids = firstPin(clauses, 'id');
  const comps = firstPin(clauses, 'comp');
  let read: FoundTerm | undefined;
  let source: Source = { kind: 'scan' };
  if (ids) {
    source = { kind: 'ids', ids: ids.values };
    answered.add(ids.clause);
  } else if (comps) {
    read = indexed ? [...terms].sort((a, b) => FIELD_ORDER.indexOf(a.term.field) - FIELD_ORDER.indexOf(b.term.field))[0] : undefined;
    source = { kind: 'comp', comps: comps.values, ...(read ? { term: read.term } : {}) };
    answered.add(comps.clause);
  } else if (firstPin(clauses, 'by')) {
    // What given users wrote (written-by): read from the writers' keys beside the compartments.
    source = { kind: 'reach', comps: [], writers: firstPin(clauses, 'by')!.values };
  } else if (reachOf(clauses)) {
    // An access clause across patients (a professional's search): their patients and their own
    // writings are far fewer than a type-wide term. The term narrows the compartment reads only,
    // so every candidate is still checked for it.
    const reach = reachOf(clauses)!;
    const term = indexed ? [...terms].sort((a, b) => FIELD_ORDER.indexOf(a.term.field) - FIELD_ORDER.indexOf(b.term.field))[0] : undefined;
    source = { kind: 'reach', ...reach, ...(term ? { term: term.term } : {}) };
  } else if (!indexed) {
    // A type whose terms are not indexed (terms.ts, SCANNED): its exact terms are checked on each record.
  } else if (terms.length > 0) {
    read = terms[0];
    source = { kind: 'term', term: read.term };
  } else {
    // E.g. a chain that also reaches contained resources: the targets' references, or the contained terms.
    const union = clauses.map(unionOf).find((u) => u !== undefined);
    if (union) source = { kind: 'union', terms: union };
  }
  const checks: TermPin[] = [];
  for (const found of terms) {
    if (!found.exact) continue;
    answered.add(found.clause);
    if (found !== read) checks.push(found.term);
  }
  const after = clauses.map(positionOf).find((v) => v !== undefined);
  let residual = rebuild(clauses.filter((c) => !answered.has(c)));
  if (source.kind === 'comp' && source.comps.length === 1) residual = withoutComp(residual, source.comps[0]!);
  return { source, checks, residual, ...(after ? { after } : {}) };
}

/** A condition every candidate meets, taken out of the filter. */
const HOLDS = Symbol('holds');

/**
 * The filter for candidates that all lie in compartment `comp` (a source that reads that one
 * compartment): each `{ comp }` it still holds, where the filter asserts it (the top level, an $and,
 * a branch of an $or), holds for every candidate and is taken out; an $or with a branch that then
 * always holds is taken out whole. A professional's access clause names the patient of the request
 * in such a branch (`{ $or: [{ by: me }, { $and: [{ comp: X }, ...] }] }`): without it, the residual
 * is the same document whichever patient the search is about, and is compiled once (filters.ts).
 * Negations ($nor, $not) and index entries ($elemMatch) are left as they are.
 */
function withoutComp(filter: Record<string, unknown>, comp: string): Record<string, unknown> {
  const out = holding(filter, comp);
  return out === HOLDS ? {} : out;
}

function holding(doc: Record<string, unknown>, comp: string): Record<string, unknown> | typeof HOLDS {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'comp' && value === comp) continue;
    if ((key === '$and' || key === '$or') && Array.isArray(value) && value.length > 0 && value.every(isObject)) {
      const parts = value.map((v) => holding(v, comp));
      if (key === '$or' && parts.includes(HOLDS)) continue;
      const left = parts.filter((p): p is Record<string, unknown> => p !== HOLDS);
      if (left.length === 0) continue;
      out[key] = left;
      continue;
    }
    out[key] = value;
  }
  return Object.keys(out).length === 0 ? HOLDS : out;
}

/** `x` of `{ field: { $gt: x } }` (a string), alone in its clause. */
function above(clause: unknown, field: string): string | undefined {
  if (!isObject(clause) || Object.keys(clause).length !== 1) return undefined;
  const cond = clause[field];
  return isObject(cond) && Object.keys(cond).length === 1 && typeof cond.$gt === 'string' ? cond.$gt : undefined;
}

function positionOf(clause: Clause): Plan['after'] {
  const id = above(clause, 'id');
  if (id !== undefined) return { id };
  const branches = clause.$or;
  if (Object.keys(clause).length !== 1 || !Array.isArray(branches) || branches.length !== 2) return undefined;
  const type = above(branches[0], 'type');
  const rest = isObject(branches[1]) ? conjunction(branches[1]) : [];
  const sameType = rest.find((c) => typeof c.type === 'string')?.type;
  const afterId = rest.map((c) => above(c, 'id')).find((v) => v !== undefined);
  return type !== undefined && rest.length === 2 && sameType === type && afterId !== undefined ? { type, id: afterId } : undefined;
}

const FIELD_ORDER: TermField[] = ['sc', 'c', 'u', 'r', 'v'];

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
function termPin(clause: Clause): FoundTerm | undefined {
  const idx = clause.idx;
  if (!isObject(idx) || Object.keys(idx).length !== 1 || !isObject(idx.$elemMatch)) return undefined;
  const match = idx.$elemMatch;
  if (typeof match.p !== 'string') return undefined;
  const keys = Object.keys(match).length;
  const codes = valuesOf(match.c);
  if (typeof match.s === 'string' && codes) {
    return { clause, term: { p: match.p, field: 'sc', values: codes.map((c) => `${match.s}|${c}`) }, exact: keys === 3 };
  }
  for (const field of ['c', 'r', 'u'] as const) {
    const values = valuesOf(match[field]);
    if (values) return { clause, term: { p: match.p, field, values }, exact: keys === 2 };
  }
  const prefix = regexPrefix(match.v);
  if (prefix) return { clause, term: { p: match.p, field: 'v', values: [prefix], prefix: true }, exact: keys === 2 };
  return undefined;
}

/** `{ $regex: '^text' }` where text is plain (metacharacters escaped): the text; undefined otherwise. */
function regexPrefix(condition: unknown): string | undefined {
  if (!isObject(condition) || Object.keys(condition).length !== 1 || typeof condition.$regex !== 'string') return undefined;
  const pattern = condition.$regex;
  if (!pattern.startsWith('^')) return undefined;
  let text = '';
  for (let i = 1; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const next = pattern[++i];
      // An escaped metacharacter stands for itself; \d, \w and the like do not.
      if (next === undefined || !/[\\^$.*+?()[\]{}|/]/.test(next)) return undefined;
      text += next;
    } else if (/[\\^$.*+?()[\]{}|/]/.test(ch)) {
      return undefined;
    } else {
      text += ch;
    }
  }
  return text === '' ? undefined : text;
}

/** Writers are kept in the compartment index under this prefix (commit.ts): `by:Practitioner/1`. */
export const WRITER_PREFIX = 'by:';

/**
 * A top-level `{ $or: [...] }` whose every branch pins `comp` or `by` in its own conjunction: the
 * compartments and writers it reaches. Any other branch (a Patient's own id, say) and it is none.
 */
function reachOf(clauses: Clause[]): { comps: string[]; writers: string[] } | undefined {
  for (const clause of clauses) {
    const branches = clause.$or;
    if (Object.keys(clause).length !== 1 || !Array.isArray(branches) || branches.length === 0 || !branches.every(isObject)) continue;
    const comps = new Set<string>();
    const writers = new Set<string>();
    let all = true;
    for (const branch of branches) {
      const parts = conjunction(branch);
      const comp = firstPin(parts, 'comp');
      const by = comp ? undefined : firstPin(parts, 'by');
      if (comp) comp.values.forEach((v) => comps.add(v));
      else if (by) by.values.forEach((v) => writers.add(v));
      else all = false;
    }
    if (all) return { comps: [...comps], writers: [...writers] };
  }
  return undefined;
}

/** `{ $or: [...] }` whose every branch holds a term pin (or is such an $or itself): each branch's first term. */
function unionOf(clause: Clause): TermPin[] | undefined {
  const branches = clause.$or;
  if (Object.keys(clause).length !== 1 || !Array.isArray(branches) || branches.length === 0 || !branches.every(isObject)) return undefined;
  const pins: TermPin[] = [];
  for (const branch of branches) {
    const parts = conjunction(branch);
    const term = parts.map(termPin).find((t) => t !== undefined)?.term;
    const nested = term ? undefined : parts.map(unionOf).find((u) => u !== undefined);
    if (!term && !nested) return undefined;
    pins.push(...(term ? [term] : nested!));
  }
  return pins;
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
      return idsWithTerm(dbs, type, source.term);
    case 'union': {
      const found = new Set<string>();
      for (const t of source.terms) for (const id of idsWithTerm(dbs, type, t)) found.add(id);
      return found;
    }
    case 'comp': {
      const { comps, term } = source;
      if (term) return idsWithCompTerm(dbs, comps, type, term);
      return inComps(dbs, comps, type, new Set());
    }
    case 'reach': {
      const { comps, writers, term } = source;
      const found = term ? new Set(idsWithCompTerm(dbs, comps, type, term)) : inComps(dbs, comps, type, new Set());
      return inComps(dbs, writers.map((w) => WRITER_PREFIX + w), type, found);
    }
  }
}

function inComps(dbs: Dbs, comps: string[], type: string, found: Set<string>): Set<string> {
  for (const comp of comps) {
    for (const key of dbs.comp.getKeys(prefixRange(comp, type))) found.add(key[2] as string);
  }
  return found;
}

/**
 * The next candidate record, or undefined at the end; `close` releases what a search that stops
 * before the end leaves open (a scan's cursor holds its read transaction, and with it one of LMDB's
 * reader slots, until closed: abandoned ones filled the 126 slots of the default, and reads
 * answered MDB_READERS_FULL under load).
 */
export type Candidates = (() => CurrentRecord | undefined) & { close?: () => void };

/**
 * The current records of one type a source designates, in id order (the engine's tie-break), one
 * at a time. A pull function rather than a generator: a search wrapped generators around
 * generators here, and in a server that made the objects of a search outlive the next
 * young-generation GC (measured: ~630 KB promoted per scavenge with them, ~480 without).
 * The ids are read from the indexes at once; the records as they are pulled, through `txn` when
 * given: a search that pauses between records reads them all from the snapshot it started on.
 */
export function candidates(dbs: Dbs, type: string, source: Source, txn?: Transaction, idsAfter?: string | null): Candidates {
  if (idsAfter === null) return () => undefined;
  const options = txn ? { transaction: txn } : undefined;
  if (source.kind === 'scan') {
    let range: Iterator<{ value: CurrentRecord }> | undefined;
    const { start, end } = prefixRange(type);
    let ended = false;
    const pull: Candidates = () => {
      if (ended) return undefined;
      range ??= dbs.current.getRange({ start: idsAfter !== undefined ? currentKey(type, idsAfter) : start, end, ...options })[Symbol.iterator]();
      let next = range.next();
      // The range starts at the key of `idsAfter` itself, which the page is after.
      if (!next.done && next.value.value.id === idsAfter) next = range.next();
      if (next.done) ended = true;
      return next.done ? undefined : completed(dbs, next.value.value);
    };
    pull.close = () => {
      if (!ended && range) range.return?.();
      ended = true;
    };
    return pull;
  }
  // Ids are FHIR ids ([A-Za-z0-9.-]): code-unit order is the key order of a scan.
  const ids = [...idsOf(dbs, type, source)].sort(byCodeUnit);
  let i = idsAfter === undefined ? 0 : firstAbove(ids, idsAfter);
  return () => {
    while (i < ids.length) {
      const record = dbs.current.get(currentKey(type, ids[i++]), options);
      if (record) return completed(dbs, record);
    }
    return undefined;
  };
}

/** The ids a page position leaves of a type: null for none (a type before the position's), those above an id, or all (undefined). */
export function idsAfterIn(type: string, after: Plan['after']): string | null | undefined {
  if (!after) return undefined;
  if (after.type === undefined || after.type === type) return after.id;
  return type < after.type ? null : undefined;
}

/** The index of the first of the sorted ids above `after`. */
function firstAbove(ids: string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
