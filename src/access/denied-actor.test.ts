import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecord } from '../interactions/records.js';
import { indexResource } from '../search/extract.js';
import { registry } from '../search/test-helpers.js';
import { createLmdbStore, type LmdbStore } from '../store/lmdb/lmdb-store.js';
import { readConsent } from './consent.js';
import { blockers, gatherFacts } from './facts.js';

const who = (r: string) => ({ reference: { reference: r } });
const consent = (provision: Record<string, unknown>) => ({ resourceType: 'Consent', status: 'active', patient: { reference: 'Patient/x' }, provision });
const indexed = (resource: Record<string, unknown>) =>
  indexResource(resource as never, registry()).idx.filter((e) => e.p === 'provision-denied-actor').map((e) => e.r).sort();
const denied = (resource: Record<string, unknown>) =>
  [...new Set(readConsent(resource as never, Date.now())!.provisions.filter((p) => p.type === 'deny').flatMap((p) => p.actors))].sort();

describe('provision-denied-actor: the actors a Consent denies, as the access rules read them', () => {
  const shapes: Array<[string, Record<string, unknown>]> = [
    ['a deny', { type: 'deny', actor: [who('Practitioner/a')] }],
    ['a permit', { type: 'permit', actor: [who('Practitioner/a')] }],
    ['a bare provision (a permit)', { actor: [who('Practitioner/a')] }],
    ['a permit with a nested deny', { type: 'permit', actor: [who('Practitioner/a')], provision: [{ type: 'deny', actor: [who('Practitioner/b')] }] }],
    ['a deny whose nested provision takes its type', { type: 'deny', actor: [who('Practitioner/a')], provision: [{ actor: [who('Practitioner/b')] }] }],
    ['a deny with a nested permit', { type: 'deny', provision: [{ type: 'permit', actor: [who('Practitioner/b')] }] }],
    ['three levels, the last inheriting a deny', { type: 'permit', provision: [{ type: 'deny', provision: [{ actor: [who('PractitionerRole/r')] }] }] }],
    ['three levels inheriting from the top', { type: 'deny', provision: [{ provision: [{ actor: [who('Practitioner/c')] }] }] }],
    ['a deny at the third level', { provision: [{ provision: [{ type: 'deny', actor: [who('Practitioner/d')] }] }] }],
  ];
  for (const [name, provision] of shapes) {
    it(name, () => {
      const resource = consent(provision);
      expect(indexed(resource)).toEqual(denied(resource));
    });
  }
  it('finds the blocked professional of a deny and nobody in a permit', () => {
    expect(indexed(consent({ type: 'deny', actor: [who('Practitioner/a')] }))).toEqual(['Practitioner/a']);
    expect(indexed(consent({ type: 'permit', actor: [who('Practitioner/a')] }))).toEqual([]);
  });
});

/** Runs `test` on a fresh embedded store, removed afterwards. */
async function withStore(test: (store: LmdbStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'carnet-facts-'));
  const store = await createLmdbStore({ path: dir });
  try {
    await test(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('blockers: every patient who blocks a professional', () => {
  it('reads them all, however many pages they take, and only blocks', () =>
    withStore(async (store) => {
      const ctx = { now: () => new Date(), registry: registry(), baseUrl: 'https://carnet.example/fhir' };
      const of = (patient: string, provision: Record<string, unknown>) => ({ ...consent(provision), patient: { reference: `Patient/${patient}` } });
      const records = [
        ...['p1', 'p2', 'p3', 'p4', 'p5'].map((p) => of(p, { type: 'deny', actor: [who('Practitioner/z')] })),
        // A mask, an opposition and a revoked block name z too, and block nothing.
        of('p6', { type: 'deny', actor: [who('Practitioner/z')], data: [{ meaning: 'instance', reference: { reference: 'DocumentReference/d' } }] }),
        of('p7', { type: 'deny', actor: [who('Practitioner/z')], purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG' }] }),
        { ...of('p8', { type: 'deny', actor: [who('Practitioner/z')] }), status: 'inactive' },
      ].map((r, i) => ({ record: buildRecord(r as never, 'Consent', `c${i}`, undefined, ctx), expect: { kind: 'absent' as const } }));
      await store.commit(records);
      const want = ['Patient/p1', 'Patient/p2', 'Patient/p3', 'Patient/p4', 'Patient/p5'];
      expect((await blockers(store, ['Practitioner/z'], new Date(), 2)).sort()).toEqual(want);
      expect((await blockers(store, ['Practitioner/z'], new Date())).sort()).toEqual(want);
      expect(await blockers(store, ['Practitioner/other'], new Date(), 2)).toEqual([]);
    }));
});

describe('the médecin traitant among the patients a request names', () => {
  it('is the same whether a few patients are read by id or many found through the index', () =>
    withStore(async (store) => {
      const ctx = { now: () => new Date(), registry: registry(), baseUrl: 'https://carnet.example/fhir' };
      // 30 patients: the GP named by relative reference, by this server's absolute URL, through a
      // role of theirs, or someone else; one deleted.
      const gpOf = (k: number) =>
        [{ reference: 'Practitioner/z' }, { reference: 'https://carnet.example/fhir/Practitioner/z' }, { reference: 'PractitionerRole/rz' }, { reference: 'Practitioner/other' }][k % 4];
      const patients = Array.from({ length: 30 }, (_, k) => buildRecord({ resourceType: 'Patient', generalPractitioner: [gpOf(k)] } as never, 'Patient', `p${k}`, undefined, ctx));
      const role = buildRecord({ resourceType: 'PractitionerRole', practitioner: { reference: 'Practitioner/z' } } as never, 'PractitionerRole', 'rz', undefined, ctx);
      await store.commit([...patients, role].map((record) => ({ record, expect: { kind: 'absent' as const } })));
      await store.commit([{ record: { ...patients[0], versionId: 2, deleted: true, resource: undefined }, expect: { kind: 'version', versionId: 1 } }]);
      const principal = { subject: 'z', scopes: [], scope: 'user/*.rs', fhirUser: { type: 'Practitioner', id: 'z', reference: 'Practitioner/z' } } as never;
      const gp = async (names: string[]) => (await gatherFacts(store, principal, new Date(), async () => names)).gp.sort();
      const all = patients.map((p) => `Patient/${p.id}`);
      const want = all.filter((_, k) => k !== 0 && k % 4 !== 3).sort();
      expect(want).toHaveLength(22);
      // 30 names: through the index; 3 at a time: each read by id.
      expect(await gp(all)).toEqual(want);
      const few: string[] = [];
      for (let k = 0; k < all.length; k += 3) few.push(...(await gp(all.slice(k, k + 3))));
      expect(few.sort()).toEqual(want);
    }));
});
