import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from './store.js';
import { queryTests } from './conformance/queries.js';
import { conformanceTests, type SkipList } from './conformance/suite.js';
import { markTests } from './conformance/marks.js';
import { stateTests } from './conformance/state.js';
import { eraseTests } from './conformance/erase.js';
import { lookupTests } from './conformance/lookup.js';
import { writeTests } from './conformance/writes.js';

export { rec } from './conformance/fixtures.js';
export { MARKED_TYPES } from './conformance/marks.js';
export { TEST_DERIVATION, checkLookupAcrossOpens } from './conformance/lookup.js';

/**
 * The storage conformance suite: every engine registers it from its own test file.
 * Each test gets a fresh store from newStore() (opened with MARKED_TYPES and TEST_DERIVATION) and closes it afterwards.
 * A test an engine cannot pass goes in `skip` with the reason, and shows as skipped with that reason.
 */
export interface StoreConformanceOptions {
  name: string;
  newStore: () => Promise<Store>;
  skip?: SkipList;
}


export function runStoreConformance(opts: StoreConformanceOptions): void {
  let current: Store | undefined;
  let closed = false;
  const { test, unusedSkips } = conformanceTests(opts.skip, () => current);

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
    stateTests({ test, markClosed: () => (closed = true) });
    markTests({ test, markClosed: () => (closed = true) });
    eraseTests({ test, markClosed: () => (closed = true) });
    lookupTests({ test, markClosed: () => (closed = true) });

    it('every skip entry names a test of this suite', () => {
      expect(unusedSkips()).toEqual([]);
    });
  });
}
