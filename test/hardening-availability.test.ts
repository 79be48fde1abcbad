import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { buildRecord, buildTombstone } from '../src/interactions/records.js';
import { createSearchRegistry } from '../src/search/registry.js';
import type { LmdbStore } from '../src/store/lmdb/lmdb-store.js';
import type { Write } from '../src/store/store.js';
import { describeEngines, startServer, type TestServer } from './harness.js';

// Small limits, so the data stays small.
const LIMITS = { CARNET_SEARCH_BUDGET: '50', CARNET_MAX_STRING_LENGTH: '1000', CARNET_MAX_ARRAY_ITEMS: '20', CARNET_MAX_ELEMENTS: '200' };
const LOINC = 'http://loinc.org';

const patient = (i: number) => ({ resourceType: 'Patient', id: `p${i}`, name: [{ family: `Famille${i}` }] });
const observation = (i: number) => ({
  resourceType: 'Observation',
  id: `o${i}`,
  status: 'final',
  code: { coding: [{ system: LOINC, code: '8251-1' }] },
  subject: { reference: `Patient/p${i % 10}` },
  valueString: `note ${i}`,
});
const put = (r: { resourceType: string; id: string }) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });
const get = (url: string) => ({ request: { method: 'GET', url } });

function expectTooCostly(res: { status: number; body: any }): void {
  expect(res.status).toBe(400);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].code).toBe('too-costly');
  expect(res.body.issue[0].diagnostics).toMatch(/narrow the search/);
}

