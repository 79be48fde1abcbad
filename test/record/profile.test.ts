import { beforeAll, expect, it } from 'vitest';
import { describeEngines, versionsButAudit } from '../harness.js';
import { created, post, search, usePeople } from './people.js';

/**
 * The medical profile as a patient app and a doctor's software use it: allergies, history,
 * family history, vital signs and advance directives, each entry showing who entered it.
 */
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const SNOMED = 'http://snomed.info/sct';
const TRE_A05 = 'https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire';
const TRE_A03 = 'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument';
const VITAL = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] };

const allergy = (patient: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'AllergyIntolerance',
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
  code: { coding: [{ system: SNOMED, code: '91936005', display: 'Allergy to penicillin' }], text: 'Pénicilline' },
  patient: { reference: `Patient/${patient}` },
  ...extra,
});
const condition = (patient: string, text: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Condition',
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] },
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
  code: { text },
  subject: { reference: `Patient/${patient}` },
  ...extra,
});
const weight = (patient: string, kg: number, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  category: [VITAL],
  code: { coding: [{ system: LOINC, code: '29463-7', display: 'Body weight' }] },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: '2026-11-02T08:00:00+01:00',
  valueQuantity: { value: kg, unit: 'kg', system: UCUM, code: 'kg' },
  ...extra,
});
const bloodPressure = (patient: string, systolic: number, diastolic: number, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  category: [VITAL],
  code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: '2026-11-03T09:30:00+01:00',
  component: [
    { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: systolic, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
    { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: diastolic, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
  ],
  ...extra,
});

describeEngines('the medical profile', (engine) => {
  const w = usePeople(engine);
  let p: string;
  let ids: Record<string, string>;
  beforeAll(async () => {
    p = w.ids.patient;
    const me = `Patient/${p}`;
    const gp = `Practitioner/${w.ids.gp}`;
    ids = {
      // The patient, in their app.
      allergy: await created(w.s, w.tokens.patient, allergy(p, { recorder: { reference: me }, asserter: { reference: me } })),
      appendicitis: await created(w.s, w.tokens.patient, condition(p, 'Appendicite (2001)', { recorder: { reference: me } })),
      mother: await created(w.s, w.tokens.patient, {
        resourceType: 'FamilyMemberHistory',
        status: 'completed',
        patient: { reference: me },
        relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MTH' }] },
        condition: [{ code: { coding: [{ system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' }] } }],
      }),
      weight: await created(w.s, w.tokens.patient, weight(p, 68.4, { performer: [{ reference: me }] })),
      glucose: await created(w.s, w.tokens.patient, {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: LOINC, code: '2339-0', display: 'Glucose [Mass/volume] in Blood' }] },
        subject: { reference: me },
        effectiveDateTime: '2026-11-04T07:15:00+01:00',
        valueQuantity: { value: 0.95, unit: 'g/L', system: UCUM, code: 'g/L' },
      }),
      // The médecin traitant, in their software: what the patient told them, and their own finding.
      hypertension: await created(w.s, w.tokens.gp, condition(p, 'Hypertension artérielle', { recorder: { reference: gp }, asserter: { reference: gp } })),
      reported: await created(w.s, w.tokens.gp, allergy(p, { code: { text: 'Arachide' }, recorder: { reference: gp }, asserter: { reference: me } })),
      bp: await created(w.s, w.tokens.gp, bloodPressure(p, 142, 91, { performer: [{ reference: gp }] })),
      // The cardiologist the patient authorized.
      murmur: await created(w.s, w.tokens.cardio, condition(p, 'Souffle cardiaque', { recorder: { reference: `Practitioner/${w.ids.cardio}` } })),
    };
  });

  it('the patient app lists what the patient entered, and what their doctors did', async () => {
    const mine = (type: string) => search(w.s, w.tokens.app, `/fhir/${type}?patient=${p}&written-by=Patient/${p}`);
    expect((await mine('AllergyIntolerance')).ids).toEqual([ids.allergy]);
    expect((await mine('Condition')).ids).toEqual([ids.appendicitis]);
    expect((await mine('FamilyMemberHistory')).ids).toEqual([ids.mother]);
    expect((await mine('Observation')).ids).toEqual([ids.glucose, ids.weight].sort());
    const byGp = await search(w.s, w.tokens.app, `/fhir/Condition?patient=${p}&written-by=Practitioner/${w.ids.gp}`);
    expect(byGp.ids).toEqual([ids.hypertension]);
    // A bare id with the type as modifier, and several writers at once.
    expect((await search(w.s, w.tokens.app, `/fhir/Condition?patient=${p}&written-by:Practitioner=${w.ids.cardio}`)).ids).toEqual([ids.murmur]);
    const either = await search(w.s, w.tokens.app, `/fhir/Condition?patient=${p}&written-by=Practitioner/${w.ids.gp},Practitioner/${w.ids.cardio}`);
    expect(either.ids).toEqual([ids.hypertension, ids.murmur].sort());
    // What the patient said to the doctor was entered by the doctor (asserter is the patient).
    expect((await search(w.s, w.tokens.app, `/fhir/AllergyIntolerance?patient=${p}&written-by=Practitioner/${w.ids.gp}`)).ids).toEqual([ids.reported]);
  });

  it('shows "by Dr X": _include brings the writers, _revinclude the entries a writer wrote', async () => {
    const res = await search(w.s, w.tokens.app, `/fhir/Condition?patient=${p}&_include=Condition:written-by`);
    const included = res.body.entry.filter((e: any) => e.search.mode === 'include').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`).sort();
    expect(included).toEqual([`Patient/${p}`, `Practitioner/${w.ids.cardio}`, `Practitioner/${w.ids.gp}`].sort());
    const gp = res.body.entry.find((e: any) => e.resource.id === w.ids.gp).resource;
    expect(gp.name[0].family).toBe('Martin');
    const rev = await search(w.s, w.system, `/fhir/Practitioner?_id=${w.ids.gp}&_revinclude=Condition:written-by`);
    expect(rev.body.entry.filter((e: any) => e.search.mode === 'include').map((e: any) => e.resource.id)).toEqual([ids.hypertension]);
  });

  it('the patient reads the directory (who Dr X is) but does not write it', async () => {
    const gp = await w.s.request({ method: 'GET', url: `/fhir/Practitioner/${w.ids.gp}`, token: w.tokens.app });
    expect(gp.status).toBe(200);
    const changed = { ...gp.body, name: [{ family: 'Imposteur' }] };
    expect((await w.s.request({ method: 'PUT', url: `/fhir/Practitioner/${w.ids.gp}`, token: w.tokens.patient, body: changed })).status).toBe(403);
    expect((await post(w.s, w.tokens.patient, { resourceType: 'Practitioner', name: [{ family: 'Faux' }] })).status).toBe(403);
    expect((await w.s.request({ method: 'DELETE', url: `/fhir/Organization/${w.ids.pharmacy}`, token: w.tokens.patient })).status).toBe(403);
    expect((await w.s.request({ method: 'GET', url: `/fhir/Practitioner/${w.ids.gp}`, token: w.system })).body.name[0].family).toBe('Martin');
  });

  it('a doctor finds what they wrote across their patients, and only that', async () => {
    expect((await search(w.s, w.tokens.cardio, `/fhir/Condition?written-by=Practitioner/${w.ids.cardio}`)).ids).toEqual([ids.murmur]);
    // What the cardiologist may see of the patient's profile, by writer.
    expect((await search(w.s, w.tokens.cardio, `/fhir/Condition?patient=${p}&written-by=Patient/${p}`)).ids).toEqual([ids.appendicitis]);
    // A doctor the patient never named sees nothing, by writer or otherwise.
    expect((await search(w.s, w.tokens.stranger, `/fhir/Condition?written-by=Patient/${p}`)).ids).toEqual([]);
    expect((await search(w.s, w.tokens.stranger, `/fhir/Condition?patient=${p}`)).ids).toEqual([]);
  });

  it('vital signs come back with their units, searchable by code, value and date', async () => {
    const weights = await search(w.s, w.tokens.app, `/fhir/Observation?patient=${p}&code=${LOINC}|29463-7`);
    expect(weights.ids).toEqual([ids.weight]);
    expect(weights.body.entry[0].resource.valueQuantity).toEqual({ value: 68.4, unit: 'kg', system: UCUM, code: 'kg' });
    expect((await search(w.s, w.tokens.app, `/fhir/Observation?patient=${p}&code=${LOINC}|29463-7&value-quantity=gt60|${UCUM}|kg`)).ids).toEqual([ids.weight]);
    expect((await search(w.s, w.tokens.app, `/fhir/Observation?patient=${p}&category=vital-signs&date=ge2026-11-03`)).ids).toEqual([ids.bp]);
    const bp = await search(w.s, w.tokens.app, `/fhir/Observation?patient=${p}&component-code-value-quantity=${LOINC}|8480-6$gt140`);
    expect(bp.ids).toEqual([ids.bp]);
    expect(bp.body.entry[0].resource.component[1].valueQuantity.code).toBe('mm[Hg]');
  });

  it('a patient cannot enter something in a doctor\'s name, and nothing is written', async () => {
    const before = await versionsButAudit(w.s, w.system);
    const gp = { reference: `Practitioner/${w.ids.gp}` };
    const attempts: Array<[Record<string, unknown>, string]> = [
      [allergy(p, { recorder: gp }), 'AllergyIntolerance.recorder'],
      [allergy(p, { asserter: gp }), 'AllergyIntolerance.asserter'],
      [condition(p, 'Diabète', { recorder: gp }), 'Condition.recorder'],
      [condition(p, 'Diabète', { asserter: { reference: `${w.s.baseUrl}/Practitioner/${w.ids.gp}` } }), 'Condition.asserter'],
      [condition(p, 'Diabète', { recorder: { display: 'Dr Martin' } }), 'Condition.recorder'],
      [weight(p, 70, { performer: [gp] }), 'Observation.performer[0]'],
    ];
    for (const [body, expression] of attempts) {
      const res = await post(w.s, w.tokens.patient, body);
      expect(res.status, res.text).toBe(403);
      expect(res.body.issue[0].expression).toEqual([expression]);
      expect(res.body.issue[0].diagnostics).toContain('written-by');
    }
    // A doctor cannot write in a colleague's name either.
    const colleague = await post(w.s, w.tokens.cardio, condition(p, 'Insuffisance cardiaque', { recorder: gp }));
    expect(colleague.status).toBe(403);
    expect(await versionsButAudit(w.s, w.system)).toBe(before);
  });

  it('the patient corrects a doctor\'s entry without becoming its recorder, and both are its writers', async () => {
    const read = await w.s.request({ method: 'GET', url: `/fhir/Condition/${ids.hypertension}`, token: w.tokens.patient });
    const updated = { ...read.body, note: [{ text: 'Traitée depuis 2024' }] };
    const res = await w.s.request({ method: 'PUT', url: `/fhir/Condition/${ids.hypertension}`, token: w.tokens.patient, body: updated });
    expect(res.status, res.text).toBe(200);
    expect(res.body.recorder).toEqual({ reference: `Practitioner/${w.ids.gp}` });
    const both = await search(w.s, w.tokens.app, `/fhir/Condition?patient=${p}&written-by=Patient/${p}`);
    expect(both.ids).toEqual([ids.appendicitis, ids.hypertension].sort());
    // Changing the recorder to someone else stays refused.
    const swap = await w.s.request({ method: 'PUT', url: `/fhir/Condition/${ids.hypertension}`, token: w.tokens.patient, body: { ...updated, recorder: { reference: `Practitioner/${w.ids.cardio}` } } });
    expect(swap.status).toBe(403);
  });

  it('advance directives: the patient deposits them, their doctors read them, nobody else does', async () => {
    const binary = await w.s.request({
      method: 'POST',
      url: '/fhir/Binary',
      token: w.tokens.patient,
      body: 'Je refuse tout acharnement thérapeutique.',
      headers: { 'content-type': 'text/plain', 'x-security-context': `Patient/${p}` },
    });
    expect(binary.status, binary.text).toBe(201);
    const directives = await created(w.s, w.tokens.patient, {
      resourceType: 'DocumentReference',
      status: 'current',
      type: { coding: [{ system: TRE_A05, code: 'EXPPAT_3', display: 'Directives anticipées' }] },
      category: [{ coding: [{ system: TRE_A03, code: '90', display: 'Document déposé par le patient' }] }],
      subject: { reference: `Patient/${p}` },
      author: [{ reference: `Patient/${p}` }],
      date: '2026-11-05T10:00:00+01:00',
      content: [{ attachment: { contentType: 'text/plain', url: `Binary/${binary.body.id}`, title: 'Mes directives anticipées' } }],
    });
    const find = (token: string) => search(w.s, token, `/fhir/DocumentReference?patient=${p}&type=${encodeURIComponent(TRE_A05)}|EXPPAT_3`);
    expect((await find(w.tokens.app)).ids).toEqual([directives]);
    expect((await find(w.tokens.gp)).ids).toEqual([directives]);
    expect((await find(w.tokens.cardio)).ids).toEqual([directives]);
    expect((await find(w.tokens.stranger)).ids).toEqual([]);
    expect((await w.s.request({ method: 'GET', url: `/fhir/Binary/${binary.body.id}`, token: w.tokens.gp })).text).toBe('Je refuse tout acharnement thérapeutique.');
    expect((await w.s.request({ method: 'GET', url: `/fhir/DocumentReference/${directives}`, token: w.tokens.stranger })).status).toBe(404);
    // Beside the doctor's documents, what the patient deposited.
    const note = await created(w.s, w.tokens.gp, {
      resourceType: 'DocumentReference',
      status: 'current',
      type: { coding: [{ system: LOINC, code: '11488-4' }] },
      subject: { reference: `Patient/${p}` },
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Consultation').toString('base64') } }],
    });
    expect((await search(w.s, w.tokens.gp, `/fhir/DocumentReference?patient=${p}&written-by=Patient/${p}`)).ids).toEqual([directives]);
    expect((await search(w.s, w.tokens.app, `/fhir/DocumentReference?patient=${p}&written-by=Practitioner/${w.ids.gp}`)).ids).toEqual([note]);
  });

  it('written-by is refused where it cannot mean anything', async () => {
    for (const url of [`/fhir/Condition?written-by.name=Martin`, `/fhir/Practitioner?_has:Condition:written-by:code=x`, `/fhir/Condition?_sort=written-by`, `/fhir/Condition?written-by:identifier=x|1`, '/fhir/Condition?written-by=not%20a%20reference']) {
      const res = await w.s.request({ method: 'GET', url, token: w.tokens.app });
      expect(res.status, url).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('the CapabilityStatement lists written-by on the record types', async () => {
    const meta = await w.s.request({ method: 'GET', url: '/fhir/metadata' });
    for (const type of ['AllergyIntolerance', 'Condition', 'FamilyMemberHistory', 'Observation', 'Immunization', 'Appointment', 'Communication', 'DocumentReference']) {
      const resource = meta.body.rest[0].resource.find((r: any) => r.type === type);
      expect(resource.searchParam.find((sp: any) => sp.name === 'written-by'), type).toMatchObject({ type: 'reference', definition: 'urn:carnet:fhir:SearchParameter/Resource-written-by' });
    }
  });
});
