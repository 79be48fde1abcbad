import { expect, it } from 'vitest';
import { describeEngines, useServer, versionsButAudit, type TestServer } from './harness.js';

describeEngines('bad input answers 4xx with an OperationOutcome and writes nothing', (engine) => {
  let s: TestServer;
  let token: string;
  const versions = () => versionsButAudit(s, token);
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  }, { CARNET_BODY_LIMIT: String(64 * 1024) });

  const cases: Array<[string, () => { method: string; url: string; body?: unknown; headers?: Record<string, string> }, number, RegExp?]> = [
    ['malformed JSON', () => ({ method: 'POST', url: '/fhir/Patient', body: '{"resourceType": "Patient", ', headers: { 'content-type': 'application/fhir+json' } }), 400, /not valid JSON/],
    ['an array instead of a resource', () => ({ method: 'POST', url: '/fhir/Patient', body: '[]', headers: { 'content-type': 'application/fhir+json' } }), 400],
    ['an empty body', () => ({ method: 'POST', url: '/fhir/Patient', body: '', headers: { 'content-type': 'application/fhir+json' } }), 400],
    ['an unknown element', () => ({ method: 'POST', url: '/fhir/Patient', body: { resourceType: 'Patient', nickname: 'Lulu' } }), 422, /nickname/],
    ['a wrong value type', () => ({ method: 'POST', url: '/fhir/Patient', body: { resourceType: 'Patient', birthDate: 12 } }), 422],
    ['an invalid date', () => ({ method: 'POST', url: '/fhir/Patient', body: { resourceType: 'Patient', birthDate: '2026-13-45' } }), 422],
    ['a missing required element', () => ({ method: 'POST', url: '/fhir/Observation', body: { resourceType: 'Observation', status: 'final' } }), 422, /code/],
    ['a deeply nested body', () => {
      let deep: any = { url: 'x' };
      for (let i = 0; i < 200; i++) deep = { extension: [deep], url: 'x' };
      return { method: 'POST', url: '/fhir/Patient', body: { resourceType: 'Patient', extension: [deep] } };
    }, 400, /nests deeper/],
    ['a body over the size limit', () => ({ method: 'POST', url: '/fhir/Patient', body: { resourceType: 'Patient', name: [{ text: 'x'.repeat(100 * 1024) }] } }), 413],
    ['a text/plain body', () => ({ method: 'POST', url: '/fhir/Patient', body: 'hello', headers: { 'content-type': 'text/plain' } }), 415],
    ['an XML body', () => ({ method: 'POST', url: '/fhir/Patient', body: '<Patient xmlns="http://hl7.org/fhir"/>', headers: { 'content-type': 'application/fhir+xml' } }), 415],
    ['an invalid id in the URL', () => ({ method: 'PUT', url: '/fhir/Patient/bad_id!', body: { resourceType: 'Patient', id: 'bad_id!' } }), 400],
  ];

  for (const [name, make, status, message] of cases) {
    it(`${name}: ${status}`, async () => {
      const before = await versions();
      const res = await s.request({ ...make(), token });
      expect(res.status).toBe(status);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue.length).toBeGreaterThan(0);
      if (message) expect(JSON.stringify(res.body.issue)).toMatch(message);
      expect(await versions()).toBe(before);
    });
  }

  it('names each problem with its path', async () => {
    const res = await s.request({
      method: 'POST', url: '/fhir/Patient', token,
      body: { resourceType: 'Patient', birthDate: 'yesterday', name: [{ family: 'Ok' }, { given: 3 }], nickname: 'x' },
    });
    expect(res.status).toBe(422);
    const paths = res.body.issue.flatMap((i: any) => i.expression ?? []);
    expect(paths).toEqual(expect.arrayContaining(['Patient.birthDate', 'Patient.name[1].given']));
  });

  it('answers 406 to a request for XML, with a JSON OperationOutcome', async () => {
    const { body } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient' } });
    const accept = await s.request({ method: 'GET', url: `/fhir/Patient/${body.id}`, token, headers: { accept: 'application/fhir+xml' } });
    expect(accept.status).toBe(406);
    expect(accept.body.resourceType).toBe('OperationOutcome');
    const format = await s.request({ method: 'GET', url: `/fhir/Patient/${body.id}?_format=xml`, token });
    expect(format.status).toBe(406);
    const json = await s.request({ method: 'GET', url: `/fhir/Patient/${body.id}?_format=json&_pretty=true`, token });
    expect(json.status).toBe(200);
    expect(json.text).toContain('\n  "resourceType": "Patient"');
    const plain = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: JSON.stringify({ resourceType: 'Patient' }), headers: { 'content-type': 'application/json' } });
    expect(plain.status).toBe(201);
  });

  it('treats operators in query values as text', async () => {
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Ordinaire' }] } });
    // `name[$ne]` is an unknown parameter (a warning), `$where` a family name nobody has: no match, not every Patient.
    const res = await s.request({ method: 'GET', url: '/fhir/Patient?name[$ne]=x&family=$where', token });
    expect(res.status).toBe(200);
    expect(res.body.entry.filter((e: any) => e.search.mode === 'match')).toEqual([]);
    expect(res.body.entry.find((e: any) => e.search.mode === 'outcome').resource.issue[0].expression).toEqual(['name[$ne]']);
    const strict = await s.request({ method: 'GET', url: '/fhir/Patient?name[$ne]=x', token, headers: { prefer: 'handling=strict' } });
    expect(strict.status).toBe(400);
  });
});
