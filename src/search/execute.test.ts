import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord, Store, StoreQuery } from '../store/store.js';
import { executeSearch } from './execute.js';
import { ALL, appointment } from './fixtures.js';
import { compileQs, recordOf } from './test-helpers.js';

/** Enough of a Store for the executor: mingo over records, as the embedded engine evaluates them. */
function memoryStore(resources: Resource[]): Store & { queries: StoreQuery[] } {
  const records = resources.map(recordOf);
  const queries: StoreQuery[] = [];
  return {
    queries,
    info: { engine: 'lmdb', atomicCommit: true, atomicity: 'test' },
    async read(type, id) {
      return records.find((r) => r.type === type && r.id === id);
    },
    async vread() {
      return undefined;
    },
    async search(q) {
      queries.push(q);
      const filter = new Query(q.filter);
      const all = records.filter((r) => q.types.includes(r.type) && filter.test(r as never));
      const spec = Object.fromEntries([...q.sort, ['type', 1], ['id', 1]]);
      const sorted = new Query({}).find(all as never[]).sort(spec).all() as unknown as CurrentRecord[];
      return { records: sorted.slice(q.offset, q.offset + q.limit), ...(q.count ? { total: all.length } : {}) };
    },
    async history() {
      return { records: [], total: 0 };
    },
    async commit() {},
    async ping() {},
    async close() {},
  };
}

const practitioner: Resource = { resourceType: 'Practitioner', id: 'dr-martin', name: [{ family: 'Martin', given: ['Luc'] }], identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000001' }] };
const lab: Resource = { resourceType: 'Organization', id: 'labo-42', name: 'Laboratoire du Forez' };
const data = [...ALL, practitioner, lab];
const idsOf = (recs: CurrentRecord[]) => recs.map((r) => `${r.type}/${r.id}`);

describe('executeSearch', () => {
  it('runs a plain search as one store query', async () => {
    const store = memoryStore(data);
    const page = await executeSearch(store, compileQs('Patient', 'gender=female'));
    expect(idsOf(page.records)).toEqual(['Patient/helene']);
    expect(page.total).toBe(1);
    expect(store.queries).toHaveLength(1);
  });

  it('resolves a chain into the ids of its targets', async () => {
    const store = memoryStore(data);
    const page = await executeSearch(store, compileQs('Observation', 'subject:Patient.name=hélène'));
    expect(idsOf(page.records)).toEqual(['Observation/glucose']);
    expect(store.queries[1].filter).toEqual({ idx: { $elemMatch: { p: 'subject', r: { $in: ['Patient/helene'] } } } });
  });

  it('resolves chains of several levels and a type guessed from the parameter', async () => {
    const store = memoryStore(data);
    const page = await executeSearch(store, compileQs('DocumentReference', 'subject:Patient.general-practitioner:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000001'));
    expect(idsOf(page.records)).toEqual(['DocumentReference/cr-bio']);
    const page2 = await executeSearch(memoryStore(data), compileQs('DocumentReference', 'author.name=laboratoire'));
    expect(idsOf(page2.records)).toEqual(['DocumentReference/cr-bio']);
  });

  it('serves IHE MHD ITI-67 chains: patient.identifier, author.family, author.given', async () => {
    const withIns = await executeSearch(memoryStore(data), compileQs('DocumentReference', 'patient.identifier=urn:oid:1.2.250.1.213.1.4.8|2800375123456&status=current'));
    expect(idsOf(withIns.records)).toEqual(['DocumentReference/cr-bio']);
    const byAuthor = await executeSearch(memoryStore(data), compileQs('DocumentReference', 'author.family=martin&author.given=luc'));
    expect(idsOf(byAuthor.records)).toEqual(['DocumentReference/cr-bio']);
    const other = await executeSearch(memoryStore(data), compileQs('DocumentReference', 'author.given=paul'));
    expect(other.records).toEqual([]);
  });

  it('resolves _has into the ids the matching resources refer to', async () => {
    const page = await executeSearch(memoryStore(data), compileQs('Patient', '_has:Observation:patient:code=http://loinc.org|2339-0'));
    expect(idsOf(page.records)).toEqual(['Patient/helene']);
    const none = await executeSearch(memoryStore(data), compileQs('Patient', '_has:Observation:patient:code=nothing'));
    expect(none.records).toEqual([]);
    const nested = await executeSearch(memoryStore(data), compileQs('Practitioner', '_has:Patient:general-practitioner:_has:Observation:patient:code=2339-0'));
    expect(idsOf(nested.records)).toEqual(['Practitioner/dr-martin']);
  });

  it('applies the access clauses to sub-queries', async () => {
    const hidden = { id: { $ne: 'helene' } };
    const page = await executeSearch(memoryStore(data), compileQs('Observation', 'subject:Patient.name=helene'), {
      accessFor: (type) => (type === 'Patient' ? [hidden] : []),
    });
    expect(page.records).toEqual([]);
  });

  it('refuses a sub-query with too many matches', async () => {
    await expect(executeSearch(memoryStore(data), compileQs('Observation', 'subject:Patient.gender=female,male'), { maxSubqueryMatches: 1 })).rejects.toMatchObject({
      code: 'bad-search',
    });
  });

  it('adds _include and _revinclude after the page, with access and :iterate', async () => {
    const page = await executeSearch(memoryStore(data), compileQs('DocumentReference', '_include=DocumentReference:author&_include=DocumentReference:subject:Patient'));
    expect(idsOf(page.included).sort()).toEqual(['Organization/labo-42', 'Patient/helene', 'Practitioner/dr-martin']);

    const rev = await executeSearch(memoryStore(data), compileQs('Patient', '_id=helene&_revinclude=Observation:subject&_revinclude=DocumentReference:patient'));
    expect(idsOf(rev.included).sort()).toEqual(['DocumentReference/cr-bio', 'Observation/glucose']);

    const iter = await executeSearch(memoryStore(data), compileQs('Observation', '_id=glucose&_include=Observation:subject&_include:iterate=Patient:general-practitioner'));
    expect(idsOf(iter.included)).toEqual(['Patient/helene', 'Practitioner/dr-martin']);

    const masked = await executeSearch(memoryStore(data), compileQs('Observation', '_id=glucose&_include=Observation:subject'), {
      accessFor: (type) => (type === 'Patient' ? [{ id: 'nobody' }] : []),
    });
    expect(masked.included).toEqual([]);
  });

  it('cuts includes at the bound, with a warning', async () => {
    const page = await executeSearch(memoryStore([...data, appointment]), compileQs('DocumentReference', '_include=DocumentReference:*'), { maxIncluded: 1 });
    expect(page.included).toHaveLength(1);
    expect(page.warnings).toEqual([expect.objectContaining({ code: 'too-costly' })]);
  });
});
