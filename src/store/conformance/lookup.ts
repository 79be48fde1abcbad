import { describe, expect } from 'vitest';
import type { CurrentRecord, Derivation, LookupHit, Store } from '../store.js';
import { T, any, rec } from './fixtures.js';
import type { Suite } from './writes.js';

/**
 * The Derivation the suite's stores are opened with: a Consent or Patient gives, for each of its
 * `actor` index entries, the key '<first compartment>|<actor>' with its `note` as the value; so its
 * entries rest on the resource and on the search data alike. One whose note is 'notice' also gives
 * '<first compartment>|notice:<id>', a key no other record gives (`sole`).
 */
export const TEST_DERIVATION: Derivation = {
  version: 'conformance-1',
  types: ['Consent', 'Patient'],
  derive: (record: CurrentRecord) => [
    ...record.idx
      .filter((e) => e.p === 'actor' && typeof e.r === 'string')
      .map((e) => ({ key: `${record.comp[0] ?? '-'}|${e.r}`, value: { note: record.resource?.note ?? null } })),
    ...(record.resource?.note === 'notice' ? [{ key: `${record.comp[0] ?? '-'}|notice:${record.id}`, value: { note: 'notice' }, sole: true }] : []),
  ],
};

const actor = (r: string) => ({ p: 'actor', r });
const consent = (id: string, v: number, t: number, actors: string[], note: string, comp = ['Patient/p1']) =>
  rec('Consent', id, v, T(t), { idx: actors.map(actor), comp, data: { note } });
const brief = (hits: LookupHit[]) => hits.map((h) => `${h.key} ${h.type}/${h.id} ${(h.value as { note: string }).note}`);

/** Store.lookup: the entries of the Derivation, kept with every write, reindex and erasure. */
export function lookupTests({ test }: Suite): void {
  describe('lookup', () => {
    test('finds the entries of current records by key, in key order, and nothing for other keys', async (store) => {
      await store.commit([any(consent('c2', 1, 1, ['Practitioner/a'], 'second')), any(consent('c1', 1, 1, ['Practitioner/a', 'Practitioner/b'], 'first'))]);
      await store.commit([any(rec('Observation', 'o1', 1, T(2), { idx: [actor('Practitioner/a')], comp: ['Patient/p1'] }))]);
      expect(brief(await store.lookup!(['Patient/p1|Practitioner/b', 'Patient/p1|Practitioner/a', 'Patient/p2|Practitioner/a']))).toEqual([
        'Patient/p1|Practitioner/a Consent/c1 first',
        'Patient/p1|Practitioner/a Consent/c2 second',
        'Patient/p1|Practitioner/b Consent/c1 first',
      ]);
      // A key is whole: no prefix of another key finds it.
      expect(await store.lookup!(['Patient/p1|Practitioner/', 'Patient/p1'])).toEqual([]);
      expect(await store.lookup!([])).toEqual([]);
    });
    test('an update replaces the entries of the version before; a deletion leaves none', async (store) => {
      await store.commit([any(consent('c1', 1, 1, ['Practitioner/a', 'Practitioner/b'], 'first'))]);
      await store.commit([{ record: consent('c1', 2, 2, ['Practitioner/b', 'Practitioner/c'], 'changed'), expect: { kind: 'version', versionId: 1 } }]);
      const keys = ['Patient/p1|Practitioner/a', 'Patient/p1|Practitioner/b', 'Patient/p1|Practitioner/c'];
      expect(brief(await store.lookup!(keys))).toEqual(['Patient/p1|Practitioner/b Consent/c1 changed', 'Patient/p1|Practitioner/c Consent/c1 changed']);
      await store.commit([any(rec('Consent', 'c1', 3, T(3), { deleted: true, comp: ['Patient/p1'] }))]);
      expect(await store.lookup!(keys)).toEqual([]);
    });
    test('a refused commit leaves the entries as they were', async (store) => {
      await store.commit([any(consent('c1', 1, 1, ['Practitioner/a'], 'first'))]);
      await expect(
        store.commit([
          { record: consent('c2', 1, 2, ['Practitioner/a'], 'new'), expect: { kind: 'absent' } },
          { record: consent('c1', 2, 2, ['Practitioner/z'], 'stale'), expect: { kind: 'version', versionId: 7 } },
        ]),
      ).rejects.toThrow();
      expect(brief(await store.lookup!(['Patient/p1|Practitioner/a', 'Patient/p1|Practitioner/z']))).toEqual(['Patient/p1|Practitioner/a Consent/c1 first']);
    });
    test('appended records give their entries', async (store) => {
      expect(await store.append([consent('c1', 1, 1, ['Practitioner/a'], 'appended')])).toBe(1);
      expect(brief(await store.lookup!(['Patient/p1|Practitioner/a']))).toEqual(['Patient/p1|Practitioner/a Consent/c1 appended']);
    });
    test("an appended record's entries lie beside those other records give under the same key; those only it gives, alone", async (store) => {
      await store.commit([any(consent('c2', 1, 1, ['Practitioner/a'], 'committed'))]);
      expect(await store.append([consent('c1', 1, 2, ['Practitioner/a'], 'appended'), consent('c3', 1, 2, ['Practitioner/b'], 'notice'), consent('c2', 1, 2, ['Practitioner/z'], 'again')])).toBe(2);
      expect(brief(await store.lookup!(['Patient/p1|Practitioner/a', 'Patient/p1|Practitioner/b', 'Patient/p1|Practitioner/z', 'Patient/p1|notice:c3']))).toEqual([
        'Patient/p1|Practitioner/a Consent/c1 appended',
        'Patient/p1|Practitioner/a Consent/c2 committed',
        'Patient/p1|Practitioner/b Consent/c3 notice',
        'Patient/p1|notice:c3 Consent/c3 notice',
      ]);
      // Its later versions and its erasure move its entries as any record's.
      await store.commit([{ record: consent('c1', 2, 3, ['Practitioner/b'], 'moved'), expect: { kind: 'version', versionId: 1 } }]);
      expect(await store.erase([{ type: 'Consent', id: 'c3' }])).toBe(1);
      expect(brief(await store.lookup!(['Patient/p1|Practitioner/a', 'Patient/p1|Practitioner/b', 'Patient/p1|notice:c3']))).toEqual([
        'Patient/p1|Practitioner/a Consent/c2 committed',
        'Patient/p1|Practitioner/b Consent/c1 moved',
      ]);
    });
    test('new search data derives the entries again; erasure removes them', async (store) => {
      await store.commit([any(consent('c1', 1, 1, ['Practitioner/a'], 'first')), any(consent('c2', 1, 1, ['Practitioner/a'], 'second'))]);
      expect(await store.updateSearchData([{ type: 'Consent', id: 'c1', versionId: 1, idx: [actor('Practitioner/b')], comp: ['Patient/p2'] }])).toBe(1);
      expect(brief(await store.lookup!(['Patient/p1|Practitioner/a', 'Patient/p2|Practitioner/b']))).toEqual([
        'Patient/p1|Practitioner/a Consent/c2 second',
        'Patient/p2|Practitioner/b Consent/c1 first',
      ]);
      expect(await store.erase([{ type: 'Consent', id: 'c2' }])).toBe(1);
      expect(brief(await store.lookup!(['Patient/p1|Practitioner/a', 'Patient/p2|Practitioner/b']))).toEqual(['Patient/p2|Practitioner/b Consent/c1 first']);
    });
  });
}

