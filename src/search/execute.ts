import { FhirError, type Issue } from '../errors.js';
import type { CurrentRecord, SearchBudget, Store } from '../store/store.js';
import { andFilters, type CompiledSearch, type Filter, type SubQuery } from './compile.js';
import type { IncludeParam } from './result-params.js';
import { WRITTEN_BY } from './record-fields.js';

export interface ExecuteOptions {
  /** Access clauses for a type (the same decision as the main search): applied to sub-queries and includes. */
  accessFor?: (type: string) => Filter[];
  /** Most matches a chained or _has sub-query may have (default 1000); more is an error asking to narrow it. */
  maxSubqueryMatches?: number;
  /** Most resources _include and _revinclude add to a page (default 1000); more are cut, with a warning. */
  maxIncluded?: number;
  /** Rounds of :iterate (default 3). */
  maxIterations?: number;
  /** The request's budget of records examined, which every query here counts into. */
  budget?: SearchBudget;
}

export interface SearchPage {
  records: CurrentRecord[];
  total?: number;
  /** Resources added by _include and _revinclude (search mode 'include'). */
  included: CurrentRecord[];
  warnings: Issue[];
}

/**
 * Runs a compiled search: the sub-queries of chains and _has first (innermost first), whose results
 * replace their `{ $sub: n }` placeholders, then the page, then _include and _revinclude.
 */
export async function executeSearch(store: Store, compiled: CompiledSearch, opts: ExecuteOptions = {}): Promise<SearchPage> {
  const access = opts.accessFor ?? (() => []);
  const filter = await resolveFilter(store, compiled.filter, compiled.subqueries, access, opts.maxSubqueryMatches ?? 1000, opts.budget);
  const { records, total } = await store.search({ ...compiled.query, filter, budget: opts.budget });
  const warnings = [...compiled.warnings];
  const included = await includes(store, records, compiled.include, compiled.revinclude, access, opts, warnings);
  return { records, ...(total !== undefined ? { total } : {}), included, warnings };
}

/** The filter with every `{ $sub: n }` replaced by the clause its sub-query's results give. */
export async function resolveFilter(
  store: Store,
  filter: Filter,
  subqueries: SubQuery[],
  access: (type: string) => Filter[],
  maxMatches = 1000,
  budget?: SearchBudget,
): Promise<Filter> {
  if (subqueries.length === 0) return filter;
  const resolved = new Map<number, Filter>();
  // A sub-query refers only to later ones, so resolving from the last gives each its inputs.
  for (let n = subqueries.length - 1; n >= 0; n--) {
    const sub = subqueries[n];
    const subFilter = andFilters(substitute(sub.filter, resolved) as Filter, accessAcross(sub.types, access));
    const { records } = await store.search({ types: sub.types, filter: subFilter, sort: [], offset: 0, limit: maxMatches + 1, count: false, budget });
    if (records.length > maxMatches) {
      const msg = `A chained or _has parameter matches more than ${maxMatches} resources; narrow the search`;
      throw new FhirError('bad-search', msg, { issues: [{ severity: 'error', code: 'too-costly', diagnostics: msg }] });
    }
    resolved.set(n, sub.kind === 'chain' ? chainClause(sub, records) : hasClause(sub, records));
  }
  return substitute(filter, resolved) as Filter;
}

function chainClause(sub: SubQuery, records: CurrentRecord[]): Filter {
  return { idx: { $elemMatch: { p: sub.code, r: { $in: records.map((r) => `${r.type}/${r.id}`) } } } };
}

function hasClause(sub: SubQuery, records: CurrentRecord[]): Filter {
  const prefix = `${sub.type}/`;
  const ids = new Set<string>();
  for (const rec of records) {
    for (const e of rec.idx) {
      if (e.p === sub.code && typeof e.r === 'string' && e.r.startsWith(prefix)) ids.add(e.r.slice(prefix.length));
    }
  }
  return { id: { $in: [...ids] } };
}

/** Access clauses of several types as one filter: per type when they differ. */
function accessAcross(types: string[], access: (type: string) => Filter[]): Filter {
  const per = types.map((t) => andFilters(...access(t)));
  const same = per.every((f) => JSON.stringify(f) === JSON.stringify(per[0]));
  if (same) return per[0] ?? {};
  return { $or: types.map((t, i) => andFilters({ type: t }, per[i])) };
}

