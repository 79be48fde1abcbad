import { beforeAll, expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from './harness.js';

const q = encodeURIComponent;

describeEngines('long indexed values are stored and found by search', (engine) => {
  let s: TestServer;
  let token: string;
  useServer(engine, (server) => {
    s = server;
  });
  beforeAll(async () => {
    token = await s.token({ scope: 'system/*.cruds' });
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
    expect([o1.status, o2.status]).toEqual([201, 201]);
    expect(await ids(`/fhir/Observation?subject=${q(absolute)}`)).toEqual([o1.body.id]);
    // Not a Patient that can exist (an id has at most 64 characters): stored, in no compartment.
    expect((await s.request({ method: 'GET', url: `/fhir/Observation/${o2.body.id}`, token })).body.subject.reference).toBe(notAnId);
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
