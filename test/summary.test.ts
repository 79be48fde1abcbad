import { beforeAll, expect, it } from 'vitest';
import { createValidator } from '../src/validation/validator.js';
import { describeEngines } from './harness.js';
import { useSystemClient } from './system-client.js';

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const category = (code: string) => [{ coding: [{ system: CATEGORY, code }] }];
const clinical = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code }] });

describeEngines('Patient/$summary (International Patient Summary)', (engine) => {
  const c = useSystemClient(engine, { CARNET_AUDIT: 'off' });
  const { post } = c;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    ids.dr = await post({ resourceType: 'Practitioner', name: [{ family: 'Dupont' }] });
    ids.p = await post({ resourceType: 'Patient', name: [{ family: 'Martin', given: ['Lucie'] }], generalPractitioner: [{ reference: ids.dr }] });
    ids.empty = await post({ resourceType: 'Patient', name: [{ family: 'Vide' }] });
    const subject = { reference: ids.p };
    ids.allergy = await post({ resourceType: 'AllergyIntolerance', patient: subject, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] }, code: { text: 'pénicilline' }, recordedDate: '2020-01-02' });
    ids.asthma = await post({ resourceType: 'Condition', subject, code: { text: 'asthme' }, clinicalStatus: clinical('active') });
    ids.flu = await post({ resourceType: 'Condition', subject, code: { text: 'grippe' }, clinicalStatus: clinical('resolved') });
    ids.vaccine = await post({ resourceType: 'Immunization', status: 'completed', patient: subject, vaccineCode: { text: 'DTP' }, occurrenceDateTime: '2021-05-01' });
    ids.lab = await post({ resourceType: 'Observation', status: 'final', category: category('laboratory'), code: { text: 'glycémie' }, subject, effectiveDateTime: '2024-01-01', valueQuantity: { value: 0.95, unit: 'g/L' }, performer: [{ reference: ids.dr }] });
    ids.vital = await post({ resourceType: 'Observation', status: 'final', category: category('vital-signs'), code: { text: 'poids' }, subject, effectiveDateTime: '2024-02-01', valueQuantity: { value: 61, unit: 'kg' } });
    ids.adr = await post({
      resourceType: 'Consent', status: 'active', patient: subject, dateTime: '2022-01-01',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'adr' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '75320-2', display: 'Advance directive' }] }],
      policy: [{ uri: 'https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000031972333' }],
      sourceAttachment: { title: 'Directives anticipées' },
    });
    ids.note = await post({ resourceType: 'Observation', status: 'final', code: { text: 'note' }, subject });
  });

  const summaryOf = async (patient: string) => {
    const res = await c.s.request({ method: 'GET', url: `/fhir/${patient}/$summary`, token: c.token });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    return res.body;
  };
  const section = (composition: any, code: string) => composition.section.find((x: any) => x.code.coding[0].code === code);
  const refsOf = (sec: any) => (sec?.entry ?? []).map((e: any) => e.reference.replace(`${c.s.baseUrl}/`, ''));

  it('is a document Bundle, Composition first, with the sections the record fills, each entry in the Bundle', async () => {
    const doc = await summaryOf(ids.p);
    expect(doc.type).toBe('document');
    expect(doc.identifier.value).toMatch(/^urn:uuid:/);
    expect(doc.timestamp).toBeDefined();
    const composition = doc.entry[0].resource;
    expect(composition.resourceType).toBe('Composition');
    expect(composition.type.coding[0]).toMatchObject({ system: 'http://loinc.org', code: '60591-5' });
    expect(composition.subject.reference).toBe(`${c.s.baseUrl}/${ids.p}`);
    expect(refsOf(section(composition, '48765-2'))).toEqual([ids.allergy]);
    // A resolved problem is not a current one.
    expect(refsOf(section(composition, '11450-4'))).toEqual([ids.asthma]);
    expect(refsOf(section(composition, '11369-6'))).toEqual([ids.vaccine]);
    expect(refsOf(section(composition, '30954-2'))).toEqual([ids.lab]);
    expect(refsOf(section(composition, '8716-3'))).toEqual([ids.vital]);
    expect(refsOf(section(composition, '42348-3'))).toEqual([ids.adr]);
    const fullUrls = doc.entry.map((e: any) => e.fullUrl);
    expect(new Set(fullUrls).size).toBe(fullUrls.length);
    for (const sec of composition.section) for (const e of sec.entry ?? []) expect(fullUrls).toContain(e.reference);
    expect(fullUrls).toContain(composition.author[0].reference);
    // The practitioner the patient and the result refer to is in the document; the unrelated note is not.
    expect(fullUrls).toContain(`${c.s.baseUrl}/${ids.dr}`);
    expect(fullUrls).not.toContain(`${c.s.baseUrl}/${ids.note}`);
    expect(createValidator().validate(doc).issues.filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('an empty record still has the required sections, each saying it is empty', async () => {
    const doc = await summaryOf(ids.empty);
    const composition = doc.entry[0].resource;
    expect(composition.section.map((x: any) => x.code.coding[0].code)).toEqual(['48765-2', '11450-4', '10160-0']);
    for (const sec of composition.section) {
      expect(sec.entry).toBeUndefined();
      expect(sec.emptyReason.coding[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'unavailable' });
      expect(sec.text.div).toContain('recorded in this record');
    }
    expect(doc.entry.map((e: any) => e.resource.resourceType)).toEqual(['Composition', 'Patient', 'Device']);
    expect(createValidator().validate(doc).issues.filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('answers 404 for a patient the caller may not see, as for an unknown one', async () => {
    const other = await c.s.token({ fhirUser: ids.empty, scope: 'user/*.rs' });
    const hidden = await c.s.request({ method: 'GET', url: `/fhir/${ids.p}/$summary`, token: other });
    const unknown = await c.s.request({ method: 'GET', url: '/fhir/Patient/nobody/$summary', token: other });
    expect(hidden.status).toBe(404);
    expect(hidden.text.replace(ids.p.split('/')[1], 'nobody')).toBe(unknown.text);
    // The patient reads their own.
    const own = await c.s.token({ fhirUser: ids.p, scope: 'user/*.rs' });
    expect((await c.s.request({ method: 'GET', url: `/fhir/${ids.p}/$summary`, token: own })).status).toBe(200);
  });
});