function substitute(value: unknown, resolved: Map<number, Filter>): unknown {
  if (Array.isArray(value)) return value.map((v) => substitute(v, resolved));
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === '$sub' && typeof obj.$sub === 'number') {
      const clause = resolved.get(obj.$sub);
      if (!clause) throw new Error(`sub-query ${obj.$sub} is not resolved`);
      return clause;
    }
    return Object.fromEntries(keys.map((k) => [k, substitute(obj[k], resolved)]));
  }
  return value;
}

const key = (r: CurrentRecord) => `${r.type}/${r.id}`;

export async function includes(
  store: Store,
  page: CurrentRecord[],
  include: IncludeParam[],
  revinclude: IncludeParam[],
  access: (type: string) => Filter[],
  opts: ExecuteOptions,
  warnings: Issue[],
): Promise<CurrentRecord[]> {
  if (page.length === 0 || (include.length === 0 && revinclude.length === 0)) return [];
  const max = opts.maxIncluded ?? 1000;
  const seen = new Set(page.map(key));
  const out: CurrentRecord[] = [];
  let cut = false;
  const add = (recs: CurrentRecord[]) => {
    const fresh: CurrentRecord[] = [];
    for (const r of recs) {
      if (seen.has(key(r))) continue;
      if (out.length >= max) {
        cut = true;
        break;
      }
      seen.add(key(r));
      out.push(r);
      fresh.push(r);
    }
    return fresh;
  };

  let sources = page;
  const rounds = opts.maxIterations ?? 3;
  for (let round = 0; round <= rounds && sources.length > 0 && !cut; round++) {
    const incs = include.filter((i) => round === 0 || i.iterate);
    const revs = revinclude.filter((i) => round === 0 || i.iterate);
    const found: CurrentRecord[] = [];
    for (const inc of incs) found.push(...add(await forward(store, sources, inc, access, max + 1, opts.budget)));
    for (const rev of revs) found.push(...add(await reverse(store, sources, rev, access, max + 1, opts.budget)));
    sources = found;
    if (round === rounds && sources.length > 0 && incs.concat(revs).some((i) => i.iterate)) cut = true;
  }
  if (cut) {
    warnings.push({ severity: 'warning', code: 'too-costly', diagnostics: `_include/_revinclude results were cut at ${max} resources or ${rounds} rounds of :iterate` });
  }
  return out;
}

/** _include: the resources the sources refer to by inc.code. */
async function forward(store: Store, sources: CurrentRecord[], inc: IncludeParam, access: (type: string) => Filter[], limit: number, budget?: SearchBudget) {
  const byType = new Map<string, Set<string>>();
  for (const rec of sources) {
    if (rec.type !== inc.type) continue;
    // written-by names the record's writers (record-fields.ts), not its index entries.
    const entries = inc.code === WRITTEN_BY ? (rec.by ?? []).map((r) => ({ p: WRITTEN_BY, r })) : rec.idx;
    for (const e of entries) {
      if ((inc.code !== '*' && e.p !== inc.code) || typeof e.r !== 'string') continue;
      const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(e.r);
      if (!m || (inc.target && m[1] !== inc.target)) continue;
      if (!byType.has(m[1])) byType.set(m[1], new Set());
      byType.get(m[1])!.add(m[2]);
    }
  }
  const out: CurrentRecord[] = [];
  for (const [type, ids] of byType) {
    const filter = andFilters({ id: { $in: [...ids] } }, ...access(type));
    const res = await store.search({ types: [type], filter, sort: [], offset: 0, limit, count: false, budget });
    out.push(...res.records);
  }
  return out;
}

/** _revinclude: the resources of rev.type that refer to the sources by rev.code. */
async function reverse(store: Store, sources: CurrentRecord[], rev: IncludeParam, access: (type: string) => Filter[], limit: number, budget?: SearchBudget) {
  const refs = sources.filter((r) => !rev.target || r.type === rev.target).map(key);
  if (refs.length === 0) return [];
  const match = rev.code === '*' ? { r: { $in: refs } } : { p: rev.code, r: { $in: refs } };
  const filter = andFilters(rev.code === WRITTEN_BY ? { by: { $in: refs } } : { idx: { $elemMatch: match } }, ...access(rev.type));
  const res = await store.search({ types: [rev.type], filter, sort: [], offset: 0, limit, count: false, budget });
  return res.records;
}
