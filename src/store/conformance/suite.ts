import { it } from 'vitest';
import type { Store } from '../store.js';

/** Tests an engine cannot pass: each entry must give its reason, which the skipped test shows. */
export type SkipList = Array<{ reason: string; tests: string[] }>;

/**
 * The registration shared by the conformance suites: a named test runs against the store of the
 * moment (opened by the suite for each test), unless the engine skips it with a reason; and a last
 * test checks that every skip entry names a real test.
 */
export function conformanceTests(skip: SkipList | undefined, store: () => Store | undefined) {
  const skipped = new Map<string, string>();
  for (const entry of skip ?? []) {
    if (entry.reason.trim() === '') throw new Error('a skip entry must give its reason');
    for (const test of entry.tests) skipped.set(test, entry.reason);
  }
  const registered = new Set<string>();
  return {
    test(title: string, fn: (store: Store) => Promise<void>): void {
      if (registered.has(title)) throw new Error(`duplicate conformance test name: ${title}`);
      registered.add(title);
      const reason = skipped.get(title);
      if (reason !== undefined) {
        it.skip(`${title} [skipped: ${reason}]`, () => {});
        return;
      }
      it(title, async () => {
        const current = store();
        if (!current) throw new Error('no store');
        await fn(current);
      });
    },
    /** Unused skip entries, to be asserted empty once every test is registered. */
    unusedSkips: () => [...skipped.keys()].filter((t) => !registered.has(t)),
  };
}
