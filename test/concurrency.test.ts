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
