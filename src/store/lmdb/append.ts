import { StoreConflict, type CurrentRecord } from '../store.js';
import { versionOf, writerKeys } from './commit.js';
import type { Dbs } from './dbs.js';
import { kept, uncopied } from './derived.js';
import { compKey, currentKey, systemHistoryKey, typeHistoryKey, versionKey } from './keys.js';
import { marksOf, newMark } from './marks.js';
import { newLookupWrites } from './lookup.js';
import { newTermWrites } from './terms.js';

/**
 * Store.append: a new record (version 1, not a deletion) is written by lmdb-js's conditional puts,
 * checked and applied on its write thread, in the batch of whatever else is queued, with no
 * callback to the main thread inside the write transaction: under load that callback waited for
 * the event loop while the transaction stayed open, and did each B-tree write on the main thread
 * (a notification's commit: about 270 µs of it per record, measured in a server). Nothing is read:
 * the keys are computed before, the postings of its compartment terms are given up (`false`, the
 * range is read instead, postings.ts) rather than read and extended, and its change marks take new
 * values (marks.ts), and its lookup entries are written whole under keys no other record gives
 * (lookup.ts). Any other record goes through `commitOne` (commit.ts), its conflict counted as left
 * out.
 */
export async function append(dbs: Dbs, records: CurrentRecord[], marked: ReadonlySet<string>, commitOne: (record: CurrentRecord) => Promise<void>): Promise<number> {
  // lmdb-js queues a put on a closed environment, then throws from a timer (the process ends) and
  // never settles it: refuse here, as a commit does.
  if ((dbs.root as unknown as { status?: string }).status !== 'open') throw new Error('The store is closed');
  const written = await Promise.all(
    records.map((record) => {
      const { type, id, lastUpdated } = record;
      // A record whose lookup keys other records may give too: their entries are read and written back.
      const lookup = record.deleted ? undefined : newLookupWrites(dbs, record);
      if (record.deleted || record.versionId !== 1 || !lookup) {
        return commitOne(record).then(
          () => true,
          (e: unknown) => {
            if (e instanceof StoreConflict) return false;
            throw e;
          },
        );
      }
      const { terms, compTerms, postings } = newTermWrites(record);
      const marks = marked.has(type) ? marksOf(record) : [];
      return dbs.current.ifNoExists(currentKey(type, id), () => {
        void dbs.current.put(currentKey(type, id), kept(dbs, record));
        for (const comp of new Set(record.comp)) void dbs.comp.put(compKey(comp, type, id), null);
        for (const key of writerKeys(record)) void dbs.comp.put(key, null);
        for (const key of terms) void dbs.terms.put(key, null);
        for (const key of compTerms) void dbs.compTerms.put(key, null);
        for (const key of postings) void dbs.compPostings.put(key, false);
        if (!uncopied(dbs, type)) void dbs.versions.put(versionKey(type, id, 1), versionOf(record));
        void dbs.typeHistory.put(typeHistoryKey(type, lastUpdated, id, 1), null);
        void dbs.systemHistory.put(systemHistoryKey(lastUpdated, type, id, 1), null);
        for (const key of marks) void dbs.marks.put(key, newMark());
        for (const [key, value] of lookup) void dbs.lookup.put(key, value);
      });
    }),
  );
  return written.filter(Boolean).length;
}
