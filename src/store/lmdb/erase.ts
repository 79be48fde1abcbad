import type { Dbs } from './dbs.js';
import { writerKeys } from './commit.js';
import { compKey, currentKey, prefixRange, systemHistoryKey, typeHistoryKey, versionKey, type Key } from './keys.js';
import { replaceLookup } from './lookup.js';
import { replaceTerms } from './terms.js';

/** Removes resources with all their versions and index entries, in one write transaction. */
export function erase(dbs: Dbs, resources: Array<{ type: string; id: string }>): Promise<number> {
  if (resources.length === 0) return Promise.resolve(0);
  let erased = 0;
  return dbs.root
    .childTransaction(() => {
      for (const { type, id } of resources) {
        const key = currentKey(type, id);
        const current = dbs.current.get(key);
        if (current) {
          if (!current.deleted) {
            for (const comp of new Set(current.comp)) dbs.comp.removeSync(compKey(comp, type, id));
            for (const k of writerKeys(current)) dbs.comp.removeSync(k);
          }
          replaceTerms(dbs, current, undefined);
          replaceLookup(dbs, current, undefined);
          dbs.current.removeSync(key);
          erased++;
        }
        const versions: Array<{ key: Key; lastUpdated: string; versionId: number }> = [];
        for (const { key: k, value } of dbs.versions.getRange(prefixRange(type, id))) versions.push({ key: k, lastUpdated: value.lastUpdated, versionId: value.versionId });
        // A current record that stood for its own version (derived.ts) has its history keys all the same.
        if (current && !versions.some((v) => v.versionId === current.versionId)) versions.push({ key: versionKey(type, id, current.versionId), lastUpdated: current.lastUpdated, versionId: current.versionId });
        for (const v of versions) {
          dbs.typeHistory.removeSync(typeHistoryKey(type, v.lastUpdated, id, v.versionId));
          dbs.systemHistory.removeSync(systemHistoryKey(v.lastUpdated, type, id, v.versionId));
          dbs.versions.removeSync(v.key);
        }
      }
    })
    .then(() => erased);
}
