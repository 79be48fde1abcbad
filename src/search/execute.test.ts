import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Resource } from '../fhir/resource-types.js';
import { createLmdbStore } from '../store/lmdb/lmdb-store.js';
import type { CurrentRecord, Store, StoreQuery } from '../store/store.js';
import { executeSearch } from './execute.js';
import { ALL, appointment } from './fixtures.js';
import { compileQs, recordOf } from './test-helpers.js';

const opened: Array<{ store: Store; dir: string }> = [];
afterAll(async () => {
  for (const { store, dir } of opened) {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The embedded engine holding these resources, recording the queries the executor sends it. */
async function realStore(resources: Resource[]): Promise<Store & { queries: StoreQuery[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'carnet-execute-'));
  const store = await createLmdbStore({ path: dir });
  opened.push({ store, dir });
  await store.commit(resources.map((r) => ({ record: recordOf(r), expect: { kind: 'any' as const } })));
  const queries: StoreQuery[] = [];
  return Object.assign(Object.create(store) as Store, {
    queries,
    search: (q: StoreQuery) => {
      queries.push(q);
      return store.search(q);
    },
  });
}

const practitioner: Resource = { resourceType: 'Practitioner', id: 'dr-martin', name: [{ family: 'Martin', given: ['Luc'] }], identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000001' }] };
const lab: Resource = { resourceType: 'Organization', id: 'labo-42', name: 'Laboratoire du Forez' };
const data = [...ALL, practitioner, lab];
const idsOf = (recs: CurrentRecord[]) => recs.map((r) => `${r.type}/${r.id}`);

describe('executeSearch', () => {
  it('runs a plain search as one store query', async () => {
    const store = await realStore(data);
    const page = await executeSearch(store, compileQs('Patient', 'gender=female'));
    expect(idsOf(page.records)).toEqual(['Patient/helene']);
    expect(page.total).toBe(1);
    expect(store.queries).toHaveLength(1);
  });

  it('resolves a chain into the ids of its targets', async () => {
    const store = await realStore(data);
    const page = await executeSearch(store, compileQs('Observation', 'subject:Patient.name=hélène'));
    expect(idsOf(page.records)).toEqual(['Observation/glucose']);
    expect(store.queries[1].filter).toEqual({
      $or: [{ idx: { $elemMatch: { p: 'subject', r: { $in: ['Patient/helene'] } } } }, { idx: { $elemMatch: { p: 'subject:Patient.name', v: { $regex: '^helene' } } } }],
    });
  });

  it('resolves chains of several levels and a type guessed from the parameter', async () => {
    const store = await realStore(data);
    const page = await executeSearch(store, compileQs('DocumentReference', 'subject:Patient.general-practitioner:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000001'));
    expect(idsOf(page.records)).toEqual(['DocumentReference/cr-bio']);
    const page2 = await executeSearch(await realStore(data), compileQs('DocumentReference', 'author.name=laboratoire'));
    expect(idsOf(page2.records)).toEqual(['DocumentReference/cr-bio']);
  });

  it('serves IHE MHD ITI-67 chains: patient.identifier, author.family, author.given', async () => {
    const withIns = await executeSearch(await realStore(data), compileQs('DocumentReference', 'patient.identifier=urn:oid:1.2.250.1.213.1.4.8|2800375123456&status=current'));
    expect(idsOf(withIns.records)).toEqual(['DocumentReference/cr-bio']);
    const byAuthor = await executeSearch(await realStore(data), compileQs('DocumentReference', 'author.family=martin&author.given=luc'));
    expect(idsOf(byAuthor.records)).toEqual(['DocumentReference/cr-bio']);
    const other = await executeSearch(await realStore(data), compileQs('DocumentReference', 'author.given=paul'));
    expect(other.records).toEqual([]);
  });

  it('resolves _has into the ids the matching resources refer to', async () => {
    const page = await executeSearch(await realStore(data), compileQs('Patient', '_has:Observation:patient:code=http://loinc.org|2339-0'));
    expect(idsOf(page.records)).toEqual(['Patient/helene']);
    const none = await executeSearch(await realStore(data), compileQs('Patient', '_has:Observation:patient:code=nothing'));
    expect(none.records).toEqual([]);
    const nested = await executeSearch(await realStore(data), compileQs('Practitioner', '_has:Patient:general-practitioner:_has:Observation:patient:code=2339-0'));
    expect(idsOf(nested.records)).toEqual(['Practitioner/dr-martin']);
  });

  it('applies the access clauses to sub-queries', async () => {
    const hidden = { id: { $ne: 'helene' } };
    const page = await executeSearch(await realStore(data), compileQs('Observation', 'subject:Patient.name=helene'), {
      accessFor: (type) => (type === 'Patient' ? [hidden] : []),
    });
    expect(page.records).toEqual([]);
  });

  it('refuses a sub-query with too many matches', async () => {
    await expect(executeSearch(await realStore(data), compileQs('Observation', 'subject:Patient.gender=female,male'), { maxSubqueryMatches: 1 })).rejects.toMatchObject({
      code: 'bad-search',
    });
  });

  it('adds _include and _revinclude after the page, with access and :iterate', async () => {
    const page = await executeSearch(await realStore(data), compileQs('DocumentReference', '_include=DocumentReference:author&_include=DocumentReference:subject:Patient'));
    expect(idsOf(page.included).sort()).toEqual(['Organization/labo-42', 'Patient/helene', 'Practitioner/dr-martin']);

    const rev = await executeSearch(await realStore(data), compileQs('Patient', '_id=helene&_revinclude=Observation:subject&_revinclude=DocumentReference:patient'));
    expect(idsOf(rev.included).sort()).toEqual(['DocumentReference/cr-bio', 'Observation/glucose']);

    const iter = await executeSearch(await realStore(data), compileQs('Observation', '_id=glucose&_include=Observation:subject&_include:iterate=Patient:general-practitioner'));
    expect(idsOf(iter.included)).toEqual(['Patient/helene', 'Practitioner/dr-martin']);

    const masked = await executeSearch(await realStore(data), compileQs('Observation', '_id=glucose&_include=Observation:subject'), {
      accessFor: (type) => (type === 'Patient' ? [{ id: 'nobody' }] : []),
    });
    expect(masked.included).toEqual([]);
  });

  it('cuts includes at the bound, with a warning', async () => {
    const page = await executeSearch(await realStore([...data, appointment]), compileQs('DocumentReference', '_include=DocumentReference:*'), { maxIncluded: 1 });
    expect(page.included).toHaveLength(1);
    expect(page.warnings).toEqual([expect.objectContaining({ code: 'too-costly' })]);
  });
});
