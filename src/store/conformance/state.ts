import { describe, expect } from 'vitest';
import type { Suite } from './writes.js';

/** The internal state: compare-and-set, removal, listing by prefix, apart from the resources. */
export function stateTests({ test }: Suite): void {
  describe('internal state', () => {
    test('an absent key reads undefined and is written only when expected absent', async (store) => {
      expect(await store.getState('lease:x')).toBeUndefined();
      expect(await store.putState('lease:x', { holder: 'a' }, 1)).toBe(false);
      expect(await store.putState('lease:x', { holder: 'a' }, 0)).toBe(true);
      expect(await store.getState('lease:x')).toEqual({ key: 'lease:x', rev: 1, value: { holder: 'a' } });
    });
    test('a write at a stale revision changes nothing', async (store) => {
      await store.putState('k', { n: 1 }, 0);
      expect(await store.putState('k', { n: 2 }, 0)).toBe(false);
      expect(await store.putState('k', { n: 2 }, 1)).toBe(true);
      expect(await store.putState('k', { n: 3 }, 1)).toBe(false);
      expect(await store.getState('k')).toEqual({ key: 'k', rev: 2, value: { n: 2 } });
    });
    test('of concurrent writers at one revision exactly one wins', async (store) => {
      await store.putState('k', 0, 0);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.putState('k', i + 1, 1)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await store.getState('k'))!.rev).toBe(2);
    });
    test('undefined removes the entry at its revision only', async (store) => {
      await store.putState('k', 'v', 0);
      expect(await store.putState('k', undefined, 2)).toBe(false);
      expect(await store.putState('k', undefined, 1)).toBe(true);
      expect(await store.getState('k')).toBeUndefined();
      expect(await store.putState('k', 'again', 0)).toBe(true);
    });
    test('listState returns the prefix in key order, pages with after, and leaves resources alone', async (store) => {
      for (const key of ['q:3', 'q:1', 'r:1', 'q:2', 'p:9', 'q.:x']) await store.putState(key, key, 0);
      const all = await store.listState('q:', { limit: 10 });
      expect(all.map((e) => e.key)).toEqual(['q:1', 'q:2', 'q:3']);
      expect((await store.listState('q:', { limit: 2 })).map((e) => e.key)).toEqual(['q:1', 'q:2']);
      expect((await store.listState('q:', { after: 'q:1', limit: 10 })).map((e) => e.key)).toEqual(['q:2', 'q:3']);
      expect((await store.history({ offset: 0, limit: 10 })).total).toBe(0);
      expect((await store.search({ types: ['Patient'], filter: {}, sort: [], offset: 0, limit: 10, count: true })).total).toBe(0);
    });
  });
}
