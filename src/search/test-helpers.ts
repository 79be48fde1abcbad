import { Query } from 'mingo';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord } from '../store/store.js';
import { compileSearch, type CompileOptions, type CompiledSearch } from './compile.js';
import { indexResource } from './extract.js';
import { parseSearch, type ParseOptions } from './parse.js';
import { createSearchRegistry, type SearchRegistry } from './registry.js';

/** Shared by the search tests: one registry per test process (building it takes ~150 ms). */
let shared: SearchRegistry | undefined;
export const registry = (): SearchRegistry => (shared ??= createSearchRegistry());

export const BASE = 'https://carnet.example/fhir';
export const NOW = Date.parse('2026-06-15T12:00:00Z');

/** "a=1&b=2&a=3" as a query object (repeated parameters become arrays, as HTTP parsers give them). */
export function queryOf(qs: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(qs)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function compileQs(
  type: string,
  qs: string,
  opts: Partial<ParseOptions> & CompileOptions = {},
): CompiledSearch {
  const parsed = parseSearch(type, queryOf(qs), registry(), { strict: true, baseUrl: BASE, ...opts });
  return compileSearch(parsed, { now: NOW, ...opts });
}

export function recordOf(resource: Resource): CurrentRecord {
  const { idx, comp, srt } = indexResource(resource, registry(), { baseUrl: BASE });
  const lastUpdated = resource.meta?.lastUpdated ?? '2026-01-01T00:00:00.000Z';
  return { type: resource.resourceType, id: resource.id!, versionId: 1, lastUpdated, deleted: false, resource, idx, comp, srt };
}

/** The ids of the resources a compiled filter matches, evaluated by mingo as the embedded engine does. */
export function matching(filter: Record<string, unknown>, resources: Resource[]): string[] {
  const q = new Query(filter);
  return resources.map(recordOf).filter((r) => q.test(r as unknown as Record<string, unknown>)).map((r) => r.id);
}

/** The ids of the resources of `type` that a search matches (the store restricts the types; mingo the rest). */
export function ids(type: string, qs: string, resources: Resource[], opts: Partial<ParseOptions> & CompileOptions = {}): string[] {
  return matching(compileQs(type, qs, opts).filter, resources.filter((r) => r.resourceType === type));
}
