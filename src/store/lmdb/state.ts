import type { Database } from 'lmdb';
import type { StateEntry } from '../store.js';

interface Stored {
  rev: number;
  value: unknown;
}

/** The store's internal state in its own LMDB database: compare-and-set inside one write transaction. */
export function lmdbState(db: Database<Stored, string>) {
  return {
    getState: async (key: string): Promise<StateEntry | undefined> => {
      const found = db.get(key);
      return found && { key, rev: found.rev, value: found.value };
    },
    putState: (key: string, value: unknown, expectRev: number): Promise<boolean> =>
      db.transaction(() => {
        const rev = db.get(key)?.rev ?? 0;
        if (rev !== expectRev) return false;
        if (value === undefined) void db.remove(key);
        else void db.put(key, { rev: rev + 1, value });
        return true;
      }),
    listState: async (prefix: string, opts: { after?: string; limit: number }): Promise<StateEntry[]> => {
      const out: StateEntry[] = [];
      for (const { key, value } of db.getRange({ start: opts.after ?? prefix })) {
        if (!key.startsWith(prefix)) break;
        if (key === opts.after) continue;
        if (out.length >= opts.limit) break;
        out.push({ key, rev: value.rev, value: value.value });
      }
      return out;
    },
  };
}
