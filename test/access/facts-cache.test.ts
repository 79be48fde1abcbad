import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, startServer, type TestServer } from '../harness.js';
import { actor, consent } from './world.js';

/**
 * A professional's roles and blocks are kept between requests (src/access/facts-cache.ts), and the
 * facts of the patients a request names are read from the store's lookup table that each write
 * keeps (src/access/lookup.ts): two servers on one store (as two workers, or two instances on one
 * MongoDB), each having answered a professional already, must both see a Consent revoked, a médecin
 * traitant changed or a role moved through the other at once.
 */
describeEngines('access: facts kept between requests follow changes made anywhere', (engine) => {
  let a: TestServer;
  let b: TestServer;
  let system: string;
  beforeAll(async () => {
    a = await startServer(engine);
    b = await startServer(engine, { CARNET_DATA_DIR: a.dataDir, ...(engine === 'mongodb' ? { MONGODB_DB: a.db! } : {}) });
    system = await a.token({ scope: 'system/*.cruds' });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const post = async (s: TestServer, body: Record<string, unknown>, token = system) => {
    const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    return res.body;
  };
  const seen = async (s: TestServer, token: string, patient: string) => {
    const res = await s.request({ method: 'GET', url: `/fhir/Observation?patient=${patient}`, token });
    expect(res.status).toBe(200);
    return (res.body.entry ?? []).length;
  };
  const observation = (patient: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient/${patient}` } });

  it('a Consent revoked on one server ends access on the other with the next request', async () => {
    const pro = (await post(a, { resourceType: 'Practitioner', name: [{ family: 'Martin' }] })).id;
    const x = (await post(a, { resourceType: 'Patient', birthDate: '1970-01-01' })).id;
    await post(a, observation(x));
    const permit = await post(a, consent(x, { type: 'permit', actor: [actor(`Practitioner/${pro}`)] }));
    const token = await a.token({ fhirUser: `Practitioner/${pro}`, scope: 'user/*.rs' });
    const patient = await a.token({ fhirUser: `Patient/${x}`, scope: 'patient/*.cruds', patient: x });
    for (const s of [a, a, b, b]) expect(await seen(s, token, x)).toBe(1);
    // Revoked through b: a, which answered this professional about this patient a moment ago, knows.
    expect((await b.request({ method: 'PUT', url: `/fhir/Consent/${permit.id}`, token: patient, body: { ...permit, status: 'inactive' } })).status).toBe(200);
    expect(await seen(a, token, x)).toBe(0);
    expect(await seen(b, token, x)).toBe(0);
    // Given again through a: b knows.
    await post(a, consent(x, { type: 'permit', actor: [actor(`Practitioner/${pro}`)] }), patient);
    expect(await seen(b, token, x)).toBe(1);
    expect(await seen(a, token, x)).toBe(1);
    // A Consent moved to another patient leaves the first one's record closed.
    const y = (await post(a, { resourceType: 'Patient', birthDate: '1971-01-01' })).id;
    const second = (await a.request({ method: 'GET', url: `/fhir/Consent?patient=${x}&status=active`, token: system })).body.entry[0].resource;
    expect((await b.request({ method: 'PUT', url: `/fhir/Consent/${second.id}`, token: system, body: { ...second, patient: { reference: `Patient/${y}` } } })).status).toBe(200);
    expect(await seen(a, token, x)).toBe(0);
  });

  it('a médecin traitant replaced on one server loses access on the other', async () => {
    const gp = (await post(a, { resourceType: 'Practitioner', name: [{ family: 'Durand' }] })).id;
    const x = await post(a, { resourceType: 'Patient', birthDate: '1960-01-01', generalPractitioner: [{ reference: `Practitioner/${gp}` }] });
    await post(a, observation(x.id));
    const token = await a.token({ fhirUser: `Practitioner/${gp}`, scope: 'user/*.rs' });
    for (const s of [a, a, b]) expect(await seen(s, token, x.id)).toBe(1);
    expect((await b.request({ method: 'PUT', url: `/fhir/Patient/${x.id}`, token: system, body: { ...x, generalPractitioner: undefined } })).status).toBe(200);
    expect(await seen(a, token, x.id)).toBe(0);
  });

  it("another patient's block made on one server hides what they share on the other, however the request names it", async () => {
    const pro = (await post(a, { resourceType: 'Practitioner', name: [{ family: 'Moreau' }] })).id;
    const x = (await post(a, { resourceType: 'Patient', birthDate: '1980-01-01' })).id;
    const y = (await post(a, { resourceType: 'Patient', birthDate: '1981-01-01' })).id;
    await post(a, consent(x, { type: 'permit', actor: [actor(`Practitioner/${pro}`)] }));
    await post(a, consent(y, { type: 'permit', actor: [actor(`Practitioner/${pro}`)] }));
    const meeting = await post(a, {
      resourceType: 'Appointment',
      status: 'booked',
      start: '2026-03-02T09:00:00Z',
      end: '2026-03-02T09:30:00Z',
      participant: [x, y].map((p) => ({ actor: { reference: `Patient/${p}` }, status: 'accepted' })),
    });
    const token = await a.token({ fhirUser: `Practitioner/${pro}`, scope: 'user/*.rs' });
    const ids = async (s: TestServer, url: string) => {
      const res = await s.request({ method: 'GET', url, token });
      expect(res.status).toBe(200);
      return (res.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id);
    };
    const urls = [`/fhir/Appointment?patient=${x}`, `/fhir/Patient/${x}/Appointment`, `/fhir/Appointment?_id=${meeting.id}`];
    for (const s of [a, a, b]) for (const url of urls) expect(await ids(s, url), url).toEqual([meeting.id]);
    // y blocks the professional through b; a has answered about x (and across patients) a moment ago.
    const patient = await a.token({ fhirUser: `Patient/${y}`, scope: 'patient/*.cruds', patient: y });
    await post(b, consent(y, { type: 'deny', actor: [actor(`Practitioner/${pro}`)] }), patient);
    for (const url of urls) expect(await ids(a, url), url).toEqual([]);
    expect((await a.request({ method: 'GET', url: `/fhir/Appointment/${meeting.id}`, token })).status).toBe(404);
  });

  it('a PractitionerRole given to another practitioner on one server stops acting for the first on the other', async () => {
    const pro = (await post(a, { resourceType: 'Practitioner', name: [{ family: 'Petit' }] })).id;
    const other = (await post(a, { resourceType: 'Practitioner', name: [{ family: 'Grand' }] })).id;
    const role = await post(a, { resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${pro}` } });
    const x = (await post(a, { resourceType: 'Patient', birthDate: '1950-01-01' })).id;
    await post(a, observation(x));
    await post(a, consent(x, { type: 'permit', actor: [actor(`Practitioner/${pro}`)] }));
    const token = await a.token({ fhirUser: `PractitionerRole/${role.id}`, scope: 'user/*.rs' });
    for (const s of [a, a, b]) expect(await seen(s, token, x)).toBe(1);
    expect((await b.request({ method: 'PUT', url: `/fhir/PractitionerRole/${role.id}`, token: system, body: { ...role, practitioner: { reference: `Practitioner/${other}` } } })).status).toBe(200);
    expect(await seen(a, token, x)).toBe(0);
  });
});
