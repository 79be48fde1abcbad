import type { Issue } from '../errors.js';
import { PATIENT_REFERENCE } from '../fhir/resource-types.js';
import type { SortKey, StoreQuery } from '../store/store.js';
import { RECORD_FIELD_PARAMS, WRITTEN_BY } from './record-fields.js';
import type { ParsedParam, ParsedSearch } from './parse.js';
import type { ResultParams, Total } from './result-params.js';
import type { Clause, CompileContext } from './types/common.js';
import { plainField } from './types/common.js';
import { compile as compileComposite } from './types/composite.js';
import { rangeClause, type DateValue } from './types/date.js';
import { SIMPLE_TYPES } from './types/index.js';
import { isTypeModifier, type ReferenceValue } from './types/reference.js';

export type Filter = Record<string, unknown>;

/**
 * A query the executor runs before the search (chaining, _has); the clause `{ $sub: n }` in the
 * filter stands for its result (see execute.ts):
 * - 'chain': the matches' `Type/id` become `{ idx: { $elemMatch: { p: code, r: { $in: [...] } } } }`;
 * - 'has': the matches' `code` references to `type` become `{ id: { $in: [...] } }`.
 * A sub-query's own filter may hold placeholders of later sub-queries (several levels).
 */
export interface SubQuery {
  kind: 'chain' | 'has';
  types: string[];
  filter: Filter;
  code: string;
  /** For 'has': the type referred to (the searched type). */
  type?: string;
}

/** The result parameters as parsed, except _sort, which becomes store sort keys. */
export interface CompiledSearch extends Omit<ResultParams, 'sort'> {
  types: string[];
  filter: Filter;
  sort: SortKey[];
  warnings: Issue[];
  /** Sub-queries for chained and _has parameters, by placeholder number. Empty for a plain search. */
  subqueries: SubQuery[];
  /** Ready for Store.search() when `subqueries` is empty; otherwise run executeSearch(). */
  query: StoreQuery;
}

export interface CompileOptions {
  /** Extra clauses ANDed with the search (the access decision). */
  and?: Filter[];
  /** Epoch ms for `ap` on dates (default: Date.now()). */
  now?: number;
}

/** ANDs clauses into a filter structurally: `{}` stays the identity, nested `$and`s are flattened. */
export function andFilters(...filters: Filter[]): Filter {
  const members: Filter[] = [];
  for (const f of filters) {
    const keys = Object.keys(f);
    if (keys.length === 0) continue;
    if (keys.length === 1 && Array.isArray(f.$and)) members.push(...(f.$and as Filter[]));
    else members.push(f);
  }
  if (members.length === 0) return {};
  return members.length === 1 ? members[0] : { $and: members };
}

/** The same search with more clauses ANDed (for a caller that gets a compiled search). */
export function withClauses(compiled: CompiledSearch, clauses: Filter[]): CompiledSearch {
  const filter = andFilters(compiled.filter, ...clauses);
  return { ...compiled, filter, query: { ...compiled.query, filter } };
}

export function compileSearch(parsed: ParsedSearch, opts: CompileOptions = {}): CompiledSearch {
  const ctx: CompileContext = { field: plainField, now: opts.now ?? Date.now() };
  const subqueries: SubQuery[] = [];
  const clauses = parsed.params.map((p) => compileParam(p, ctx, subqueries));
  const filter = andFilters(...clauses, ...(opts.and ?? []));
  const sort = parsed.sort.map(({ code, descending }): SortKey => {
    const field = RECORD_FIELD_PARAMS[code];
    if (field) return [field, descending ? -1 : 1];
    return descending ? [`srt.-${code}`, -1] : [`srt.${code}`, 1];
  });
  const count = parsed.summary === 'count' ? 0 : parsed.count;
  const total: Total = parsed.summary === 'count' ? 'accurate' : parsed.total;
  const types = [parsed.type];
  return {
    types,
    filter,
    sort,
    count,
    ...(parsed.offset !== undefined ? { offset: parsed.offset } : {}),
    total,
    ...(parsed.summary ? { summary: parsed.summary } : {}),
    ...(parsed.elements ? { elements: parsed.elements } : {}),
    include: parsed.include,
    revinclude: parsed.revinclude,
    warnings: parsed.warnings,
    subqueries,
    query: { types, filter, sort, offset: parsed.offset ?? 0, limit: count, count: total !== 'none' },
  };
}

/** The record-level clause of one parameter occurrence. */
export function compileParam(p: ParsedParam, ctx: CompileContext, subqueries: SubQuery[]): Filter {
  switch (p.kind) {
    case 'missing': {
      // Every record has an id and a lastUpdated.
      const field = RECORD_FIELD_PARAMS[p.def.code];
      if (field) return { [field]: { $exists: !p.missing } };
      const has = { idx: { $elemMatch: { p: p.def.code } } };
      return p.missing ? { $nor: [has] } : has;
    }
    case 'chain': {
      const n = subqueries.length;
      subqueries.push({ kind: 'chain', types: p.targetTypes, filter: {}, code: p.def.code });
      subqueries[n].filter = compileParam(p.inner, ctx, subqueries);
      const inContained = containedChain(p, subqueries[n].filter);
      return inContained ? { $or: [{ $sub: n }, inContained] } : { $sub: n };
    }
    case 'has': {
      const n = subqueries.length;
      subqueries.push({ kind: 'has', types: [p.type], filter: {}, code: p.code, type: p.referredType });
      subqueries[n].filter = compileParam(p.inner, ctx, subqueries);
      return { $sub: n };
    }
    case 'value':
      return compileValues(p, ctx);
  }
}

