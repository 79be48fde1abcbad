import type { CurrentRecord, Store } from '../store/store.js';
import { createChainer } from './chain.js';
import { createHeadKeeper } from './heads.js';

export interface Journal {
  /**
   * Resolves once the records are durable (committed with the others pending at the time).
   * `once`: records written only if none with their id exists (a notification sent once, see
   * src/notify/): one that another write sent first is dropped, not the others. They move no change
   * mark: the access facts kept under the marks never read carnet's notifications (only messages a
   * patient wrote), so a first access's notification leaves the record's facts kept.
   */
  append(records: CurrentRecord[], once?: CurrentRecord[]): Promise<void>;
  /** Commits made and events they carried, since start (for measurements). */
  readonly stats: { commits: number; events: number };
  /** Writes the chains' heads now (heads.ts); at close, and for tests. */
  flushHeads(): Promise<void>;
}

interface Pending {
  records: CurrentRecord[];
  once: CurrentRecord[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: the events of the requests that finish within one turn of the event loop go
 * together. Where the store groups what is on its way into one transaction and one sync
 * (Store.groupsWrites: lmdb-js writes what was queued during a commit in the next one, without
 * waiting for the event loop), several writes may be in flight: holding the next one until the
 * previous had settled made each request wait for the answer of a commit to reach the event loop
 * as well (measured on a read by id at concurrency 16: about 2,615 against 3,080/s). Elsewhere
 * (MongoDB), one write at a time: the events of the requests that finish while it is under way go
 * together in the next, where each would otherwise be a round trip and a journal write of its own
 * (a loaded server answering the requests' reads one by one had them finish one per turn). They
 * are linked into the chains in the order they are sent and written in that order; one that fails
 * makes the chains start anew (chain.ts, restart).
 */
export function createJournal(store: Store): Journal {
  let pending: Pending[] = [];
  let scheduled = false;
  // One write at a time where the store does not group them itself (see above).
  const oneAtATime = !store.groupsWrites;
  let writing = false;
  const stats = { commits: 0, events: 0 };
  const heads = createHeadKeeper(store);
  const chainer = createChainer((moved) => heads.moved(moved));

  // Events have fresh ids: one left out is a fault, and the requests that wait on it fail.
  const appendAll = async (records: CurrentRecord[]) => {
    if (records.length > 0 && (await store.append(records)) < records.length) throw new Error('an access event with an id already used was left out');
  };
  /**
   * Events with the notifications of their accesses, in one append: they land together. A
   * notification another write sent first is left out, not the events: when something was left
   * out, the events are read back to tell which.
   */
  const appendWith = async (records: CurrentRecord[], notices: CurrentRecord[]) => {
    // Two requests of the batch may bring the same notification.
    const once = [...new Map(notices.map((r) => [`${r.type}/${r.id}`, r])).values()];
    // The events' type moves no mark either.
    if ((await store.append([...records, ...once], { marks: false })) === records.length + once.length) return;
    const stored = await Promise.all(records.map((r) => store.read(r.type, r.id)));
    if (stored.some((s, i) => s?.lastUpdated !== records[i].lastUpdated || JSON.stringify(s.resource) !== JSON.stringify(records[i].resource))) {
      throw new Error('an access event with an id already used was left out');
    }
  };

  const flush = async (): Promise<void> => {
    scheduled = false;
    if (pending.length === 0 || (oneAtATime && writing)) return;
    writing = true;
    try {
      await write();
    } finally {
      writing = false;
      // What came meanwhile goes now, together.
      if (oneAtATime && pending.length > 0) schedule();
    }
  };
  const write = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    // Linked in the order sent; the chains' heads are told (heads.ts) only once the write holds.
    const linked = chainer.link(batch.flatMap((p) => p.records));
    // Mostly events alone. The requests whose access makes a notification append theirs with it,
    // beside the others rather than taking them along: if that write fails, only they fail.
    const plain = batch.filter((p) => p.once.length === 0);
    const noticed = batch.filter((p) => p.once.length > 0);
    const [appended, withNotices] = await Promise.allSettled([
      appendAll(plain.flatMap((p) => p.records)),
      noticed.length === 0 ? Promise.resolve() : appendWith(noticed.flatMap((p) => p.records), noticed.flatMap((p) => p.once)),
    ]);
    if (appended.status === 'fulfilled' && withNotices.status === 'fulfilled') {
      linked.commit();
      stats.commits++;
      stats.events += batch.reduce((n, p) => n + p.records.length, 0);
      for (const p of batch) p.resolve();
      return;
    }
    // A part that failed leaves its events missing from the chains: they start anew. The other
    // part's requests have their events and are answered.
    chainer.restart();
    const settle = (part: PromiseSettledResult<void>, pendings: Pending[]) => {
      for (const p of pendings) part.status === 'fulfilled' ? p.resolve() : p.reject(part.reason);
    };
    settle(appended, plain);
    settle(withNotices, noticed);
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  };

  return {
    stats,
    flushHeads: () => heads.flush(),
    append(records, once = []) {
      if (records.length === 0 && once.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        pending.push({ records, once, resolve, reject });
        schedule();
      });
    },
  };
}