describeEngines('availability: search budget and size limits', (engine) => {
  let s: TestServer;
  let token: string;
  beforeAll(async () => {
    s = await startServer(engine, LIMITS);
    token = await s.token({ scope: 'system/*.cruds' });
    // 10 Patients, 60 Observations (6 per patient).
    const entry = [...Array.from({ length: 10 }, (_, i) => put(patient(i))), ...Array.from({ length: 60 }, (_, i) => put(observation(i)))];
    const res = await s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'transaction', entry } });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
  });
  afterAll(async () => s?.close());

  it('a search that examines more records than the budget answers 400 too-costly', async () => {
    // :contains reads every Observation of the type: 60 records, over the budget of 50.
    expectTooCostly(await s.request({ method: 'GET', url: '/fhir/Observation?value-string:contains=zzz', token }));
  });

  it('_revinclude counts against the same budget as the search', async () => {
    const alone = await s.request({ method: 'GET', url: '/fhir/Patient?name:contains=famille', token });
    expect(alone.status).toBe(200);
    expect(alone.body.entry).toHaveLength(10);
    // The 10 Patients and their 60 Observations: 70 records.
    expectTooCostly(await s.request({ method: 'GET', url: '/fhir/Patient?name:contains=famille&_revinclude=Observation:subject', token }));
  });

  it('a search under the budget still answers', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/Patient?name=famille3', token });
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: any) => e.resource.id)).toEqual(['p3']);
    if (engine === 'lmdb') {
      // A patient-scoped search reads that patient's candidates only, however large the type. (On
      // FerretDB the engine filters in process: every search reads the whole type, 60 here.)
      const own = await s.request({ method: 'GET', url: '/fhir/Observation?subject=Patient/p3', token });
      expect(own.status).toBe(200);
      expect(own.body.entry).toHaveLength(6);
    }
  });

  it('the entries of a batch share one budget: past it, search entries answer too-costly, reads go on', async () => {
    // Each search reads the 10 Patients: the first five spend the 50 records, the sixth is refused.
    const entry = [...Array.from({ length: 6 }, () => get('Patient?name:contains=famille')), get('Patient/p1')];
    const res = await s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'batch', entry } });
    expect(res.status).toBe(200);
    const statuses = res.body.entry.map((e: any) => e.response.status);
    expect(statuses).toEqual(['200 OK', '200 OK', '200 OK', '200 OK', '200 OK', '400 Bad Request', '200 OK']);
    expect(res.body.entry[5].response.outcome.issue[0].code).toBe('too-costly');
    expect(res.body.entry[6].resource.id).toBe('p1');
  });

  it('each request has its own budget: after a batch spent its budget, a search answers again', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/Patient?name:contains=famille', token });
    expect(res.status).toBe(200);
  });

  it('a resource with too many items in an array answers 413 and nothing is written', async () => {
    const names = Array.from({ length: 21 }, (_, i) => ({ family: `Tropdenoms${i}` }));
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: names } });
    expect(res.status).toBe(413);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].code).toBe('too-costly');
    expect(res.body.issue[0].expression).toEqual(['Patient.name']);
    const found = await s.request({ method: 'GET', url: '/fhir/Patient?family=tropdenoms', token });
    expect(found.body.entry ?? []).toHaveLength(0);
    // Up to the limit is fine.
    const ok = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: names.slice(0, 20) } });
    expect(ok.status).toBe(201);
  });

  it('a resource with a too-long string answers 413; an update with one leaves the resource as it was', async () => {
    const long = 'a'.repeat(1001);
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Longue', given: [long] }] } });
    expect(res.status).toBe(413);
    expect(res.body.issue[0].expression).toEqual(['Patient.name[0].given[0]']);
    expect((await s.request({ method: 'GET', url: '/fhir/Patient?family=longue', token })).body.entry ?? []).toHaveLength(0);

    const upd = await s.request({ method: 'PUT', url: '/fhir/Patient/p1', token, body: { ...patient(1), name: [{ family: long }] } });
    expect(upd.status).toBe(413);
    const read = await s.request({ method: 'GET', url: '/fhir/Patient/p1', token });
    expect(read.body.meta.versionId).toBe('1');
    expect(read.body.name[0].family).toBe('Famille1');
  });

  it('$validate refuses an oversized resource with 413 too, before validating it', async () => {
    const names = Array.from({ length: 21 }, (_, i) => ({ family: `Valide${i}` }));
    const res = await s.request({ method: 'POST', url: '/fhir/Patient/$validate', token, body: { resourceType: 'Patient', name: names } });
    expect(res.status).toBe(413);
    expect(res.body.issue[0].expression).toEqual(['Patient.name']);
  });

  it('arrays within arrays count together: more values in all than the limit answers 413', async () => {
    // Ten names of nineteen given names each: no array over 20 items, but 220 values in all.
    const names = Array.from({ length: 10 }, (_, i) => ({ family: `Imbrique${i}`, given: Array.from({ length: 19 }, (_, j) => `G${j}`) }));
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: names } });
    expect(res.status).toBe(413);
    expect(res.body.issue[0].diagnostics).toMatch(/more than 200 values/);
    expect((await s.request({ method: 'GET', url: '/fhir/Patient?family=imbrique', token })).body.entry ?? []).toHaveLength(0);
  });

  it('a body far past the values limit is refused before it is parsed (413, even if its end is not JSON)', async () => {
    // 300 names: 600 values and more, past the limit of 200; the body is cut short at its end.
    const text = `{"resourceType":"Patient","name":[${Array.from({ length: 300 }, (_, i) => `{"family":"Avant${i}"}`).join(',')}`;
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: text, headers: { 'content-type': 'application/fhir+json' } });
    expect(res.status).toBe(413);
    expect(res.body.issue[0].code).toBe('too-costly');
    expect(res.body.issue[0].diagnostics).toMatch(/more than 200 values/);
    // The same text as an update, and a well-formed body under the limit still parses.
    expect((await s.request({ method: 'PUT', url: '/fhir/Patient/p99', token, body: text, headers: { 'content-type': 'application/fhir+json' } })).status).toBe(413);
    expect((await s.request({ method: 'POST', url: '/fhir/Patient', token, body: '{"resourceType":"Patient","name":[{"family":"Apres"}]', headers: { 'content-type': 'application/fhir+json' } })).status).toBe(400);
  });

  it('a transaction holding an oversized resource answers 413 and writes none of its entries', async () => {
    const entry = [put({ ...patient(20), name: [{ family: 'Transac' }] } as any), put({ ...patient(21), name: Array.from({ length: 21 }, () => ({ family: 'Transac' })) } as any)];
    const res = await s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'transaction', entry } });
    expect(res.status).toBe(413);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1].resource.name']);
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/p20', token })).status).toBe(404);
  });

  it('base64 content is bounded by the Binary limit, not the string limit', async () => {
    const data = Buffer.alloc(3000, 7).toString('base64');
    const res = await s.request({ method: 'POST', url: '/fhir/Binary', token, body: { resourceType: 'Binary', contentType: 'application/octet-stream', data } });
    expect(res.status).toBe(201);
  });
});

/**
 * A long search hands the event loop back: a light request sent while it runs is answered before
 * it ends. Asserted by the order in which the two answers arrive, not by timing. The embedded
 * engine reads 20,000 Observations (tens of milliseconds: many slices); FerretDB, where every
 * search streams the type from the server, fewer.
 */