/**
 * Opens of one store with and without a Derivation, and with another version of it: the entries
 * are derived again from every current record whenever what the store held may be incomplete or
 * of another derivation. `open` opens the same store (path or database) each time.
 */
export async function checkLookupAcrossOpens(open: (derivation?: Derivation) => Promise<Store>): Promise<void> {
  const keys = ['Patient/p1|Practitioner/a', 'Patient/p1|Practitioner/b'];
  // Written by a store that keeps no entries (an earlier layout).
  let store = await open();
  expect(store.lookup).toBeUndefined();
  await store.commit([any(consent('c1', 1, 1, ['Practitioner/a'], 'before'))]);
  await store.close();
  store = await open(TEST_DERIVATION);
  expect(brief(await store.lookup!(keys))).toEqual(['Patient/p1|Practitioner/a Consent/c1 before']);
  await store.close();
  // Opened without the derivation meanwhile: its writes kept no entries, so the next open derives them all again.
  store = await open();
  await store.commit([any(consent('c2', 1, 2, ['Practitioner/b'], 'meanwhile')), { record: consent('c1', 2, 2, ['Practitioner/b'], 'moved'), expect: { kind: 'version', versionId: 1 } }]);
  await store.close();
  store = await open(TEST_DERIVATION);
  expect(brief(await store.lookup!(keys))).toEqual(['Patient/p1|Practitioner/b Consent/c1 moved', 'Patient/p1|Practitioner/b Consent/c2 meanwhile']);
  await store.close();
  // Another version of the derivation: its entries replace the old ones whole.
  const other: Derivation = { ...TEST_DERIVATION, version: 'conformance-2', derive: (r) => TEST_DERIVATION.derive(r).map((e) => ({ key: `v2:${e.key}`, value: e.value })) };
  store = await open(other);
  expect(await store.lookup!(keys)).toEqual([]);
  expect(brief(await store.lookup!(keys.map((k) => `v2:${k}`)))).toEqual(['v2:Patient/p1|Practitioner/b Consent/c1 moved', 'v2:Patient/p1|Practitioner/b Consent/c2 meanwhile']);
  await store.close();
}