function compileValues(p: Extract<ParsedParam, { kind: 'value' }>, ctx: CompileContext): Filter {
  const { def, modifier } = p;
  const field = RECORD_FIELD_PARAMS[def.code];
  let group: Filter;
  if (def.code === WRITTEN_BY) {
    return { by: oneOf(writersOf(p.values as ReferenceValue[])) };
  } else if (field === 'id') {
    const ids = p.values.map((v) => (v as { code: string }).code);
    return modifier === 'not' ? { id: { $nin: ids } } : { id: ids.length === 1 ? ids[0] : { $in: ids } };
  } else if (field === 'lastUpdated') {
    const iso = (ms: number) => new Date(Math.max(-62167219200000, Math.min(ms, 253402300799999))).toISOString();
    group = or(
      p.values.map((v) => {
        const d = v as DateValue;
        return rangeClause(d.prefix, d.start, d.end, { st: 'lastUpdated', et: 'lastUpdated', encode: iso }, ctx.now);
      }),
    );
  } else {
    const compile = def.type === 'composite' ? compileComposite : SIMPLE_TYPES[def.type].compile;
    const inner = p.values.map((v) => compile(def, modifier, v, ctx));
    group = elemMatchAny(def.code, inner);
    const patients = p.compartment && (!modifier || isTypeModifier(modifier)) ? patientRefs(p.values) : undefined;
    // Redundant with the $elemMatch, but lets an engine start from the compartment index.
    if (patients) group = andFilters(group, { comp: patients.length === 1 ? patients[0] : { $in: patients } });
  }
  // :not and :not-in match resources with no value matching, including those with no value at all.
  return modifier === 'not' || modifier === 'not-in' ? { $nor: [group] } : group;
}

/**
 * A chain also matches through contained resources (extract.ts indexes them under
 * `code:Type.param`): the inner clause, its entries renamed, for each target type. Only for a
 * plain value test on index entries; a negation, a missing test or a further chain stays with the
 * stored resources alone.
 */
function containedChain(p: Extract<ParsedParam, { kind: 'chain' }>, inner: Filter): Filter | undefined {
  if (p.inner.kind !== 'value' || p.inner.modifier === 'not' || p.inner.modifier === 'not-in') return undefined;
  const alternatives: Filter[] = [];
  for (const type of p.targetTypes) {
    const renamed = renameEntries(inner, (code) => `${p.def.code}:${type}.${code}`);
    if (!renamed) return undefined;
    alternatives.push(renamed);
  }
  return alternatives.length > 0 ? or(alternatives) : undefined;
}

/** `{ idx: { $elemMatch: { p, ... } } }` clauses, under $or/$and, with p renamed; undefined for anything else. */
function renameEntries(filter: Filter, rename: (code: string) => string): Filter | undefined {
  const out: Filter = {};
  for (const [key, value] of Object.entries(filter)) {
    if ((key === '$or' || key === '$and') && Array.isArray(value)) {
      const parts = value.map((v) => renameEntries(v as Filter, rename));
      if (parts.some((x) => x === undefined)) return undefined;
      out[key] = parts;
    } else if (key === 'idx') {
      const match = (value as { $elemMatch?: Record<string, unknown> })?.$elemMatch;
      if (!match || Object.keys(value as object).length !== 1 || typeof match.p !== 'string') return undefined;
      out.idx = { $elemMatch: { ...match, p: rename(match.p) } };
    } else {
      return undefined;
    }
  }
  return out;
}

/** The writers a written-by value names: Type/id (a bare id in any of the target types). */
function writersOf(values: ReferenceValue[]): string[] {
  const refs = values.flatMap((v) => (v.kind === 'ref' ? [v.r] : v.kind === 'id' ? v.types.map((t) => `${t}/${v.id}`) : []));
  return [...new Set(refs)];
}

const oneOf = (values: string[]): unknown => (values.length === 1 ? values[0] : { $in: values });

function patientRefs(values: unknown[]): string[] | undefined {
  const refs = values.map((v) => (v as ReferenceValue).kind === 'ref' ? (v as { r: string }).r : undefined);
  return refs.every((r) => r !== undefined && PATIENT_REFERENCE.test(r)) ? [...new Set(refs as string[])] : undefined;
}

function or(clauses: Filter[]): Filter {
  return clauses.length === 1 ? clauses[0] : { $or: clauses };
}

/**
 * Any of the entry clauses, each in one `$elemMatch` with `p`. Equalities on one field
 * (token codes, references) become one `$in`, which the engines' `idx.p`+field index serves.
 */
function elemMatchAny(code: string, inner: Clause[]): Filter {
  const keys = inner.map((c) => Object.keys(c));
  if (inner.length > 1 && keys.every((k) => k.length === 1 && k[0] === keys[0][0] && !k[0].startsWith('$'))) {
    const values = inner.map((c) => c[keys[0][0]]);
    if (values.every((v) => typeof v === 'string')) {
      return { idx: { $elemMatch: { p: code, [keys[0][0]]: { $in: [...new Set(values)] } } } };
    }
  }
  return or(inner.map((c) => ({ idx: { $elemMatch: { p: code, ...c } } })));
}
