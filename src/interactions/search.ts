import { fhirError, type Issue } from '../errors.js';
import { SERVED_TYPES, isServedType, type Resource } from '../fhir/resource-types.js';
import { authorizeTypes } from '../access/permissions.js';
import { andFilters, compileSearch, type CompiledSearch } from '../search/compile.js';
import { executeSearch } from '../search/execute.js';
import { parseSearch } from '../search/parse.js';
import type { CurrentRecord } from '../store/store.js';
import { bundle, decodeCursor, encodeCursor, pageUrl, single, type BundleEntry, type BundleLink } from './bundle.js';
import { subset } from './subset.js';
import type { Context, FhirRequest, FhirResult, InteractionHandler } from './types.js';

interface SearchCursor {
  /** Instant of the first page: later pages see nothing written after it. */
  at: string;
  offset: number;
}

const isCursor = (v: any): v is SearchCursor => typeof v?.at === 'string' && Number.isInteger(v?.offset) && v.offset >= 0;

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
  const pin = { lastUpdated: { $lte: at } };
  return compileSearch(parsed, { and: [...scope.extra, ...ctx.accessClauses(type), pin], now: Date.parse(at) });
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
  const cursor: SearchCursor = page ? decodeCursor(page, isCursor) : { at: ctx.now().toISOString(), offset: 0 };
  const scope = scopeOf(req, ctx);
  const compiled = combine(scope.types.map((t) => [t, compileFor(t, query, scope, req, ctx, cursor.at)]));
  const offset = cursor.offset + (compiled.offset ?? 0);
  const result = await executeSearch(ctx.store, { ...compiled, query: { ...compiled.query, offset } }, { accessFor: ctx.accessClauses });

  const count = compiled.count;
  const keep: Record<string, string | string[] | undefined> = { ...query, _count: String(count), ...(req.interaction === 'search-system' ? { _type: scope.types.join(',') } : {}) };
  const link: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.baseUrl, scope.path, { ...keep, ...(page ? { _page: page } : {}) }) }];
  const more = result.total !== undefined ? offset + result.records.length < result.total : result.records.length === count && count > 0;
  if (more) link.push({ relation: 'next', url: pageUrl(ctx.baseUrl, scope.path, { ...keep, _page: encodeCursor({ at: cursor.at, offset: cursor.offset + count }) }) });
  if (cursor.offset > 0) {
    link.push({ relation: 'previous', url: pageUrl(ctx.baseUrl, scope.path, { ...keep, _page: encodeCursor({ at: cursor.at, offset: Math.max(0, cursor.offset - count) }) }) });
  }
  const shape = (r: CurrentRecord) => subset(r.resource!, compiled.summary, compiled.elements);
  const entries: BundleEntry[] = [
    ...result.records.map((r): BundleEntry => ({ fullUrl: `${ctx.baseUrl}/${r.type}/${r.id}`, resource: shape(r), search: { mode: 'match' } })),
    ...result.included.map((r): BundleEntry => ({ fullUrl: `${ctx.baseUrl}/${r.type}/${r.id}`, resource: shape(r), search: { mode: 'include' } })),
  ];
  if (result.warnings.length > 0) entries.push({ resource: { resourceType: 'OperationOutcome', issue: result.warnings } as Resource, search: { mode: 'outcome' } });
  const total = compiled.total !== 'none' ? result.total : undefined;
  return { status: 200, body: bundle('searchset', entries, { ...(total !== undefined ? { total } : {}), link, now: ctx.now() }) };
}

export const search: InteractionHandler = { name: 'search-type', traits: { readOnly: true, needsType: true }, handle: runSearch };
export const searchSystem: InteractionHandler = { name: 'search-system', traits: { readOnly: true, needsType: false }, handle: runSearch };
