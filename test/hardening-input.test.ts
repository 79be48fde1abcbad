import { expect, it } from 'vitest';
import { describeEngines, useServer, versionsButAudit, type TestServer } from './harness.js';

const q = encodeURIComponent;

describeEngines('long indexed values are stored and found by search', (engine) => {
  let s: TestServer;
  let token: string;
  // useServer's token is a system client's.
  useServer(engine, (server, system) => {
    s = server;
    token = system;
  });
  const post = (body: Record<string, unknown>) => s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
  const ids = async (url: string) => {
    const res = await s.request({ method: 'GET', url, token });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    return res.body.entry?.map((e: any) => e.resource.id).sort() ?? [];
  };

  it('a family name of 2,000 characters: found by its first 10 characters, in full, and by :exact', async () => {
    const family = 'Longfamily' + 'x'.repeat(1990);
    const other = family.slice(0, -1) + 'y';
    const multibyte = 'Longfamily' + '中'.repeat(700) + '😀'.repeat(100);
    const a = await post({ resourceType: 'Patient', name: [{ family }] });
    const b = await post({ resourceType: 'Patient', name: [{ family: other }] });
    const c = await post({ resourceType: 'Patient', name: [{ family: multibyte }] });
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
    expect(await ids(`/fhir/Patient?name=${family.slice(0, 10)}`)).toEqual([a.body.id, b.body.id, c.body.id].sort());
    expect(await ids(`/fhir/Patient?family=${q(family)}`)).toEqual([a.body.id]);
    expect(await ids(`/fhir/Patient?family:exact=${q(family)}`)).toEqual([a.body.id]);
    expect(await ids(`/fhir/Patient?family:exact=${q(other)}`)).toEqual([b.body.id]);
    expect(await ids(`/fhir/Patient?family:exact=${q(multibyte)}`)).toEqual([c.body.id]);
    expect(await ids(`/fhir/Patient?family=${q(multibyte.slice(0, 1200))}`)).toEqual([c.body.id]);
    expect(await ids(`/fhir/Patient?family:exact=${q(family.slice(0, -1))}`)).toEqual([]);
  });

  it('an identifier value of 2,000 characters: found by system|value and by value; one differing at its end is not', async () => {
    const value = 'id-' + 'v'.repeat(1997);
    const p = await post({ resourceType: 'Patient', identifier: [{ system: 'urn:test:long', value }] });
    expect(p.status).toBe(201);
    expect(await ids(`/fhir/Patient?identifier=${q(`urn:test:long|${value}`)}`)).toEqual([p.body.id]);
    expect(await ids(`/fhir/Patient?identifier=${q(value)}`)).toEqual([p.body.id]);
    expect(await ids(`/fhir/Patient?identifier=${q(`urn:test:long|${value.slice(0, -1)}w`)}`)).toEqual([]);
  });

  it('a code of 2,000 characters: found across the type and within the patient compartment', async () => {
    const patient = await post({ resourceType: 'Patient' });
    const code = 'c'.repeat(2000);
    const obs = await post({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:test:codes', code }] }, subject: { reference: `Patient/${patient.body.id}` } });
    expect(obs.status).toBe(201);
    expect(await ids(`/fhir/Observation?code=${q(`urn:test:codes|${code}`)}`)).toEqual([obs.body.id]);
    expect(await ids(`/fhir/Observation?patient=${patient.body.id}&code=${q(`urn:test:codes|${code}`)}`)).toEqual([obs.body.id]);
    expect(await ids(`/fhir/Observation?patient=${patient.body.id}&code=${code}`)).toEqual([obs.body.id]);
    expect(await ids(`/fhir/Observation?patient=${patient.body.id}&code=${q(`urn:test:codes|${code.slice(1)}`)}`)).toEqual([]);
  });

  it('a uri and references of 2,000 characters, one of them to a Patient id too long to exist', async () => {
    const source = 'urn:test:source:' + 's'.repeat(2000);
    const p = await post({ resourceType: 'Patient', meta: { source } });
    expect(p.status).toBe(201);
    expect(await ids(`/fhir/Patient?_source=${q(source)}`)).toEqual([p.body.id]);
    const absolute = 'http://other.example/fhir/Patient/' + 'r'.repeat(2000);
    const notAnId = 'Patient/' + 'r'.repeat(2000);
    const o1 = await post({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: absolute } });
    const o2 = await post({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: notAnId } });
    expect(o1.status).toBe(201);
    expect(await ids(`/fhir/Observation?subject=${q(absolute)}`)).toEqual([o1.body.id]);
    // Not a literal reference (an id has at most 64 characters): refused as such, not a 500 (issue 13).
    expect(o2.status).toBe(422);
    expect(o2.body.issue[0].expression).toEqual(['Observation.subject.reference']);
  });

  it('an update and a delete take the long values out of the indexes', async () => {
    const first = 'Changing' + 'a'.repeat(2000);
    const second = 'Changing' + 'b'.repeat(2000);
    const p = await post({ resourceType: 'Patient', name: [{ family: first }], identifier: [{ system: 'urn:test:chg', value: first }] });
    const put = await s.request({ method: 'PUT', url: `/fhir/Patient/${p.body.id}`, token, body: { resourceType: 'Patient', id: p.body.id, name: [{ family: second }], identifier: [{ system: 'urn:test:chg', value: second }] } });
    expect(put.status).toBe(200);
    expect(await ids(`/fhir/Patient?family:exact=${q(first)}`)).toEqual([]);
    expect(await ids(`/fhir/Patient?identifier=${q(`urn:test:chg|${first}`)}`)).toEqual([]);
    expect(await ids(`/fhir/Patient?identifier=${q(`urn:test:chg|${second}`)}`)).toEqual([p.body.id]);
    expect((await s.request({ method: 'DELETE', url: `/fhir/Patient/${p.body.id}`, token })).status).toBe(204);
    expect(await ids(`/fhir/Patient?identifier=${q(`urn:test:chg|${second}`)}`)).toEqual([]);
    expect(await ids(`/fhir/Patient?name=Changing`)).toEqual([]);
  });

  it('a search value of 3,000 characters is searched; past 4,096 characters it is refused with 400 naming the parameter', async () => {
    expect(await ids(`/fhir/Patient?identifier=${'y'.repeat(3000)}`)).toEqual([]);
    expect(await ids(`/fhir/Patient?name=${'y'.repeat(3000)}`)).toEqual([]);
    const res = await s.request({ method: 'GET', url: `/fhir/Patient?identifier=${'y'.repeat(4097)}`, token });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].expression).toEqual(['identifier']);
  });
});

