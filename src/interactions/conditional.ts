import { fhirError } from '../errors.js';
import type { CurrentRecord } from '../store/store.js';
import { compileSearch } from '../search/compile.js';
import { resolveFilter } from '../search/execute.js';
import { parseSearch } from '../search/parse.js';
import type { Context } from './types.js';

/** Turns "a=1&b=2" (If-None-Exist, or a conditional URL's query) into search parameters. */
export function criteriaFromString(criteria: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const text = criteria.includes('?') ? criteria.slice(criteria.indexOf('?') + 1) : criteria;
  for (const [k, v] of new URLSearchParams(text)) (out[k] ??= []).push(v);
  return out;
}

/**
 * The resources matching conditional criteria (at most two are fetched: callers only need to
 * tell none, one and several apart). Uses the one search compiler, with the access clauses.
 */
export async function findMatches(ctx: Context, type: string, criteria: Record<string, string | string[]>): Promise<CurrentRecord[]> {
  return (await conditionalSearch(ctx, type, criteria)).matches;
}

/**
 * The matches, and the query that found them: a conditional create commits on condition that the
 * query still finds nothing (Write.unlessFound), so that of concurrent identical creates one lands.
 */
export async function conditionalSearch(
  ctx: Context,
  type: string,
  criteria: Record<string, string | string[]>,
): Promise<{ matches: CurrentRecord[]; query: { types: string[]; filter: Record<string, unknown>; claim: string } }> {
  const keys = Object.keys(criteria).filter((k) => !k.startsWith('_format') && k !== '_pretty');
  if (keys.length === 0) throw fhirError('bad-request', 'A conditional operation needs search criteria');
  const parsed = parseSearch(type, criteria, ctx.registry, { strict: true, baseUrl: ctx.baseUrl });
  const compiled = compileSearch(parsed, { and: ctx.accessClauses(type) });
  // Chained criteria (patient.identifier=...) run their sub-queries first.
  const filter = await resolveFilter(ctx.store, compiled.filter, compiled.subqueries, ctx.accessClauses, undefined, ctx.budget);
  const { records } = await ctx.store.search({ types: [type], filter, sort: [], offset: 0, limit: 2, count: false, budget: ctx.budget });
  // The claim: the criteria as given, in a stable order, without the caller's access clauses.
  const claim = `${type}?${JSON.stringify(keys.sort().map((k) => [k, criteria[k]]))}`;
  return { matches: records, query: { types: [type], filter, claim } };
}
