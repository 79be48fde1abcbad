import { expect, it } from 'vitest';
import { createValidator } from '../src/validation/validator.js';
import { describeEngines, useServer, type TestServer } from './harness.js';

/** The Bundles carnet answers with are valid R4 themselves. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describeEngines('conformance: the answers carnet emits', (engine) => {
  let s: TestServer;
  let token: string;
  const validator = createValidator();
  const errorsOf = (resource: unknown) => validator.validate(resource).issues.filter((i) => i.severity === 'error');
  // useServer's token is a system client's.
  useServer(engine, (server, system) => {
    s = server;
    token = system;
  });

  it('gives history entries a lastModified that is an instant, as transaction responses do', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Historique' }] } });
    await s.request({ method: 'PUT', url: `/fhir/Patient/${created.body.id}`, token, body: { resourceType: 'Patient', id: created.body.id, name: [{ family: 'Historique2' }] } });
    for (const url of [`/fhir/Patient/${created.body.id}/_history`, '/fhir/Patient/_history', '/fhir/_history']) {
      const res = await s.request({ method: 'GET', url, token });
      expect(res.status).toBe(200);
      expect(res.body.entry.length).toBeGreaterThanOrEqual(2);
      for (const entry of res.body.entry) {
        expect(entry.response.lastModified).toMatch(INSTANT);
        expect(entry.response.lastModified).toBe(entry.resource.meta.lastUpdated);
      }
      expect(errorsOf(res.body)).toEqual([]);
    }
  });

  it('leaves entry out of a searchset without matches, and of _summary=count', async () => {
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Compté' }] } });
    const none = await s.request({ method: 'GET', url: '/fhir/Patient?family=Personne-de-ce-nom', token });
    expect(none.status).toBe(200);
    expect(none.body.total).toBe(0);
    expect(none.body).not.toHaveProperty('entry');
    expect(errorsOf(none.body)).toEqual([]);
    const count = await s.request({ method: 'GET', url: '/fhir/Patient?family=Compté&_summary=count', token });
    expect(count.status).toBe(200);
    expect(count.body.total).toBe(1);
    expect(count.body).not.toHaveProperty('entry');
    expect(errorsOf(count.body)).toEqual([]);
  });

  it('leaves entry out of a history without versions', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/Consent/_history', token });
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(0);
    expect(res.body).not.toHaveProperty('entry');
    expect(errorsOf(res.body)).toEqual([]);
  });
});
