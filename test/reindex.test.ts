import { expect, it } from 'vitest';
import { reindexAll } from '../src/search/reindex.js';
import { createSearchRegistry, loadConformanceSearchParameters, type SearchParameter } from '../src/search/registry.js';
import { describeEngines, useServer, type TestServer } from './harness.js';

const NICKNAME: SearchParameter = {
  resourceType: 'SearchParameter',
  url: 'https://carnet.example/fhir/SearchParameter/Patient-nickname',
  name: 'nickname',
  status: 'active',
  code: 'nickname',
  base: ['Patient'],
  type: 'string',
  expression: "Patient.name.where(use = 'nickname').given",
  description: 'A nickname (test parameter)',
};

describeEngines('reindexing after a search parameter is added', (engine) => {
  let s: TestServer;
  let token: string;
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  });

  it('indexes existing resources for the new parameter without writing new versions', async () => {
    for (const given of ['Lulu', 'Bibi']) {
      await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ use: 'nickname', given: [given] }, { family: 'Official' }] } });
    }
    const registry = createSearchRegistry([...loadConformanceSearchParameters(), NICKNAME]);
    const nickname = { idx: { $elemMatch: { p: 'nickname', v: 'lulu' } } };
    const before = await s.app.store.search({ types: ['Patient'], filter: nickname, sort: [], offset: 0, limit: 10, count: false });
    expect(before.records).toEqual([]);
    const result = await reindexAll(s.app.store, registry, { baseUrl: s.baseUrl, batch: 1, types: ['Patient'] });
    expect(result).toEqual({ examined: 2, updated: 2 });
    const after = await s.app.store.search({ types: ['Patient'], filter: nickname, sort: [], offset: 0, limit: 10, count: false });
    expect(after.records.map((r) => r.resource?.name)).toHaveLength(1);
    expect(after.records[0].versionId).toBe(1);
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/_history', token })).body.total).toBe(2);
  });
});
