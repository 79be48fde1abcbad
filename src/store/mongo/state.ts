import { MongoServerError, type Collection } from 'mongodb';
import type { StateEntry } from '../store.js';

/** One revision of an entry; a removal is a revision with `gone`. */
export interface StateDoc {
  _id: string;
  key: string;
  rev: number;
  value?: unknown;
  gone?: boolean;
}

const DUPLICATE_KEY = 11000;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const revId = (key: string, rev: number) => `${key}\u0000${String(rev).padStart(12, '0')}`;

/**
 * The store's internal state in the `state` collection. Each write inserts the entry's next revision
 * under a unique _id, so of two writers at one revision the insert of exactly one succeeds; a
 * conditional update would not do (FerretDB does not apply it atomically). Older revisions are
 * removed after.
 */
export async function mongoState(state: Collection<StateDoc>) {
  await state.createIndex({ key: 1, rev: -1 });
  const latest = (key: string) => state.find({ key }).sort({ rev: -1 }).limit(1).next();
  return {
    getState: async (key: string): Promise<StateEntry | undefined> => {
      const doc = await latest(key);
      return doc && !doc.gone ? { key, rev: doc.rev, value: doc.value } : undefined;
    },
    putState: async (key: string, value: unknown, expectRev: number): Promise<boolean> => {
      const doc = await latest(key);
      const rev = doc && !doc.gone ? doc.rev : 0;
      if (rev !== expectRev) return false;
      if (value === undefined && rev === 0) return true;
      const next = (doc?.rev ?? 0) + 1;
      try {
        await state.insertOne(value === undefined ? { _id: revId(key, next), key, rev: next, gone: true } : { _id: revId(key, next), key, rev: next, value });
      } catch (e) {
        if (e instanceof MongoServerError && e.code === DUPLICATE_KEY) return false;
        throw e;
      }
      await state.deleteMany({ key, rev: { $lt: next } });
      return true;
    },
    listState: async (prefix: string, opts: { after?: string; limit: number }): Promise<StateEntry[]> => {
      const match = { $regex: `^${escape(prefix)}` };
      const filter = opts.after === undefined ? { key: match } : { $and: [{ key: match }, { key: { $gt: opts.after } }] };
      const out: StateEntry[] = [];
      let last: string | undefined;
      for await (const doc of state.find(filter).sort({ key: 1, rev: -1 })) {
        if (doc.key === last) continue;
        last = doc.key;
        if (doc.gone) continue;
        out.push({ key: doc.key, rev: doc.rev, value: doc.value });
        if (out.length >= opts.limit) break;
      }
      return out;
    },
  };
}
