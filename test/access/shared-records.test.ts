import { beforeAll, expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from '../harness.js';
import { actor, consent } from './world.js';

/**
 * A resource in several patients' records (an Appointment of a couple seen together) is hidden from
 * a professional one of them blocks, whichever patient the request names: a block overrides
 * everything, and the answer must not depend on how the professional asks.
 */
describeEngines('access: a resource shared by two records follows the block of either patient', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => {
    s = server;
    system = token;
  });
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};

  const post = async (body: Record<string, unknown>, token = system) => {
    const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    return res.body;
  };
  const appointment = (...refs: string[]) => ({ resourceType: 'Appointment', status: 'proposed', participant: refs.map((reference) => ({ actor: { reference }, status: 'accepted' })) });
  const found = async (token: string, url: string) => {
    const res = await s.request({ method: 'GET', url, token });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    return { ids: (res.body.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort(), total: res.body.total };
  };
  const status = async (token: string, url: string) => (await s.request({ method: 'GET', url, token })).status;

  beforeAll(async () => {
    ids.doc = (await post({ resourceType: 'Practitioner', name: [{ family: 'Permis' }] })).id;
    ids.gp = (await post({ resourceType: 'Practitioner', name: [{ family: 'Traitant' }] })).id;
    ids.a = (await post({ resourceType: 'Patient', birthDate: '1970-01-01', generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] })).id;
    ids.b = (await post({ resourceType: 'Patient', birthDate: '1972-01-01' })).id;
    tokens.doc = await s.token({ fhirUser: `Practitioner/${ids.doc}`, scope: 'user/*.cruds' });
    tokens.gp = await s.token({ fhirUser: `Practitioner/${ids.gp}`, scope: 'user/*.cruds' });
    tokens.b = await s.token({ fhirUser: `Patient/${ids.b}`, scope: 'user/*.cruds' });
    tokens.a = await s.token({ fhirUser: `Patient/${ids.a}`, scope: 'user/*.cruds' });
    await post(consent(ids.a, { type: 'permit', actor: [actor(`Practitioner/${ids.doc}`)] }), tokens.a);
    ids.alone = (await post(appointment(`Patient/${ids.a}`))).id;
    ids.shared = (await post(appointment(`Patient/${ids.a}`, `Patient/${ids.b}`))).id;
    // One the authorized professional books for both, before B blocks them: an author sees what they wrote.
    ids.own = (await post(appointment(`Patient/${ids.a}`, `Patient/${ids.b}`, `Practitioner/${ids.doc}`), tokens.doc)).id;
  });
  const mine = (who: string) => (who === 'doc' ? [ids.own] : []);

  const views = (token: string) => ({
    named: () => found(token, `/fhir/Appointment?patient=${ids.a}&_total=accurate`),
    compartment: () => found(token, `/fhir/Patient/${ids.a}/Appointment?_total=accurate`),
    across: () => found(token, '/fhir/Appointment?_total=accurate'),
    read: () => status(token, `/fhir/Appointment/${ids.shared}`),
  });

  it('before any block, the professional A authorized and A\'s médecin traitant see the shared appointment', async () => {
    for (const who of ['doc', 'gp']) {
      const v = views(tokens[who]);
      expect((await v.named()).ids, who).toEqual([ids.alone, ids.shared, ids.own].sort());
      expect(await v.read(), who).toBe(200);
      // Asked again once the first access was noted: these facts are the ones the server keeps.
      expect((await v.named()).total, who).toBe(3);
    }
  });

  it('once B blocks them, it is hidden however they ask, totals included; A\'s own appointment stays', async () => {
    const blocks = await Promise.all(['doc', 'gp'].map((who) => post(consent(ids.b, { type: 'deny', actor: [actor(`Practitioner/${ids[who]}`)] }), tokens.b)));
    for (const who of ['doc', 'gp']) {
      const v = views(tokens[who]);
      // The first request after the block is about A, whose facts this server already holds.
      const want = { ids: [ids.alone, ...mine(who)].sort(), total: 1 + mine(who).length };
      expect(await v.named(), `${who} named`).toEqual(want);
      expect(await v.compartment(), `${who} compartment`).toEqual(want);
      expect(await v.across(), `${who} across`).toEqual(want);
      expect(await v.read(), `${who} read`).toBe(404);
      const revinclude = await s.request({ method: 'GET', url: `/fhir/Patient?_id=${ids.a}&_revinclude=Appointment:patient`, token: tokens[who] });
      expect(revinclude.body.entry.map((e: any) => e.resource.id).sort(), `${who} revinclude`).toEqual([ids.a, ids.alone, ...mine(who)].sort());
    }
    // A still sees it: it is A's record too.
    expect((await found(tokens.a, `/fhir/Appointment?patient=${ids.a}`)).ids).toEqual([ids.alone, ids.shared, ids.own].sort());
    // B lifts the block on the médecin traitant: the next request sees it again.
    const lifted = { ...blocks[1], status: 'inactive' };
    const res = await s.request({ method: 'PUT', url: `/fhir/Consent/${lifted.id}`, token: tokens.b, body: lifted });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect((await views(tokens.gp).named()).ids).toEqual([ids.alone, ids.shared, ids.own].sort());
    expect((await views(tokens.doc).named()).ids).toEqual([ids.alone, ids.own].sort());
  });
});
