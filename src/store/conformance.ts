import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from './store.js';
import { queryTests } from './conformance/queries.js';
import { writeTests } from './conformance/writes.js';

export { rec } from './conformance/fixtures.js';

/**
 * The storage conformance suite: every engine registers it from its own test file.
 * Each test gets a fresh store from newStore() and closes it afterwards.
 * A test an engine cannot pass goes in `skip` with the reason, and shows as skipped with that reason.
 */
export interface StoreConformanceOptions {
  name: string;
  newStore: () => Promise<Store>;
  skip?: Array<{ reason: string; tests: string[] }>;
}


export function runStoreConformance(opts: StoreConformanceOptions): void {
  const skipped = new Map<string, string>();
  for (const entry of opts.skip ?? []) {
    if (entry.reason.trim() === '') throw new Error('a skip entry must give its reason');
    for (const test of entry.tests) skipped.set(test, entry.reason);
  }
  const registered = new Set<string>();
  let current: Store | undefined;
  let closed = false;

  const test = (title: string, fn: (store: Store) => Promise<void>): void => {
    if (registered.has(title)) throw new Error(`duplicate conformance test name: ${title}`);
    registered.add(title);
    const reason = skipped.get(title);
    if (reason !== undefined) {
      it.skip(`${title} [skipped: ${reason}]`, () => {});
      return;
    }
    it(title, async () => {
      if (!current) throw new Error('no store');
      await fn(current);
    });
  };

  describe(`Store conformance: ${opts.name}`, () => {
    beforeEach(async () => {
      current = await opts.newStore();
      closed = false;
    });
    afterEach(async () => {
      if (current && !closed) await current.close();
      current = undefined;
    });

    writeTests({ test, markClosed: () => (closed = true) });
    queryTests({ test, markClosed: () => (closed = true) });

    it('every skip entry names a test of this suite', () => {
      expect([...skipped.keys()].filter((t) => !registered.has(t))).toEqual([]);
    });
  });
}