describeEngines('content types, JSON Patch paths and X-Security-Context are checked on write', (engine) => {
  let s: TestServer;
  let token: string;
  // useServer's token is a system client's.
  useServer(engine, (server, system) => {
    s = server;
    token = system;
  });
  const versions = () => versionsButAudit(s, token);
  const raw = (url: string, body: string, headers: Record<string, string>) =>
    s.app.http.inject({ method: 'POST', url, payload: body, headers: { authorization: `Bearer ${token}`, ...headers } });
  const refused = async (res: { status: number; body: any }, status: number, expression: string, before: number) => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.flatMap((i: any) => i.expression ?? [])).toContain(expression);
    expect(await versions()).toBe(before);
  };

  it('a Binary whose contentType is not a media type: 422 naming Binary.contentType, as JSON and as a raw upload', async () => {
    const before = await versions();
    for (const contentType of ['text/中', 'text', 'text/plain; charset']) {
      const json = await s.request({ method: 'POST', url: '/fhir/Binary', token, body: { resourceType: 'Binary', contentType, data: Buffer.from('hi').toString('base64') } });
      await refused(json, 422, 'Binary.contentType', before);
    }
    const upload = await raw('/fhir/Binary', 'hi', { 'content-type': 'text/中' });
    await refused({ status: upload.statusCode, body: upload.json() }, 422, 'Binary.contentType', before);
    const ok = await raw('/fhir/Binary', 'hi', { 'content-type': 'text/plain; charset="utf-8"' });
    expect(ok.statusCode).toBe(201);
  });

  it('an Attachment whose contentType is not a media type: 422 naming the element, in any resource', async () => {
    const before = await versions();
    const doc = await s.request({
      method: 'POST', url: '/fhir/DocumentReference', token,
      body: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'application/中文', url: 'http://example.org/doc' } }] },
    });
    await refused(doc, 422, 'DocumentReference.content[0].attachment.contentType', before);
    const photo = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', photo: [{ contentType: 'image jpeg', url: 'http://example.org/p.jpg' }] } });
    await refused(photo, 422, 'Patient.photo[0].contentType', before);
  });

  it('the raw read of a Binary stored with a bad content type by an earlier version serves application/octet-stream', async () => {
    const created = await raw('/fhir/Binary', 'octets', { 'content-type': 'text/plain' });
    const id = created.json().id;
    const record = (await s.app.store.read('Binary', id))!;
    const resource = { ...record.resource!, contentType: 'text/中', meta: { ...record.resource!.meta, versionId: '2' } };
    await s.app.store.commit([{ record: { ...record, versionId: 2, resource }, expect: { kind: 'version', versionId: 1 } }]);
    const bytes = await s.app.http.inject({ method: 'GET', url: `/fhir/Binary/${id}`, headers: { authorization: `Bearer ${token}`, accept: '*/*' } });
    expect(bytes.statusCode).toBe(200);
    expect(bytes.headers['content-type']).toBe('application/octet-stream');
    expect(bytes.body).toBe('octets');
    const fhir = await s.request({ method: 'GET', url: `/fhir/Binary/${id}`, token, headers: { accept: 'application/fhir+json' } });
    expect(fhir.body.contentType).toBe('text/中');
  });

  it('a JSON Patch through __proto__ or constructor/prototype: 422, nothing polluted, also inside a batch and a transaction', async () => {
    const patient = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Proto' }] } });
    const url = `/fhir/Patient/${patient.body.id}`;
    const before = await versions();
    const attacks = [
      [{ op: 'add', path: '/__proto__/polluted', value: 'yes' }],
      [{ op: 'add', path: '/constructor/prototype/polluted', value: 'yes' }],
      [{ op: 'replace', path: '/name/0/__proto__', value: {} }],
      [{ op: 'copy', from: '/__proto__', path: '/name/0/family' }],
    ];
    for (const ops of attacks) {
      const res = await s.request({ method: 'PATCH', url, token, body: JSON.stringify(ops), headers: { 'content-type': 'application/json-patch+json' } });
      await refused(res, 422, 'Patient', before);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const entry = (ops: unknown) => ({
      request: { method: 'PATCH', url: `Patient/${patient.body.id}` },
      resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(ops)).toString('base64') },
    });
    const batch = await s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'batch', entry: [entry(attacks[0])] } });
    expect(batch.status).toBe(200);
    expect(batch.body.entry[0].response.status).toMatch(/^422/);
    expect(batch.body.entry[0].response.outcome.resourceType).toBe('OperationOutcome');
    const transaction = await s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'transaction', entry: [entry(attacks[1])] } });
    expect(transaction.status).toBe(422);
    expect(transaction.body.resourceType).toBe('OperationOutcome');
    expect(await versions()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const read = await s.request({ method: 'GET', url, token });
    expect(read.body.name).toEqual([{ family: 'Proto' }]);
  });

  it('X-Security-Context of a raw upload must be a reference to a served type: 400 otherwise, nothing written', async () => {
    const patient = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient' } });
    const before = await versions();
    for (const header of ['not a reference', 'Patient', 'Patient/', 'Patient/a/b', 'Unknown/1', 'Patient/bad_id!', 'http://elsewhere.example/fhir/Patient/1', `Patient/${'x'.repeat(65)}`]) {
      const res = await raw('/fhir/Binary', 'hi', { 'content-type': 'text/plain', 'x-security-context': header });
      await refused({ status: res.statusCode, body: res.json() }, 400, 'Binary.securityContext', before);
    }
    const relative = await raw('/fhir/Binary', 'hi', { 'content-type': 'text/plain', 'x-security-context': `Patient/${patient.body.id}` });
    expect(relative.statusCode).toBe(201);
    expect(relative.json().securityContext).toEqual({ reference: `Patient/${patient.body.id}` });
    const absolute = await raw('/fhir/Binary', 'hi', { 'content-type': 'text/plain', 'x-security-context': `${s.baseUrl}/Patient/${patient.body.id}` });
    expect(absolute.statusCode).toBe(201);
    expect(absolute.json().securityContext).toEqual({ reference: `Patient/${patient.body.id}` });
  });
});
