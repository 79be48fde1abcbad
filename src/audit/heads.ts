import type { Store } from '../store/store.js';
import type { Position } from './chain.js';

export interface HeadKeeper {
  /** The heads a commit moved, by state key (chain.ts headKey). */
  moved(heads: Map<string, Position>): void;
  /** Writes what moved since the last write; resolves when it is in the store. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

/**
 * How long a moved head waits before it is written: its write serves every commit meanwhile (on
 * MongoDB a state write is three round trips, per chain).
 */
export const HEAD_DELAY_MS = 5000;

/**
 * Keeps the heads of this process's chains in the store's state, so that $verify sees a chain that
 * lost its last events. Written after the commits, not in them: a sync per commit more would cost
 * what group commit saves. So the last seconds of events before a crash, or a removal made within
 * HEAD_DELAY_MS of them, are not covered by a head (their links still are).
 */
export function createHeadKeeper(store: Store, delayMs = HEAD_DELAY_MS, onError?: (err: unknown) => void): HeadKeeper {
  // The chains are this process's alone: the revision it last wrote is the one in the store.
  const revs = new Map<string, number>();
  // The furthest position told of each chain: commits on their way together may land out of order.
  const furthest = new Map<string, number>();
  let dirty = new Map<string, Position>();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  const write = async (): Promise<void> => {
    const batch = dirty;
    dirty = new Map();
    await Promise.all(
      [...batch].map(async ([key, head]) => {
        try {
          let rev = revs.get(key) ?? 0;
          if (!(await store.putState(key, head, rev))) {
            rev = (await store.getState(key))?.rev ?? 0;
            if (!(await store.putState(key, head, rev))) throw new Error(`the head ${key} changed under this process`);
          }
          revs.set(key, rev + 1);
        } catch (err) {
          if (!dirty.has(key)) dirty.set(key, head);
          onError?.(err);
        }
      }),
    );
  };
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    writing = writing.then(write);
    return writing;
  };

  return {
    moved(heads) {
      for (const [key, head] of heads) {
        if (head.seq <= (furthest.get(key) ?? 0)) continue;
        furthest.set(key, head.seq);
        dirty.set(key, head);
      }
      if (timer) return;
      timer = setTimeout(() => void flush(), delayMs);
      timer.unref();
    },
    flush,
    close: flush,
  };
}
