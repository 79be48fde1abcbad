import { fhirError, type Issue } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import { compileSearch } from '../search/compile.js';
import { parseSearch } from '../search/parse.js';
import { bundle, decodeCursor, encodeCursor, pageUrl, type BundleEntry, type BundleLink } from './bundle.js';
import type { InteractionHandler } from './types.js';

interface SearchCursor {
  /** Instant of the first page: later pages see nothing written after it. */
  at: string;
  offset: number;
}

const isCursor = (v: any): v is SearchCursor => typeof v?.at === 'string' && Number.isInteger(v?.offset) && v.offset >= 0;

function outcomeEntry(issues: Issue[]): BundleEntry {
  return { resource: { resourceType: 'OperationOutcome', issue: issues } as Resource, search: { mode: 'outcome' } };
}

export const search: InteractionHandler = {
  name: 'search-type',
  traits: { readOnly: true, needsType: true },
  async handle(req, ctx) {
    const type = req.type!;
    const { _page: pageParam, ...query } = req.query;
    const page = Array.isArray(pageParam) ? pageParam[0] : pageParam;
    const cursor: SearchCursor = page ? decodeCursor(page, isCursor) : { at: ctx.now().toISOString(), offset: 0 };
    const parsed = parseSearch(type, query, ctx.registry, {
      strict: req.preferHandling === 'strict',
      baseUrl: ctx.baseUrl,
      defaultCount: ctx.defaultCount,
      maxCount: ctx.maxCount,
    });
    const pin = { lastUpdated: { $lte: cursor.at } };
    const compiled = compileSearch(parsed, { and: [...ctx.accessClauses(type), pin], now: Date.parse(cursor.at) });
    if (compiled.subqueries.length > 0) {
      throw fhirError('bad-search', 'Chained and _has parameters are not available yet');
    }
    const offset = cursor.offset + (compiled.offset ?? 0);
    const { records, total } = await ctx.store.search({ ...compiled.query, offset });
    const matched = total ?? offset + records.length;

    const keep = { ...query, _count: String(compiled.count) };
    const link: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.baseUrl, `/${type}`, { ...keep, ...(page ? { _page: page } : {}) }) }];
    const more = total !== undefined ? offset + records.length < total : records.length === compiled.count && compiled.count > 0;
    if (more) link.push({ relation: 'next', url: pageUrl(ctx.baseUrl, `/${type}`, { ...keep, _page: encodeCursor({ at: cursor.at, offset: cursor.offset + compiled.count }) }) });
    if (cursor.offset > 0) {
      link.push({ relation: 'previous', url: pageUrl(ctx.baseUrl, `/${type}`, { ...keep, _page: encodeCursor({ at: cursor.at, offset: Math.max(0, cursor.offset - compiled.count) }) }) });
    }
    const entries: BundleEntry[] = records.map((r) => ({ fullUrl: `${ctx.baseUrl}/${r.type}/${r.id}`, resource: r.resource, search: { mode: 'match' } }));
    if (compiled.warnings.length > 0) entries.push(outcomeEntry(compiled.warnings));
    const includeTotal = compiled.total !== 'none' && total !== undefined;
    return { status: 200, body: bundle('searchset', entries, { ...(includeTotal ? { total: matched } : {}), link, now: ctx.now() }) };
  },
};
