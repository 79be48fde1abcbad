import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import { isDuplicateKey } from './errors.js';

/** A bulk write whose every failed operation hit a duplicate _id (an upsert that lost a race). */
const lostUpsertRace = (e: unknown): boolean => {
  const errors = (e as { writeErrors?: unknown }).writeErrors;
  const list = Array.isArray(errors) ? errors : errors ? [errors] : [];
  return list.length > 0 ? list.every((w: { code?: number }) => w.code === 11000) : isDuplicateKey(e);
};
import type { Write } from '../store.js';
import { currentKey, type CurrentDoc } from './documents.js';

export interface MarkDoc {
  _id: string;
  v: string;
}

/**
 * Change marks (Store.readMarks) in the `marks` collection. Each marked commit sets its marks to a
 * new random value once the commit holds (a counter would lose increments on a server without
 * atomic updates, FerretDB): any change moves the mark. A server that crashes between a commit and
 * its marks leaves the marks unmoved; readers bound what they keep in time for that reason.
 */
export function mongoMarks(marks: Collection<MarkDoc>, resources: Collection<CurrentDoc>, marked: ReadonlySet<string>) {
  return {
    readMarks: async (keys: string[]): Promise<unknown[]> => {
      if (keys.length === 0) return [];
      const docs = await marks.find({ _id: { $in: keys } }).toArray();
      const byKey = new Map(docs.map((d) => [d._id, d.v]));
      return keys.map((k) => byKey.get(k));
    },
    /** Runs a commit and moves the marks of the records it writes of marked types. */
    async marking(writes: Write[], commit: () => Promise<void>): Promise<void> {
      const touched = writes.filter((w) => marked.has(w.record.type));
      if (touched.length === 0) return commit();
      // The compartments the records leave, read before they change.
      const before = await resources
        .find({ _id: { $in: touched.map((w) => currentKey(w.record.type, w.record.id)) } }, { projection: { comp: 1 } })
        .toArray();
      await commit();
      const keys = new Set<string>();
      for (const w of touched) {
        keys.add(`type:${w.record.type}`);
        for (const comp of w.record.comp) keys.add(`comp:${comp}`);
      }
      for (const doc of before) for (const comp of doc.comp ?? []) keys.add(`comp:${comp}`);
      const v = randomUUID();
      const ops = [...keys].map((key) => ({ updateOne: { filter: { _id: key }, update: { $set: { v } }, upsert: true } }));
      // Two commits creating the same mark at once: one upsert inserts, the other fails on the
      // duplicate _id (MongoDB and FerretDB alike) and succeeds as an update when tried again.
      for (let attempt = 1; ; attempt++) {
        try {
          await marks.bulkWrite(ops, { ordered: false });
          return;
        } catch (e) {
          if (attempt >= 5 || !lostUpsertRace(e)) throw e;
        }
      }
    },
  };
}
