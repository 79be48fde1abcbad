import type { CurrentRecord, Store, Write } from '../store/store.js';
import { andFilters, compileSearch } from '../search/compile.js';
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

/**
 * The query for the DocumentReferences whose masterIdentifier is `id`: the R4 `identifier` search
 * parameter (which covers masterIdentifier and identifier) for the index, and the masterIdentifier
 * itself for exactness. No access clauses: a masterIdentifier (XDS uniqueId) is unique across the
 * store, whoever can see the other document.
 */
export function masterIdentifierQuery(
  deps: { registry: SearchRegistry; baseUrl: string },
  id: Identifier & { value: string },
): { types: string[]; filter: Record<string, unknown> } {
  const token = `${escape(id.system ?? '')}|${escape(id.value)}`;
  const parsed = parseSearch('DocumentReference', { identifier: token }, deps.registry, { strict: true, baseUrl: deps.baseUrl });
  const exact = {
    'resource.masterIdentifier.value': id.value,
    'resource.masterIdentifier.system': id.system ?? { $exists: false },
  };
  return { types: ['DocumentReference'], filter: andFilters(compileSearch(parsed).filter, exact) };
}

/** The stored DocumentReferences whose masterIdentifier is `id`. */
export async function findByMasterIdentifier(
  deps: { store: Store; registry: SearchRegistry; baseUrl: string },
  id: Identifier,
): Promise<CurrentRecord[]> {
  if (typeof id.value !== 'string' || id.value === '') return [];
  const query = masterIdentifierQuery(deps, { ...id, value: id.value });
  const { records } = await deps.store.search({ ...query, sort: [], offset: 0, limit: 100, count: false });
  return records;
}

/**
 * Each new DocumentReference of a submission commits only while no stored one has its
 * masterIdentifier (Write.unlessFound): of two concurrent submissions of one document, one lands
 * and the other, run again, is refused as a duplicate.
 */
export function guardMasterIdentifiers(deps: { registry: SearchRegistry; baseUrl: string }, writes: Write[]): void {
  for (const w of writes) {
    const master = w.record.resource?.masterIdentifier as Identifier | undefined;
    if (w.record.type !== 'DocumentReference' || w.expect.kind !== 'absent' || typeof master?.value !== 'string' || master.value === '') continue;
    w.unlessFound = masterIdentifierQuery(deps, { ...master, value: master.value });
  }
}
