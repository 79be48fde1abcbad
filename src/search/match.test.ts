import { describe, expect, it } from 'vitest';
import { compileSearch } from './compile.js';
import { ALL, glucose, helene, paul, report } from './fixtures.js';
import { parseSearch } from './parse.js';
import { createSearchRegistry, type SearchParameter } from './registry.js';
import { compileQs, ids, NOW, queryOf, recordOf } from './test-helpers.js';
import { indexResource } from './extract.js';
import { Query } from 'mingo';
import type { Resource } from '../fhir/resource-types.js';

/** The compiled filters, evaluated by mingo over records built with indexResource. */
describe('compiled queries match what FHIR says they match', () => {
  it('string: accents and case do not matter, :exact and :contains', () => {
    expect(ids('Patient', 'name=helene', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'given=HÉL', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'family=lefevre', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'name=mar', ALL)).toEqual(['helene', 'paul']); // Marie, Martin
    expect(ids('Patient', 'name:exact=Hélène', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'name:exact=helene', ALL)).toEqual([]);
    expect(ids('Patient', 'name:contains=ÈVR', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'address=rue des oeillets', ALL)).toEqual([]); // starts-with: the line starts with "12"
    expect(ids('Patient', 'address:contains=rue des oeillets', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'address-city=saint-eti', ALL)).toEqual(['helene']);
  });

  it('token: system, code, text, of-type, not, missing', () => {
    expect(ids('Observation', 'code=http://loinc.org|2339-0', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'code=http://snomed.info/sct|2339-0', ALL)).toEqual([]);
    expect(ids('Observation', 'code=http://loinc.org|', ALL)).toEqual(['glucose', 'bp']);
    expect(ids('Observation', 'code=|2339-0', ALL)).toEqual([]);
    expect(ids('Patient', 'gender=female,male', ALL)).toEqual(['helene', 'paul']);
    expect(ids('Observation', 'code:text=glycemie', ALL)).toEqual(['glucose']);
    expect(ids('Patient', 'identifier:of-type=http://interopsante.org/CodeSystem/v2-0203|INS-NIR|2800375123456', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'identifier:of-type=http://interopsante.org/CodeSystem/v2-0203|INS-C|2800375123456', ALL)).toEqual([]);
    expect(ids('Observation', 'category:not=laboratory', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'category:missing=true', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'category:missing=false', ALL)).toEqual(['glucose']);
    expect(ids('Patient', 'deceased=true', ALL)).toEqual(['paul']);
    expect(ids('Patient', 'deceased=false', ALL)).toEqual(['helene']);
    expect(ids('DocumentReference', '_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N', ALL)).toEqual(['cr-bio']);
    expect(ids('Patient', '_tag=https://carnet.example/tags|imported', ALL)).toEqual(['helene']);
    expect(ids('Patient', '_id=paul,nobody', ALL)).toEqual(['paul']);
    expect(ids('Patient', 'gender=http://hl7.org/fhir/administrative-gender|male', ALL)).toEqual(['paul']);
    expect(ids('Patient', 'gender=http://other|male', ALL)).toEqual([]);
    expect(ids('Patient', '_id:not=paul', ALL)).toEqual(['helene']);
  });

  it('token :in and :not-in expand local value sets', () => {
    const obs = ['final', 'preliminary', 'cancelled'].map((status, i): Resource => ({ ...glucose, id: `o${i}`, status }));
    expect(ids('Observation', 'status:in=http://hl7.org/fhir/ValueSet/observation-status', obs)).toEqual(['o0', 'o1', 'o2']);
    expect(ids('Patient', 'gender:in=http://hl7.org/fhir/ValueSet/administrative-gender', ALL)).toEqual(['helene', 'paul']);
    expect(ids('Patient', 'gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender', ALL)).toEqual([]);
    expect(() => ids('Observation', 'code:in=http://example.org/unknown', obs)).toThrow(/cannot expand the value set/);
  });

  it('reference: Type/id, id, absolute URL, :Type, :identifier, where(resolve() is Patient)', () => {
    expect(ids('Observation', 'subject=Patient/helene', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'subject=helene', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'patient=paul', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'subject=https://carnet.example/fhir/Patient/paul', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'performer:Practitioner=dr-martin', ALL)).toEqual(['glucose']);
    expect(ids('DocumentReference', 'author=Organization/labo-42', ALL)).toEqual(['cr-bio']);
    expect(ids('Appointment', 'patient=paul', ALL)).toEqual(['rdv']);
    expect(ids('Appointment', 'practitioner=dr-martin', ALL)).toEqual(['rdv']);
    expect(ids('Appointment', 'patient=dr-martin', ALL)).toEqual([]);
    const withIdentifier: Resource = { ...glucose, id: 'g2', subject: { identifier: { system: 'urn:oid:1.2.250.1.213.1.4.8', value: '2800375123456' } } };
    expect(ids('Observation', 'subject:identifier=urn:oid:1.2.250.1.213.1.4.8|2800375123456', [glucose, withIdentifier])).toEqual(['g2']);
  });

  it('date: precision ranges and every prefix', () => {
    // glucose: 2026-03-01T07:00Z..07:30Z; bp: all of 2026-03-15
    expect(ids('Observation', 'date=2026-03', ALL)).toEqual(['glucose', 'bp']);
    expect(ids('Observation', 'date=2026-03-01', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'date=2026-03-01T08:00:00+01:00', ALL)).toEqual([]); // the period is wider than that second
    expect(ids('Observation', 'date=ne2026-03-01', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'date=gt2026-03-01', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'date=ge2026-03-01', ALL)).toEqual(['glucose', 'bp']);
    expect(ids('Observation', 'date=lt2026-03-15', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'date=le2026-03-15', ALL)).toEqual(['glucose', 'bp']);
    expect(ids('Observation', 'date=sa2026-03-01', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'date=eb2026-03-15', ALL)).toEqual(['glucose']);
    // ap: +-10% of the distance to now (2026-06-15): about 10 days here
    expect(ids('Observation', 'date=ap2026-03-05', ALL)).toEqual(['glucose', 'bp']);
    expect(ids('Observation', 'date=ap2026-03-20', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'date=ge2026-03-01&date=lt2026-03-10', ALL)).toEqual(['glucose']);
    expect(ids('Patient', 'birthdate=1980', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'birthdate=lt2000', ALL)).toEqual(['helene']);
    expect(ids('Patient', 'death-date=2026-04-02', ALL)).toEqual(['paul']);
    expect(ids('Patient', '_lastUpdated=ge2026-04', ALL)).toEqual(['paul']);
    expect(ids('Patient', '_lastUpdated=2026-03-10', ALL)).toEqual(['helene']);
  });

  it('DocumentReference as IHE MHD ITI-67 searches it', () => {
    const docs = [report];
    expect(ids('DocumentReference', 'patient=helene&status=current', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'creation=ge2026-03-01&creation=le2026-03-31', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'creation=2026-03-02', docs)).toEqual([]);
    expect(ids('DocumentReference', 'date=2026-03-02', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'period=ge2026-03-01', docs)).toEqual(['cr-bio']);
    // R4: ge is "the range above the value overlaps the target, or the value contains the target";
    // a period from 03-01 to 03-02 does neither for 03-02.
    expect(ids('DocumentReference', 'period=ge2026-03-02', docs)).toEqual([]);
    expect(ids('DocumentReference', 'period=le2026-03-02', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'category=urn:oid:1.2.250.1.213.1.1.4.1|BIO', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'type=http://loinc.org|11502-2', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'setting=BIOLOGIE&format=urn:ihe:lab:xd-lab:2008', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'identifier=urn:oid:1.2.250.1.999.1.2.3', docs)).toEqual(['cr-bio']);
    expect(ids('DocumentReference', 'contenttype=application/pdf&description=compte rendu', docs)).toEqual(['cr-bio']);
  });

  it('quantity: UCUM units compare across units; precision from the digits given', () => {
    expect(ids('Observation', 'value-quantity=0.95|http://unitsofmeasure.org|g/L', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'value-quantity=950|http://unitsofmeasure.org|mg/L', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'value-quantity=95|http://unitsofmeasure.org|mg/dL', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'value-quantity=gt900||mg/L', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'value-quantity=gt1|http://unitsofmeasure.org|g/L', ALL)).toEqual([]);
    expect(ids('Observation', 'value-quantity=1|http://unitsofmeasure.org|g/L', ALL)).toEqual(['glucose']); // 1 means [0.5, 1.5)
    expect(ids('Observation', 'value-quantity=1.0|http://unitsofmeasure.org|g/L', ALL)).toEqual(['glucose']); // [0.95, 1.05)
    expect(ids('Observation', 'value-quantity=1.00|http://unitsofmeasure.org|g/L', ALL)).toEqual([]);
    expect(ids('Observation', 'value-quantity=0.95', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'value-quantity=1|http://unitsofmeasure.org|g', ALL)).toEqual([]); // not the same dimension
  });

  it('composite: a code and a value match within one component only', () => {
    expect(ids('Observation', 'component-code-value-quantity=http://loinc.org|8480-6$gt100', ALL)).toEqual(['bp']);
    expect(ids('Observation', 'component-code-value-quantity=http://loinc.org|8462-4$gt100', ALL)).toEqual([]);
    expect(ids('Observation', 'combo-code-value-quantity=2339-0$0.95', ALL)).toEqual(['glucose']);
    expect(ids('Observation', 'code-value-quantity=2339-0$950|http://unitsofmeasure.org|mg/L', ALL)).toEqual(['glucose']);
  });

  it('number (an extra parameter): implicit precision', () => {
    const extra: SearchParameter = {
      resourceType: 'SearchParameter',
      url: 'https://carnet.example/fhir/SearchParameter/Immunization-dose-number',
      code: 'dose-number',
      base: ['Immunization'],
      type: 'number',
      expression: 'Immunization.protocolApplied.doseNumber.as(positiveInt)',
    };
    const reg = createSearchRegistry([extra]);
    const doses = [1, 2, 3].map((n): Resource => ({ resourceType: 'Immunization', id: `d${n}`, protocolApplied: [{ doseNumberPositiveInt: n }] }));
    const run = (qs: string) => {
      const filter = compileSearch(parseSearch('Immunization', queryOf(qs), reg, { strict: true }), { now: NOW }).filter;
      const q = new Query(filter);
      return doses.filter((d) => q.test({ ...indexResource(d, reg), id: d.id })).map((d) => d.id);
    };
    expect(run('dose-number=2')).toEqual(['d2']);
    expect(run('dose-number=2.0')).toEqual(['d2']);
    expect(run('dose-number=2.4')).toEqual([]);
    expect(run('dose-number=1e0')).toEqual(['d1']);
    expect(run('dose-number=gt1')).toEqual(['d2', 'd3']);
    expect(run('dose-number=le2')).toEqual(['d1', 'd2']);
    expect(run('dose-number=ne2')).toEqual(['d1', 'd3']);
    expect(run('dose-number=ap10')).toEqual([]);
    expect(run('dose-number:missing=true')).toEqual([]);
  });

  it('sorts on srt values: ascending on the least value, descending on the greatest', () => {
    const records = [helene, paul, { ...helene, id: 'zoe', name: [{ given: ['Zoé', 'Anne'] }] }].map(recordOf);
    const order = (qs: string) => {
      const { sort } = compileQs('Patient', qs);
      const spec = Object.fromEntries([...sort, ['id', 1]]);
      return new Query({}).find(records as never[]).sort(spec).all().map((r) => (r as { id: string }).id);
    };
    // given: helene {helene, marie}, paul {paul}, zoe {anne, zoe}
    expect(order('_sort=given')).toEqual(['zoe', 'helene', 'paul']);
    expect(order('_sort=-given')).toEqual(['zoe', 'paul', 'helene']);
    expect(order('_sort=-birthdate,_id')).toEqual(['paul', 'helene', 'zoe']);
  });
});
