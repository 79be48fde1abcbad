import { fhirError, type Issue } from '../errors.js';
import { SERVED_TYPES, isServedType, type Resource } from '../fhir/resource-types.js';
import { authorizeTypes } from '../access/permissions.js';
import { andFilters, compileSearch, type CompiledSearch, type Filter } from '../search/compile.js';
import { fullOrder, keyOf, keysetClause, type SortValue } from '../search/keyset.js';
import { executeSearch, includes } from '../search/execute.js';
import { parseSearch } from '../search/parse.js';
import type { CurrentRecord } from '../store/store.js';
import { bundle, decodeCursor, encodeCursor, pageUrl, single, type BundleEntry, type BundleLink } from './bundle.js';
import { presentInBundle } from './binary.js';
import { subset } from './subset.js';
import type { Context, FhirRequest, FhirResult, InteractionHandler } from './types.js';

/**
 * A page of a search: the instant the first page pinned (nothing created after it appears), and
 * the key of the record the page starts after (or ends before). See src/search/keyset.ts.
 */
interface SearchCursor {
  at: string;
  key?: SortValue[];
  dir?: 'after' | 'before';
}

const isCursor = (v: any): v is SearchCursor =>
  typeof v?.at === 'string' &&
  (v.key === undefined || (Array.isArray(v.key) && v.key.every((x: unknown) => x === null || typeof x === 'string' || typeof x === 'number'))) &&
  (v.dir === undefined || v.dir === 'after' || v.dir === 'before');

/** What is searched: one type, one type within a patient's compartment, or several types. */
interface Scope {
  path: string;
  types: string[];
  /** Clauses every match must meet besides the search (e.g. the compartment). */
  extra: Record<string, unknown>[];
}

function compileFor(type: string, query: FhirRequest['query'], scope: Scope, req: FhirRequest, ctx: Context, at: string): CompiledSearch {
  const parsed = parseSearch(type, query, ctx.registry, {
    strict: req.preferHandling === 'strict',
    baseUrl: ctx.baseUrl,
    defaultCount: ctx.defaultCount,
    maxCount: ctx.maxCount,
  });
  return compileSearch(parsed, { and: [...scope.extra, ...ctx.accessClauses(type)], now: Date.parse(at) });
}

