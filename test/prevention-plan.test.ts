import { expect, it } from 'vitest';
import { describeEngines, useServer, versionsButAudit, type TestServer } from './harness.js';
import { ATC, CIS, NOW, patient, patientToken, planOf, post, vaccination } from './prevention-helpers.js';

describeEngines('$prevention-plan: the calendar at a fixed date', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => { s = server; system = token; }, {}, () => NOW);

  const planFor = async (body: Record<string, unknown>, date?: string) => {
    const id = await post(s, system, body);
    return { id, ...(await planOf(s, await patientToken(s, id), id, date)) };
  };

  it('an infant of 2 months is due hexavalent and pneumococcal vaccination, and MenB is upcoming', async () => {
    const { byRule, status } = await planFor(patient('2026-04-06', 'male'));
    expect(status.hexavalent).toBe('due');
    expect(status['pneumocoque-nourrisson']).toBe('due');
    expect(status['meningocoque-b-nourrisson']).toBe('upcoming');
    expect(byRule.hexavalent.window).toEqual({ start: '2026-06-06', end: '2026-08-05' });
    expect(byRule.hexavalent.title).toMatch(/^Vaccin hexavalent/);
    expect(byRule.hexavalent.source).toMatch(/^https:\/\//);
    // Only what applies by age: no screening, no HPV, no booster of the adult years.
    expect(Object.keys(status).sort()).toEqual(['hexavalent', 'meningocoque-acwy-nourrisson', 'meningocoque-b-nourrisson', 'pneumocoque-nourrisson', 'ror']);
  });

  it('a girl of 11 is due HPV vaccination', async () => {
    const { status } = await planFor(patient('2015-03-01', 'female'));
    expect(status.hpv).toBe('due');
    expect(status['mt-dents']).toBe('due');
  });

  it('a woman of 52 is due breast and colorectal screening; a man of 52 is due colorectal screening, not breast', async () => {
    const woman = await planFor(patient('1974-02-01', 'female'));
    expect(woman.status['depistage-cancer-sein']).toBe('due');
    expect(woman.status['depistage-cancer-colorectal']).toBe('due');
    const man = await planFor(patient('1974-02-01', 'male'));
    expect(man.status['depistage-cancer-colorectal']).toBe('due');
    expect(man.status).not.toHaveProperty('depistage-cancer-sein');
    expect(man.status).not.toHaveProperty('depistage-cancer-col-30-65');
  });

  it('a person of 46 is due the prevention check-up (Mon bilan prévention)', async () => {
    const { status } = await planFor(patient('1980-02-01', 'female'));
    expect(status['bilan-prevention-45-50']).toBe('due');
    expect(status).not.toHaveProperty('bilan-prevention-18-25');
  });

  it('a vaccination recorded with an ATC code moves the rule out of due', async () => {
    const infant = await post(s, system, patient('2026-04-06', 'female'));
    await post(s, system, vaccination(infant, ATC, 'J07CA09', '2026-06-07'));
    const infantPlan = await planOf(s, await patientToken(s, infant), infant);
    expect(infantPlan.status.hexavalent).toBe('upcoming');
    expect(infantPlan.byRule.hexavalent.window.start).toBe('2026-08-06');
    expect(infantPlan.status['pneumocoque-nourrisson']).toBe('due');
  });

  it('a past vaccination the patient enters herself (primarySource false) with a CIS code moves the rule out of due', async () => {
    const girl = await post(s, system, patient('2015-03-01', 'female'));
    const girlToken = await patientToken(s, girl);
    // The patient enters a past vaccination herself.
    await post(s, girlToken, vaccination(girl, CIS, '63646681', '2026-04-15', true));
    const girlPlan = await planOf(s, girlToken, girl);
    expect(girlPlan.status.hpv).toBe('upcoming');
    expect(girlPlan.byRule.hpv.window.start).toBe('2026-10-15');
  });

  it('overdue after the window; upcoming before it; ?date= reads the calendar on another day', async () => {
    const { id } = await planFor(patient('2026-04-06', 'male'));
    const token = await patientToken(s, id);
    expect((await planOf(s, token, id, '2026-05-01')).status.hexavalent).toBe('upcoming');
    expect((await planOf(s, token, id, '2026-09-01')).status.hexavalent).toBe('overdue');
    // Past the population's age, the rule no longer appears.
    expect((await planOf(s, token, id, '2028-05-01')).status).not.toHaveProperty('hexavalent');
  });

  it('a screening document marks it done, with the window until the next one', async () => {
    const id = await post(s, system, patient('1974-02-01', 'female'));
    await post(s, system, {
      resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${id}` }, date: '2026-03-10T09:00:00+01:00',
      type: { coding: [{ system: 'http://loinc.org', code: '24606-6' }] },
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('mammographie normale').toString('base64') } }],
    });
    const { byRule } = await planOf(s, await patientToken(s, id), id);
    expect(byRule['depistage-cancer-sein'].status).toBe('done');
    expect(byRule['depistage-cancer-sein'].window).toEqual({ start: '2026-03-10', end: '2028-03-09' });
  });

  it('answers without writing anything', async () => {
    const id = await post(s, system, patient('2026-04-06', 'male'));
    const before = await versionsButAudit(s, system);
    await planOf(s, system, id);
    expect(await versionsButAudit(s, system)).toBe(before);
  });

  it('refuses a date that is not a calendar date, and a plan on anything but one Patient', async () => {
    const id = await post(s, system, patient('2026-04-06', 'male'));
    const bad = await s.request({ method: 'GET', url: `/fhir/Patient/${id}/$prevention-plan?date=2026-02-30`, token: system });
    expect(bad.status).toBe(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');
    expect((await s.request({ method: 'GET', url: '/fhir/Observation/x/$prevention-plan', token: system })).status).toBe(400);
  });
});

describeEngines('$prevention-plan: who may call it', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => { s = server; system = token; }, {}, () => NOW);

  it('the patient, a legal representative and the médecin traitant may; a stranger professional and another patient get the 404 of an unknown patient', async () => {
    const gp = await post(s, system, { resourceType: 'Practitioner', name: [{ family: 'Traitant' }] });
    const stranger = await post(s, system, { resourceType: 'Practitioner', name: [{ family: 'Inconnu' }] });
    const infant = await post(s, system, patient('2026-04-06', 'male', { generalPractitioner: [{ reference: `Practitioner/${gp}` }] }));
    const other = await post(s, system, patient('1980-01-01', 'female'));
    const mother = await post(s, system, {
      resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${infant}` },
      relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MTH' }] }],
    });
    const url = `/fhir/Patient/${infant}/$prevention-plan`;
    const call = async (token: string) => s.request({ method: 'GET', url, token });
    expect((await call(await patientToken(s, infant, 'patient/*.rs'))).status).toBe(200);
    expect((await call(await s.token({ fhirUser: `RelatedPerson/${mother}`, scope: 'user/*.rs' }))).status).toBe(200);
    const byGp = await call(await s.token({ fhirUser: `Practitioner/${gp}`, scope: 'user/*.rs' }));
    expect(byGp.status).toBe(200);
    expect(byGp.text).toContain('"hexavalent"');

    const unknown = await s.request({ method: 'GET', url: '/fhir/Patient/no-such-patient/$prevention-plan', token: await s.token({ fhirUser: `Practitioner/${stranger}`, scope: 'user/*.rs' }) });
    expect(unknown.status).toBe(404);
    const byStranger = await call(await s.token({ fhirUser: `Practitioner/${stranger}`, scope: 'user/*.rs' }));
    expect(byStranger.status).toBe(404);
    expect(byStranger.body.issue[0].diagnostics).toBe(`Patient/${infant} is not known`);
    const byOther = await call(await patientToken(s, other, 'patient/*.rs'));
    expect(byOther.status).toBe(404);
  });

  it('is listed in the CapabilityStatement, on Patient, with $prevention-run at system level', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/metadata' });
    const rest = res.body.rest[0];
    const patientOps = rest.resource.find((r: { type: string }) => r.type === 'Patient').operation.map((o: { name: string }) => o.name);
    expect(patientOps).toContain('prevention-plan');
    expect(rest.resource.find((r: { type: string }) => r.type === 'Observation').operation?.map((o: { name: string }) => o.name) ?? []).not.toContain('prevention-plan');
    expect(rest.operation.map((o: { name: string }) => o.name)).toEqual(expect.arrayContaining(['prevention-run', 'prevention-status']));
  });
});
