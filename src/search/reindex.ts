import { SERVED_TYPES } from '../fhir/resource-types.js';
import type { SearchDataUpdate, Store } from '../store/store.js';
import { indexResource } from './extract.js';
import type { SearchRegistry } from './registry.js';

export interface ReindexResult {
  examined: number;
  updated: number;
}

/**
 * Recomputes the search data of every current resource with the registry's definitions (after a
 * SearchParameter was added or changed), in batches, walking each type in id order. Safe while
 * the server runs: an update applies only if the resource was not written meanwhile.
 */
export async function reindexAll(
  store: Store,
  registry: SearchRegistry,
  opts: { baseUrl: string; batch?: number; types?: readonly string[]; progress?: (type: string, done: number) => void },
): Promise<ReindexResult> {
  const batch = opts.batch ?? 500;
  let examined = 0;
  let updated = 0;
  for (const type of opts.types ?? SERVED_TYPES) {
    let after: string | undefined;
    for (;;) {
      const filter = after === undefined ? {} : { id: { $gt: after } };
      const { records } = await store.search({ types: [type], filter, sort: [['id', 1]], offset: 0, limit: batch, count: false });
      if (records.length === 0) break;
      const updates: SearchDataUpdate[] = records.map((r) => {
        const { idx, comp, srt } = indexResource(r.resource!, registry, { baseUrl: opts.baseUrl });
        return { type, id: r.id, versionId: r.versionId, idx, comp, srt };
      });
      updated += await store.updateSearchData(updates);
      examined += records.length;
      after = records[records.length - 1].id;
      opts.progress?.(type, examined);
    }
  }
  return { examined, updated };
}
