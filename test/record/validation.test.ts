import { expect, it } from 'vitest';
import { describeEngines, versionsButAudit } from '../harness.js';
import { post, usePeople } from './people.js';

/**
 * What a patient app or a doctor's software gets for a mistaken entry: a 422 whose
 * OperationOutcome names the element and says what is expected, and nothing written.
 */
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

describeEngines('bad entries in the patient\'s record', (engine) => {
  const w = usePeople(engine);

  const subject = () => ({ reference: `Patient/${w.ids.patient}` });
  const observation = (code: string, extra: Record<string, unknown>) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject: subject(),
    effectiveDateTime: '2026-11-02T08:00:00+01:00',
    ...extra,
  });
  const systolic = (quantity: Record<string, unknown>) => ({ code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: quantity });
  const diastolic = (quantity: Record<string, unknown>) => ({ code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: quantity });
  const mmHg = (value: number) => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });

  // [what, body, the element the first matching issue names, a word of its message]
  const cases: Array<[string, () => Record<string, unknown>, string, RegExp]> = [
    ['a weight without its unit in UCUM', () => observation('29463-7', { valueQuantity: { value: 68, unit: 'kg' } }), 'Observation.valueQuantity', /UCUM/],
    ['a weight in a unit that is not one', () => observation('29463-7', { valueQuantity: { value: 150, unit: 'lbs', system: UCUM, code: 'lbs' } }), 'Observation.valueQuantity.code', /kg, g, \[lb_av\]/],
    ['a weight in centimetres', () => observation('29463-7', { valueQuantity: { value: 68, unit: 'cm', system: UCUM, code: 'cm' } }), 'Observation.valueQuantity.code', /not a unit of a body weight/],
    ['a weight as text', () => observation('29463-7', { valueString: '68 kg' }), 'Observation.valueString', /Quantity/],
    ['a weight without a value or a reason for its absence', () => observation('29463-7', {}), 'Observation.valueQuantity', /dataAbsentReason/],
    ['a weight without a number', () => observation('29463-7', { valueQuantity: { unit: 'kg', system: UCUM, code: 'kg' } }), 'Observation.valueQuantity.value', /number/],
    ['a weight without a date', () => ({ ...observation('29463-7', { valueQuantity: { value: 68, unit: 'kg', system: UCUM, code: 'kg' } }), effectiveDateTime: undefined }), 'Observation.effective[x]', /when it was measured/],
    ['a blood pressure without its diastolic value', () => observation('85354-9', { component: [systolic(mmHg(130))] }), 'Observation.component', /diastolic/],
    ['a blood pressure in kPa', () => observation('85354-9', { component: [systolic(mmHg(130)), diastolic({ value: 11, unit: 'kPa', system: UCUM, code: 'kPa' })] }), 'Observation.component[1].valueQuantity.code', /mm\[Hg\]/],
    ['a blood glucose in a unit spelt outside UCUM', () => observation('2339-0', { valueQuantity: { value: 95, unit: 'mg/dl', system: UCUM, code: 'mg/dl' } }), 'Observation.valueQuantity.code', /mg\/dL/],
    ['an allergy without its patient', () => ({ resourceType: 'AllergyIntolerance', code: { text: 'Pénicilline' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] } }), 'AllergyIntolerance.patient', /patient/],
    ['an allergy confirmed without a clinical status (ait-2)', () => ({ resourceType: 'AllergyIntolerance', patient: subject(), code: { text: 'Pénicilline' }, verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] } }), 'AllergyIntolerance', /clinicalStatus/],
    ['a condition without its patient', () => ({ resourceType: 'Condition', code: { text: 'Asthme' } }), 'Condition.subject', /subject/],
    ['an active condition with an abatement (con-4)', () => ({ resourceType: 'Condition', subject: subject(), code: { text: 'Asthme' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] }, abatementDateTime: '2020-01-01' }), 'Condition', /con-4 failed: If condition is abated/],
    ['a family history without the relative', () => ({ resourceType: 'FamilyMemberHistory', status: 'completed', patient: subject() }), 'FamilyMemberHistory.relationship', /relationship/],
    ['a vaccination without its vaccine', () => ({ resourceType: 'Immunization', status: 'completed', patient: subject(), occurrenceDateTime: '2020-01-01' }), 'Immunization.vaccineCode', /vaccineCode/],
    ['an appointment without participants', () => ({ resourceType: 'Appointment', status: 'booked', start: '2026-12-10T08:00:00+01:00', end: '2026-12-10T08:30:00+01:00' }), 'Appointment.participant', /participant/],
    ['a booked appointment without a time (app-3)', () => ({ resourceType: 'Appointment', status: 'booked', participant: [{ actor: subject(), status: 'accepted' }] }), 'Appointment', /start/],
    ['advance directives without their content', () => ({ resourceType: 'DocumentReference', status: 'current', subject: subject(), type: { coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire', code: 'EXPPAT_3' }] }, author: [subject()], category: [{ coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument', code: '90' }] }] }), 'DocumentReference.content', /content/],
  ];

  it.each(cases)('refuses %s with 422 naming the element, and writes nothing', async (_what, make, expression, message) => {
    const before = await versionsButAudit(w.s, w.system);
    const body = JSON.parse(JSON.stringify(make()));
    for (const token of [w.tokens.patient, w.tokens.gp]) {
      const res = await post(w.s, token, body);
      expect(res.status, res.text).toBe(422);
      expect(res.body.resourceType).toBe('OperationOutcome');
      const issue = res.body.issue.find((i: any) => i.severity === 'error' && i.expression?.[0] === expression);
      expect(issue, JSON.stringify(res.body.issue)).toBeDefined();
      expect(issue.diagnostics).toMatch(message);
    }
    expect(await versionsButAudit(w.s, w.system)).toBe(before);
  });

  it('$validate tells the same before anything is sent', async () => {
    const res = await w.s.request({ method: 'POST', url: '/fhir/Observation/$validate', token: w.tokens.patient, body: observation('29463-7', { valueQuantity: { value: 68, unit: 'kg' } }) });
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.find((i: any) => i.severity === 'error').expression).toEqual(['Observation.valueQuantity']);
  });

  it('accepts what the rules allow: pounds, a weight not measured, an Observation that is no vital sign', async () => {
    const ok = [
      observation('29463-7', { valueQuantity: { value: 150, unit: 'lb', system: UCUM, code: '[lb_av]' } }),
      observation('29463-7', { dataAbsentReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'not-performed' }] } }),
      observation('15074-8', { valueQuantity: { value: 5.2, unit: 'mmol/L', system: UCUM, code: 'mmol/L' } }),
      observation('72166-2', { valueCodeableConcept: { text: 'Non-fumeur' } }),
    ];
    for (const body of ok) {
      const res = await post(w.s, w.tokens.patient, body);
      expect(res.status, res.text).toBe(201);
    }
  });
});
