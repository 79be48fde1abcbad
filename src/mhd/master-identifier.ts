import type { CurrentRecord, Store } from '../store/store.js';
import { compileSearch } from '../search/compile.js';
import { parseSearch } from '../search/parse.js';
import type { SearchRegistry } from '../search/registry.js';

export interface Identifier {
  system?: string;
  value?: string;
}

/** FHIR search escaping (search.html#escaping) of one token part. */
function escape(text: string): string {
  return text.replace(/[\\,|$]/g, (c) => `\\${c}`);
}

function same(a: Identifier | undefined, b: Identifier): boolean {
  return a?.value === b.value && (a?.system ?? undefined) === (b.system ?? undefined);
}

/**
 * The stored DocumentReferences whose masterIdentifier is `id`. The R4 `identifier` parameter
 * covers masterIdentifier and identifier, so it finds candidates through the search compiler and
 * the exact masterIdentifier is compared here. No access clauses: a masterIdentifier (XDS
 * uniqueId) is unique across the store, whoever can see the other document.
 */
export async function findByMasterIdentifier(
  deps: { store: Store; registry: SearchRegistry; baseUrl: string },
  id: Identifier,
): Promise<CurrentRecord[]> {
  if (typeof id.value !== 'string' || id.value === '') return [];
  const token = `${escape(id.system ?? '')}|${escape(id.value)}`;
  const parsed = parseSearch('DocumentReference', { identifier: token }, deps.registry, { strict: true, baseUrl: deps.baseUrl });
  const { filter } = compileSearch(parsed);
  const { records } = await deps.store.search({ types: ['DocumentReference'], filter, sort: [], offset: 0, limit: 100, count: false });
  return records.filter((r) => same(r.resource?.masterIdentifier as Identifier | undefined, id));
}