describeEngines('availability: the event loop keeps answering during a long search', (engine) => {
  let s: TestServer;
  let token: string;
  const count = engine === 'lmdb' ? 20_000 : 1_000;
  beforeAll(async () => {
    s = await startServer(engine);
    token = await s.token({ scope: 'system/*.cruds' });
    const registry = createSearchRegistry();
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const ctx = { now: () => new Date(clock++), registry, baseUrl: s.baseUrl };
    let writes: Write[] = [{ record: buildRecord(patient(0), 'Patient', 'p0', undefined, ctx), expect: { kind: 'absent' } }];
    for (let i = 0; i < count; i++) {
      writes.push({ record: buildRecord(observation(i), 'Observation', `o${i}`, undefined, ctx), expect: { kind: 'absent' } });
      if (writes.length >= 2000) {
        await s.app.store.commit(writes);
        writes = [];
      }
    }
    await s.app.store.commit(writes);
  }, 120_000);
  afterAll(async () => s?.close());

  /**
   * Sends `heavy`, then a light read once it is under way (on the embedded engine: once it has
   * examined records), and says in which order they were answered.
   */
  const readDuring = async (heavy: () => Promise<Awaited<ReturnType<TestServer['request']>>>) => {
    const order: string[] = [];
    const stats = engine === 'lmdb' ? (s.app.store as LmdbStore).stats : undefined;
    const before = stats?.examined ?? 0;
    const long = heavy().then((r) => {
      order.push('heavy');
      return r;
    });
    do await new Promise((resolve) => setImmediate(resolve));
    while (stats && stats.examined === before);
    const light = s.request({ method: 'GET', url: '/fhir/Patient/p0', token }).then((r) => {
      order.push('read');
      return r;
    });
    const [heavyAnswer, read] = await Promise.all([long, light]);
    return { heavyAnswer, read, order };
  };

  it('a read sent during a long search is answered before the search', async () => {
    // The token is verified once beforehand: the read then needs no more than the store.
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/p0', token })).status).toBe(200);
    const { heavyAnswer: search, read, order } = await readDuring(() => s.request({ method: 'GET', url: '/fhir/Observation?value-string:contains=zzz&_count=1', token }));
    expect(search.status).toBe(200);
    expect(search.body.total).toBe(0);
    expect(read.status).toBe(200);
    expect(order).toEqual(['read', 'heavy']);
  }, 60_000);

  it('a read sent during a long batch of light searches is answered before the batch', async () => {
    // On FerretDB each search reads and sorts the collection (about a second here): fewer entries.
    const entry = Array.from({ length: engine === 'lmdb' ? 1000 : 10 }, () => get('Patient?_id=p0'));
    const { heavyAnswer: done, read, order } = await readDuring(() => s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'batch', entry } }));
    expect(done.status).toBe(200);
    expect(done.body.entry.every((e: any) => e.response.status === '200 OK')).toBe(true);
    expect(read.status).toBe(200);
    expect(order).toEqual(['read', 'heavy']);
  }, 60_000);

  // The embedded engine only: it pins one snapshot for a search that pauses. (The MongoDB engine
  // promises no snapshot across the batches of a cursor.)
  it.skipIf(engine !== 'lmdb')('a search that pauses reads every record from the snapshot it started on', async () => {
    const stats = (s.app.store as LmdbStore).stats;
    const before = stats.examined;
    // Read through the code's term index: the ids first, then each record, over many slices.
    const long = s.request({ method: 'GET', url: `/fhir/Observation?code=${LOINC}|8251-1&_total=accurate&_count=1`, token });
    do await new Promise((resolve) => setImmediate(resolve));
    while (stats.examined === before);
    // The last id read (code-unit order) is deleted while the search is paused.
    const last = (await s.app.store.read('Observation', 'o9999'))!;
    await s.app.store.commit([{ record: buildTombstone(last, new Date()), expect: { kind: 'version', versionId: last.versionId } }]);
    expect(stats.examined - before).toBeLessThan(count);
    const res = await long;
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(count);
    const after = await s.request({ method: 'GET', url: `/fhir/Observation?code=${LOINC}|8251-1&_total=accurate&_count=1`, token });
    expect(after.body.total).toBe(count - 1);
  }, 60_000);
});

describe('availability: configuration', () => {
  it('an invalid limit stops start-up with an error naming the variable', () => {
    for (const [name, value] of [['CARNET_SEARCH_BUDGET', 'lots'], ['CARNET_SEARCH_BUDGET', '0'], ['CARNET_MAX_STRING_LENGTH', '-1'], ['CARNET_MAX_ARRAY_ITEMS', '1e3'], ['CARNET_MAX_ELEMENTS', 'many']]) {
      let error: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (e) {
        error = e;
      }
      expect(error, `${name}=${value}`).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(name);
    }
    expect(loadConfig({})).toMatchObject({ searchBudget: 100_000, maxStringLength: 1024 * 1024, maxArrayItems: 1_000, maxElements: 5_000 });
  });
});
