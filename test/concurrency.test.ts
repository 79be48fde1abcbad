import { expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from './harness.js';

describeEngines('concurrent writes to one resource', (engine) => {
  let s: TestServer;
  let token: string;
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  });

  it('loses no update: every acknowledged patch is in the final version', async () => {
    const { body } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Concurrent' }] } });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        s.request({
          method: 'PATCH', url: `/fhir/Patient/${body.id}`, token,
          body: JSON.stringify([{ op: 'add', path: '/name/-', value: { family: `N${i}` } }]),
          headers: { 'content-type': 'application/json-patch+json' },
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    for (const r of results) expect([200, 409]).toContain(r.status);
    const final = await s.request({ method: 'GET', url: `/fhir/Patient/${body.id}`, token });
    expect(Number(final.body.meta.versionId)).toBe(1 + ok.length);
    expect(final.body.name).toHaveLength(1 + ok.length);
    const versions = new Set(ok.map((r) => r.body.meta.versionId));
    expect(versions.size).toBe(ok.length);
  });

  it('concurrent creates with the same If-None-Exist make one resource; the others answer it with 200', async () => {
    const identifier = [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: `race-${engine}` }];
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        s.request({
          method: 'POST', url: '/fhir/Patient', token,
          body: { resourceType: 'Patient', identifier, name: [{ family: `Twin${i}` }] },
          headers: { 'if-none-exist': `identifier=${identifier[0].system}|${identifier[0].value}` },
        }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(15);
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const found = await s.request({ method: 'GET', url: `/fhir/Patient?identifier=${identifier[0].system}|${identifier[0].value}`, token });
    expect(found.body.total).toBe(1);
  });

  it('concurrent transactions creating the same patient conditionally share one Patient', async () => {
    const system = 'urn:oid:1.2.250.1.213.1.4.8';
    const value = `tx-race-${engine}`;
    const transaction = (n: number) => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6a1d1c36-0d5e-4c8e-9d1e-000000000001',
          resource: { resourceType: 'Patient', identifier: [{ system, value }] },
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${system}|${value}` },
        },
        {
          resource: { resourceType: 'Observation', status: 'final', code: { text: `obs ${n}` }, subject: { reference: 'urn:uuid:6a1d1c36-0d5e-4c8e-9d1e-000000000001' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    });
    const results = await Promise.all(Array.from({ length: 6 }, (_, n) => s.request({ method: 'POST', url: '/fhir', token, body: transaction(n) })));
    for (const r of results) expect(r.status).toBe(200);
    const patientStatuses = results.map((r) => r.body.entry[0].response.status).sort();
    expect(patientStatuses).toEqual(['200 OK', '200 OK', '200 OK', '200 OK', '200 OK', '201 Created']);
    const patients = await s.request({ method: 'GET', url: `/fhir/Patient?identifier=${system}|${value}`, token });
    expect(patients.body.total).toBe(1);
    const id = patients.body.entry[0].resource.id;
    const observations = await s.request({ method: 'GET', url: `/fhir/Observation?subject=Patient/${id}`, token });
    expect(observations.body.total).toBe(6);
  });

  it('If-Match races: exactly one of several updates of the same version wins', async () => {
    const { body } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Race' }] } });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        s.request({ method: 'PUT', url: `/fhir/Patient/${body.id}`, token, body: { ...body, gender: i % 2 ? 'male' : 'female' }, headers: { 'if-match': 'W/"1"' } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 412)).toHaveLength(5);
  });
});
