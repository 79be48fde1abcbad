import { expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from './harness.js';

const INS = 'urn:oid:1.2.250.1.213.1.4.8';
const withIns = (nir: string, family = 'Bernard') => ({
  resourceType: 'Patient',
  identifier: [{ system: INS, value: nir }],
  name: [{ family }],
});

describeEngines('conditional create, update and delete', (engine) => {
  let s: TestServer;
  let token: string;
  const count = async (nir: string) =>
    (await s.request({ method: 'GET', url: `/fhir/Patient?identifier=${encodeURIComponent(`${INS}|${nir}`)}&_total=accurate`, token })).body.total;
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  });

  it('If-None-Exist creates once, then returns the existing resource', async () => {
    const criteria = `identifier=${INS}|180047512345678`;
    const first = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('180047512345678'), headers: { 'if-none-exist': criteria } });
    expect(first.status).toBe(201);
    const second = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('180047512345678'), headers: { 'if-none-exist': criteria } });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(await count('180047512345678')).toBe(1);
  });

  it('If-None-Exist matching several resources is 412 and writes nothing', async () => {
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('2800', 'Twin') });
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('2800', 'Twin') });
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('2800', 'Twin'), headers: { 'if-none-exist': `identifier=${INS}|2800` } });
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await count('2800')).toBe(2);
  });

  it('conditional update creates when nothing matches, updates the one match, refuses several', async () => {
    const url = `/fhir/Patient?identifier=${encodeURIComponent(`${INS}|3900`)}`;
    const created = await s.request({ method: 'PUT', url, token, body: withIns('3900', 'Fournier') });
    expect(created.status).toBe(201);
    const updated = await s.request({ method: 'PUT', url, token, body: withIns('3900', 'Fournier-Blanc') });
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    expect(updated.body.meta.versionId).toBe('2');
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('3900', 'Homonyme') });
    const several = await s.request({ method: 'PUT', url, token, body: withIns('3900', 'Nope') });
    expect(several.status).toBe(412);
  });

  it('conditional delete removes the one match and refuses several', async () => {
    const { body } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('4100', 'Girard') });
    const del = await s.request({ method: 'DELETE', url: `/fhir/Patient?identifier=${encodeURIComponent(`${INS}|4100`)}`, token });
    expect(del.status).toBe(204);
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${body.id}`, token })).status).toBe(410);
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('4200') });
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: withIns('4200') });
    const several = await s.request({ method: 'DELETE', url: `/fhir/Patient?identifier=${encodeURIComponent(`${INS}|4200`)}`, token });
    expect(several.status).toBe(412);
    expect(await count('4200')).toBe(2);
  });

  it('refuses conditional criteria it does not understand instead of matching everything', async () => {
    const res = await s.request({ method: 'DELETE', url: '/fhir/Patient?not-a-parameter=1', token });
    expect(res.status).toBe(400);
    const none = await s.request({ method: 'DELETE', url: '/fhir/Patient', token });
    expect(none.status).toBe(400);
  });
});
