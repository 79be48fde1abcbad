import type { CurrentRecord, Store } from '../store/store.js';
import { createChainer } from './chain.js';
import { createHeadKeeper } from './heads.js';

export interface Journal {
  /** Resolves once the records are durable (committed with the others pending at the time). */
  append(records: CurrentRecord[]): Promise<void>;
  /** Commits made and events they carried, since start (for measurements). */
  readonly stats: { commits: number; events: number };
  /** Writes the chains' heads now (heads.ts); at close, and for tests. */
  flushHeads(): Promise<void>;
}

interface Pending {
  records: CurrentRecord[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: the events of every request that finishes while a commit is on its way (or within
 * the same turn of the event loop) go together in the next commit, one sync for all. At most one
 * commit is in flight, so under load each commit carries what gathered during the previous one.
 */
export function createJournal(store: Store): Journal {
  let pending: Pending[] = [];
  let scheduled = false;
  let inFlight = false;
  const stats = { commits: 0, events: 0 };
  const heads = createHeadKeeper(store);
  const chainer = createChainer((moved) => heads.moved(moved));

  const flush = async (): Promise<void> => {
    scheduled = false;
    if (inFlight || pending.length === 0) return;
    inFlight = true;
    const batch = pending;
    pending = [];
    const records = batch.flatMap((p) => p.records);
    // Linked in commit order; the chains' heads move only once the commit holds.
    const linked = chainer.link(records);
    try {
      await store.commit(records.map((record) => ({ record, expect: { kind: 'absent' as const } })));
      linked.commit();
      stats.commits++;
      stats.events += records.length;
      for (const p of batch) p.resolve();
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      inFlight = false;
      if (pending.length > 0) schedule();
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  };

  return {
    stats,
    flushHeads: () => heads.flush(),
    append(records) {
      if (records.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        pending.push({ records, resolve, reject });
        if (!inFlight) schedule();
      });
    },
  };
}
