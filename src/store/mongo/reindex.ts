import type { SearchDataUpdate } from '../store.js';
import { CURRENT_PROJECTION, currentKey, invertSortValue, lookKeys, type Collections } from './documents.js';

/** Replaces the search data of current records, each only while its version is still the indexed one. */
export async function updateSearchData(c: Collections, updates: SearchDataUpdate[]): Promise<number> {
  let changed = 0;
  for (const u of updates) {
    const set: Record<string, unknown> = { idx: u.idx, comp: u.comp };
    const unset: Record<string, ''> = {};
    if (u.srt !== undefined) {
      set.srt = u.srt;
      set.srtInv = Object.fromEntries(Object.entries(u.srt).map(([k, v]) => [k, invertSortValue(v)]));
    } else {
      unset.srt = '';
      unset.srtInv = '';
    }
    if (c.derivation?.types.includes(u.type)) {
      // The lookup keys may rest on the search data: derived again from the record as it will be.
      const record = await c.resources.findOne({ _id: currentKey(u.type, u.id) }, { projection: CURRENT_PROJECTION });
      if (!record || record.versionId !== u.versionId || record.deleted) continue;
      const look = lookKeys(c.derivation, { ...record, idx: u.idx, comp: u.comp });
      if (look) set.look = look;
      else unset.look = '';
    }
    // _id alone selects the document (FerretDB pushes down nothing else); the version guard is checked by the server.
    const res = await c.resources.updateOne(
      { _id: currentKey(u.type, u.id), versionId: u.versionId, deleted: false },
      Object.keys(unset).length ? { $set: set, $unset: unset } : { $set: set },
    );
    changed += res.modifiedCount;
  }
  return changed;
}
