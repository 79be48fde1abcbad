import { expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from './harness.js';

const patient = (family: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Hélène'] }],
  gender: 'female',
  birthDate: '1980-04-02',
  ...extra,
});

describeEngines('REST interactions', (engine) => {
  let s: TestServer;
  let token: string;
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  });

  it('creates with a server id, then reads with ETag and Last-Modified', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: patient('Martin', { id: 'client-chosen' }) });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(id).not.toBe('client-chosen');
    expect(created.headers.location).toBe(`${s.baseUrl}/Patient/${id}/_history/1`);
    expect(created.headers.etag).toBe('W/"1"');
    expect(created.body.meta.versionId).toBe('1');
    expect(Date.parse(created.body.meta.lastUpdated)).not.toBeNaN();

    const read = await s.request({ method: 'GET', url: `/fhir/Patient/${id}`, token });
    expect(read.status).toBe(200);
    expect(read.headers['content-type']).toContain('application/fhir+json');
    expect(read.headers.etag).toBe('W/"1"');
    expect(new Date(read.headers['last-modified']).getTime()).toBe(Math.floor(Date.parse(created.body.meta.lastUpdated) / 1000) * 1000);
    expect(read.body.name[0].family).toBe('Martin');
  });

  it('keeps every version: update, vread, history, logical delete', async () => {
    const { body: v1 } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: patient('Durand') });
    const v2 = await s.request({ method: 'PUT', url: `/fhir/Patient/${v1.id}`, token, body: { ...v1, gender: 'other' } });
    expect(v2.status).toBe(200);
    expect(v2.body.meta.versionId).toBe('2');
    const old = await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}/_history/1`, token });
    expect(old.status).toBe(200);
    expect(old.body.gender).toBe('female');
    const del = await s.request({ method: 'DELETE', url: `/fhir/Patient/${v1.id}`, token });
    expect(del.status).toBe(204);
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}`, token })).status).toBe(410);
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}/_history/2`, token })).body.gender).toBe('other');
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}/_history/9`, token })).status).toBe(404);
    const hist = await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}/_history`, token });
    expect(hist.body.type).toBe('history');
    expect(hist.body.total).toBe(3);
    expect(hist.body.entry.map((e: any) => e.request.method)).toEqual(['DELETE', 'PUT', 'POST']);
    expect(hist.body.entry[0].resource).toBeUndefined();
    // Deleting again is idempotent and writes no version.
    expect((await s.request({ method: 'DELETE', url: `/fhir/Patient/${v1.id}`, token })).status).toBe(204);
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}/_history`, token })).body.total).toBe(3);
    // An update after a delete brings it back as a new version.
    const back = await s.request({ method: 'PUT', url: `/fhir/Patient/${v1.id}`, token, body: v1 });
    expect(back.status).toBe(201);
    expect(back.body.meta.versionId).toBe('4');
  });

  it('creates on update with a client id, and refuses a body whose id or type disagrees with the URL', async () => {
    const put = await s.request({ method: 'PUT', url: '/fhir/Patient/chosen-id-1', token, body: patient('Petit', { id: 'chosen-id-1' }) });
    expect(put.status).toBe(201);
    expect(put.headers.location).toBe(`${s.baseUrl}/Patient/chosen-id-1/_history/1`);
    const wrongId = await s.request({ method: 'PUT', url: '/fhir/Patient/chosen-id-1', token, body: patient('Petit', { id: 'other' }) });
    expect(wrongId.status).toBe(400);
    expect(wrongId.body.resourceType).toBe('OperationOutcome');
    const wrongType = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.issue[0].diagnostics).toContain('Observation');
  });

  it('honours If-Match with W/"n": 412 on a stale version, nothing written', async () => {
    const { body: v1 } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: patient('Leroy') });
    const stale = await s.request({ method: 'PUT', url: `/fhir/Patient/${v1.id}`, token, body: { ...v1, gender: 'male' }, headers: { 'if-match': 'W/"7"' } });
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    const ok = await s.request({ method: 'PUT', url: `/fhir/Patient/${v1.id}`, token, body: { ...v1, gender: 'male' }, headers: { 'if-match': 'W/"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).toBe('W/"2"');
    const staleDelete = await s.request({ method: 'DELETE', url: `/fhir/Patient/${v1.id}`, token, headers: { 'if-match': 'W/"1"' } });
    expect(staleDelete.status).toBe(412);
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}`, token })).body.gender).toBe('male');
  });

  it('answers Prefer: return=minimal and return=OperationOutcome', async () => {
    const minimal = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: patient('Moreau'), headers: { prefer: 'return=minimal' } });
    expect(minimal.status).toBe(201);
    expect(minimal.text).toBe('');
    expect(minimal.headers.location).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    const oo = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: patient('Moreau'), headers: { prefer: 'return=OperationOutcome' } });
    expect(oo.status).toBe(201);
    expect(oo.body.resourceType).toBe('OperationOutcome');
  });

  it('applies a JSON Patch as a new version, and refuses a failing test operation', async () => {
    const { body: v1 } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: patient('Roux') });
    const ok = await s.request({
      method: 'PATCH', url: `/fhir/Patient/${v1.id}`, token,
      body: JSON.stringify([{ op: 'test', path: '/gender', value: 'female' }, { op: 'replace', path: '/birthDate', value: '1981-05-06' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.birthDate).toBe('1981-05-06');
    expect(ok.body.meta.versionId).toBe('2');
    const failing = await s.request({
      method: 'PATCH', url: `/fhir/Patient/${v1.id}`, token,
      body: JSON.stringify([{ op: 'test', path: '/gender', value: 'male' }, { op: 'replace', path: '/birthDate', value: '1990-01-01' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(failing.status).toBe(422);
    const invalid = await s.request({
      method: 'PATCH', url: `/fhir/Patient/${v1.id}`, token,
      body: JSON.stringify([{ op: 'replace', path: '/birthDate', value: 'not a date' }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(invalid.status).toBe(422);
    expect(invalid.body.issue[0].expression[0]).toContain('birthDate');
    const wrongType = await s.request({ method: 'PATCH', url: `/fhir/Patient/${v1.id}`, token, body: [{ op: 'remove', path: '/gender' }] });
    expect(wrongType.status).toBe(415);
    const now = await s.request({ method: 'GET', url: `/fhir/Patient/${v1.id}`, token });
    expect(now.body.birthDate).toBe('1981-05-06');
    expect(now.body.meta.versionId).toBe('2');
  });

  it('answers 404 not-supported for a type it does not serve', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/MedicationRequest/1', token });
    expect(res.status).toBe(404);
    expect(res.body.issue[0].code).toBe('not-supported');
  });

  it('returns a conditional read 304 with If-None-Match', async () => {
    const { body } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: patient('Simon') });
    const res = await s.request({ method: 'GET', url: `/fhir/Patient/${body.id}`, token, headers: { 'if-none-match': 'W/"1"' } });
    expect(res.status).toBe(304);
  });
});
