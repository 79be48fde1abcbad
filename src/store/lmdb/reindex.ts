import type { SearchDataUpdate } from '../store.js';
import type { Dbs } from './dbs.js';
import { kept } from './derived.js';
import { compKey, currentKey } from './keys.js';
import { replaceLookup } from './lookup.js';
import { replaceTerms } from './terms.js';

/**
 * Replaces the search data of current records in one write transaction, each only while its
 * version is still the one that was indexed: a write in between wins, and carries fresh data.
 */
export function updateSearchData(dbs: Dbs, updates: SearchDataUpdate[]): Promise<number> {
  if (updates.length === 0) return Promise.resolve(0);
  let changed = 0;
  return dbs.root
    .childTransaction(() => {
      for (const u of updates) {
        const key = currentKey(u.type, u.id);
        const record = dbs.current.get(key);
        if (!record || record.deleted || record.versionId !== u.versionId) continue;
        for (const comp of record.comp) dbs.comp.removeSync(compKey(comp, u.type, u.id));
        const next = { ...record, idx: u.idx, comp: u.comp };
        if (u.srt !== undefined) next.srt = u.srt;
        else delete next.srt;
        dbs.current.putSync(key, kept(dbs, next));
        replaceTerms(dbs, record, next);
        replaceLookup(dbs, record, next);
        for (const comp of new Set(u.comp)) dbs.comp.putSync(compKey(comp, u.type, u.id), null);
        changed++;
      }
    })
    .then(() => changed);
}