/** One compiled search over several types: each type's filter applies to records of that type. */
function combine(parts: Array<[string, CompiledSearch]>): CompiledSearch {
  if (parts.length === 1) return parts[0][1];
  const [, first] = parts[0];
  const filter = { $or: parts.map(([type, c]) => andFilters({ type }, c.filter)) };
  const types = parts.map(([t]) => t);
  const warnings = dedupe(parts.flatMap(([, c]) => c.warnings));
  return {
    ...first,
    types,
    filter,
    warnings,
    subqueries: parts.flatMap(([, c]) => c.subqueries),
    query: { ...first.query, types, filter },
  };
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = i.diagnostics;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function scopeOf(req: FhirRequest, ctx: Context): Scope {
  if (req.interaction === 'search-system') {
    const requested = single(req.query, '_type')?.split(',').map((t) => t.trim()).filter(Boolean);
    for (const t of requested ?? []) if (!isServedType(t)) throw fhirError('bad-search', `_type: "${t}" is not a resource type this server serves`, '_type');
    const granted = authorizeTypes(ctx.principal, requested ?? [...SERVED_TYPES], 'search-system');
    return { path: '', types: [...granted.keys()], extra: [] };
  }
  if (req.compartment) {
    const { type, id } = req.compartment;
    if (type !== 'Patient') throw fhirError('not-found', `Compartment ${type} is not supported; use Patient/[id]/[type]`);
    return { path: `/${type}/${id}/${req.type}`, types: [req.type!], extra: [{ comp: `Patient/${id}` }] };
  }
  return { path: `/${req.type}`, types: [req.type!], extra: [] };
}

export async function runSearch(req: FhirRequest, ctx: Context): Promise<FhirResult> {
  const { _page: pageParam, _type: _ignored, ...query } = req.query;
  const page = Array.isArray(pageParam) ? pageParam[0] : pageParam;
  const cursor: SearchCursor = page ? decodeCursor(page, isCursor) : { at: ctx.now().toISOString() };
  const scope = scopeOf(req, ctx);
  const compiled = combine(scope.types.map((t) => [t, compileFor(t, query, scope, req, ctx, cursor.at)]));
  const order = fullOrder(compiled.sort);
  const size = compiled.count;
  // Includes are resolved for the page alone, after it is cut (see below).
  const run = (filter: Filter, offset: number, limit: number, count: boolean) =>
    executeSearch(
      ctx.store,
      { ...compiled, include: [], revinclude: [], filter, query: { ...compiled.query, filter, offset, limit, count, createdAtMost: cursor.at } },
      { accessFor: ctx.accessClauses, budget: ctx.budget },
    );

  const wantTotal = compiled.total !== 'none';
  let result;
  let total: number | undefined;
  let hasNext: boolean;
  let hasPrevious: boolean;
  if (!cursor.key) {
    // First page: _offset applies here only; one more record than the page tells whether a next page exists.
    const offset = compiled.offset ?? 0;
    result = await run(compiled.filter, offset, size > 0 ? size + 1 : 0, wantTotal);
    total = result.total;
    hasNext = result.records.length > size;
    hasPrevious = offset > 0;
  } else if (cursor.dir === 'before') {
    const filter = andFilters(compiled.filter, keysetClause(order, cursor.key, false));
    const before = (await run(filter, 0, 0, true)).total ?? 0;
    const offset = Math.max(0, before - size);
    result = await run(filter, offset, size, false);
    hasNext = true;
    hasPrevious = offset > 0;
  } else {
    result = await run(andFilters(compiled.filter, keysetClause(order, cursor.key, true)), 0, size + 1, false);
    hasNext = result.records.length > size;
    hasPrevious = true;
  }
  const records = result.records.slice(0, size);
  if (cursor.key && wantTotal) total = (await run(compiled.filter, 0, 0, true)).total;
  const warnings = [...result.warnings];
  const included = await includes(ctx.store, records, compiled.include, compiled.revinclude, ctx.accessClauses, { budget: ctx.budget }, warnings);

  const keep: Record<string, string | string[] | undefined> = { ...query, _count: String(size), ...(req.interaction === 'search-system' ? { _type: scope.types.join(',') } : {}) };
  delete keep._offset;
  const link: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.baseUrl, scope.path, { ...keep, ...(page ? { _page: page } : compiled.offset ? { _offset: String(compiled.offset) } : {}) }) }];
  if (records.length > 0) {
    if (hasNext) link.push({ relation: 'next', url: pageUrl(ctx.baseUrl, scope.path, { ...keep, _page: encodeCursor({ at: cursor.at, key: keyOf(records[records.length - 1], order), dir: 'after' }) }) });
    if (hasPrevious) link.push({ relation: 'previous', url: pageUrl(ctx.baseUrl, scope.path, { ...keep, _page: encodeCursor({ at: cursor.at, key: keyOf(records[0], order), dir: 'before' }) }) });
  }
  const entry = (r: CurrentRecord, mode: 'match' | 'include'): BundleEntry => ({
    fullUrl: `${ctx.baseUrl}/${r.type}/${r.id}`,
    resource: subset(presentInBundle(r.resource!), compiled.summary, compiled.elements),
    search: { mode },
  });
  const entries: BundleEntry[] = [...records.map((r) => entry(r, 'match')), ...included.map((r) => entry(r, 'include'))];
  if (warnings.length > 0) entries.push({ resource: { resourceType: 'OperationOutcome', issue: warnings } as Resource, search: { mode: 'outcome' } });
  const compartments = new Map([...records, ...included].map((r) => [`${r.type}/${r.id}`, r.comp]));
  return { status: 200, body: bundle('searchset', entries, { ...(wantTotal && total !== undefined ? { total } : {}), link, now: ctx.now() }), compartments };
}

export const search: InteractionHandler = { name: 'search-type', traits: { readOnly: true, needsType: true }, handle: runSearch };
export const searchSystem: InteractionHandler = { name: 'search-system', traits: { readOnly: true, needsType: false }, handle: runSearch };
