import { beforeAll, describe, expect, it } from 'vitest';
import type { Issue } from '../errors.js';
import { createValidator, type Validator } from './index.js';

let validator: Validator;
beforeAll(() => {
  validator = createValidator();
});

const errors = (resource: unknown): Issue[] => validator.validate(resource).issues.filter((i) => i.severity === 'error');
const at = (issues: Issue[], expression: string): Issue | undefined => issues.find((i) => i.expression?.[0] === expression);

const patient = () => ({
  resourceType: 'Patient',
  id: 'p1',
  identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '279035121518989' }],
  name: [{ family: 'Martin', given: ['Claire', 'Anne'] }],
  gender: 'female',
  birthDate: '1979-03-12',
  telecom: [{ system: 'phone', value: '+33 6 12 34 56 78' }],
  contact: [{ name: { family: 'Martin', given: ['Paul'] }, relationship: [{ text: 'conjoint' }] }],
});

const documentReference = () => ({
  resourceType: 'DocumentReference',
  masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.213.1.4.8.99999.1' },
  status: 'current',
  type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
  subject: { reference: 'Patient/p1' },
  date: '2024-06-12T11:00:00+02:00',
  content: [{ attachment: { contentType: 'application/pdf', url: 'Binary/b1', creation: '2024-06-12T10:30:00+02:00' } }],
  context: { period: { start: '2024-06-12T10:00:00+02:00', end: '2024-06-12T10:30:00+02:00' } },
});

const observation = () => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2024-06-12T10:00:00+02:00',
  valueQuantity: { value: 72.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
  referenceRange: [{ low: { value: 50, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } }],
});

describe('valid resources', () => {
  it.each([
    ['Patient', patient],
    ['DocumentReference', documentReference],
    ['Observation', observation],
  ])('accepts a valid %s without any issue', (_type, make) => {
    expect(validator.validate(make()).issues).toEqual([]);
  });

  it('accepts primitive extensions, including nulls paired with _name', () => {
    const p = { ...patient(), name: [{ given: [null, 'Anne'], _given: [{ extension: [{ url: 'http://x/e', valueString: 'C' }] }, null] }], _birthDate: { extension: [{ url: 'http://x/t', valueTime: '10:00:00' }] } };
    expect(errors(p)).toEqual([]);
  });

  it('does not modify the resource it validates', () => {
    const doc = { ...documentReference(), contained: [{ resourceType: 'Patient', id: 'src', name: [{ family: 'X' }] }] };
    const before = JSON.stringify(doc);
    validator.validate(doc);
    expect(JSON.stringify(doc)).toBe(before);
  });
});

describe('R4 JSON schema', () => {
  it('reports an unknown element where it is', () => {
    const issues = errors({ ...patient(), foo: 1, name: [{ family: 'Martin', nickname: 'C' }] });
    expect(at(issues, 'Patient.foo')?.diagnostics).toBe("Unknown element 'foo'");
    expect(at(issues, 'Patient.name[0].nickname')?.diagnostics).toBe("Unknown element 'nickname'");
  });

  it('refuses elements Medplum adds to R4 types', () => {
    const issues = errors({ ...patient(), meta: { project: 'x' }, managingOrganization: { reference: 'Organization/1', resource: {} } });
    expect(at(issues, 'Patient.meta.project')?.diagnostics).toBe("Unknown element 'project'");
    expect(at(issues, 'Patient.managingOrganization.resource')?.diagnostics).toBe("Unknown element 'resource'");
  });

  it('reports a wrong JSON type with the FHIR type expected', () => {
    const issues = errors({ ...patient(), birthDate: 12 });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'structure', expression: ['Patient.birthDate'] });
    expect(issues[0]!.diagnostics).toBe("Element 'birthDate' must be a FHIR date (JSON string), not number 12");
  });

  it('refuses a string where a complex type is expected', () => {
    const issues = errors({ ...documentReference(), subject: 'Patient/p1' });
    expect(at(issues, 'DocumentReference.subject')?.diagnostics).toMatch(/must be a JSON object/);
  });

  it('reports a badly formatted date with the expected format', () => {
    const issues = errors({ ...patient(), birthDate: '12/03/1979' });
    expect(at(issues, 'Patient.birthDate')?.diagnostics).toBe("Invalid date '12/03/1979' for 'birthDate': expected YYYY, YYYY-MM or YYYY-MM-DD");
    const doc = documentReference();
    doc.content[0]!.attachment.creation = '2024-06-12T10:30:00';
    expect(at(errors(doc), 'DocumentReference.content[0].attachment.creation')?.diagnostics).toMatch(/^Invalid dateTime '2024-06-12T10:30:00'.*time zone/);
  });

  it('reports an invalid code of a required binding with the allowed codes', () => {
    const issues = errors({ ...documentReference(), status: 'final' });
    expect(at(issues, 'DocumentReference.status')).toMatchObject({ code: 'code-invalid' });
    expect(at(issues, 'DocumentReference.status')?.diagnostics).toContain('current, superseded, entered-in-error');
  });

  it('refuses a decimal where an integer is expected', () => {
    const doc = documentReference();
    (doc.content[0]!.attachment as Record<string, unknown>).size = 1.5;
    expect(at(errors(doc), 'DocumentReference.content[0].attachment.size')?.diagnostics).toMatch(/unsignedInt/);
  });

  it('reports missing required elements, schema-required or primitive', () => {
    const { code: _c, status: _s, ...obs } = observation();
    const issues = errors(obs);
    expect(at(issues, 'Observation.code')?.diagnostics).toBe("Missing required element 'code'");
    expect(at(issues, 'Observation.status')?.diagnostics).toBe("Missing required element 'status'");
    expect(issues).toHaveLength(2);
  });

  it('accepts a required primitive given only as an extension', () => {
    const { status: _s, ...obs } = observation();
    const withExtension = { ...obs, _status: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } };
    expect(errors(withExtension)).toEqual([]);
  });

  it('checks nested required elements only where the parent exists', () => {
    expect(errors({ ...observation(), component: [{ valueString: 'x' }] }).map((i) => i.expression?.[0])).toEqual(['Observation.component[0].code']);
    const doc = { ...documentReference(), relatesTo: [{ target: { reference: 'DocumentReference/old' } }] };
    expect(at(errors(doc), 'DocumentReference.relatesTo[0].code')?.diagnostics).toBe("Missing required element 'code'");
  });

  it('refuses an unknown resource type and a non-object', () => {
    expect(errors({ resourceType: 'Project' })[0]).toMatchObject({ expression: ['Project.resourceType'], diagnostics: "Unknown resource type 'Project'" });
    expect(errors('Patient')[0]!.diagnostics).toBe('A resource must be a JSON object');
  });
});

describe('structure', () => {
  it('refuses empty arrays and empty objects (ele-1)', () => {
    const issues = errors({ ...patient(), identifier: [], maritalStatus: {} });
    expect(at(issues, 'Patient.identifier')?.diagnostics).toMatch(/empty array/);
    expect(at(issues, 'Patient.maritalStatus')?.diagnostics).toMatch(/ele-1/);
  });

  it('refuses empty strings, once, including where the schema allows them (uri)', () => {
    const issues = errors({ ...patient(), gender: '', identifier: [{ system: '', value: 'x' }] });
    expect(issues.map((i) => [i.expression?.[0], i.diagnostics])).toEqual([
      ['Patient.gender', "Element 'gender' is an empty string: omit it instead"],
      ['Patient.identifier[0].system', "Element 'system' is an empty string: omit it instead"],
    ]);
  });

  it('refuses a null in a primitive array without its extension', () => {
    const issues = errors({ ...patient(), name: [{ given: ['Claire', null] }] });
    expect(at(issues, 'Patient.name[0].given[1]')).toBeDefined();
  });
});

describe('R4 invariants', () => {
  it('obs-6: value and dataAbsentReason together', () => {
    const issues = errors({ ...observation(), dataAbsentReason: { text: 'not measured' } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'invariant', expression: ['Observation'] });
    expect(issues[0]!.diagnostics).toMatch(/^Constraint obs-6 failed/);
  });

  it('pat-1: a contact without name, telecom, address or organization', () => {
    const issues = errors({ ...patient(), contact: [{ name: { family: 'Martin' } }, { gender: 'male' }] });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'invariant', expression: ['Patient.contact[1]'] });
    expect(issues[0]!.diagnostics).toMatch(/^Constraint pat-1 failed/);
  });

  it('data type invariants where the type is used: per-1, qty-3, ref-1, ext-1', () => {
    const obs = {
      ...observation(),
      effectivePeriod: { start: '2024-06-12', end: '2024-06-01' },
      valueQuantity: { value: 1, code: 'kg' },
      performer: [{ reference: '#nowhere' }],
      extension: [{ url: 'http://x/e' }],
    };
    delete (obs as Record<string, unknown>).effectiveDateTime;
    const issues = errors(obs);
    expect(at(issues, 'Observation.effectivePeriod')?.diagnostics).toMatch(/^Constraint per-1/);
    expect(at(issues, 'Observation.valueQuantity')?.diagnostics).toMatch(/^Constraint qty-3/);
    expect(at(issues, 'Observation.performer[0]')?.diagnostics).toMatch(/^Constraint ref-1/);
    expect(at(issues, 'Observation.extension[0]')?.diagnostics).toMatch(/^Constraint ext-1/);
  });

  it('counts the invariants it evaluates and those it leaves out', () => {
    errors(patient());
    const stats = validator.constraintStats();
    expect(stats.compiled).toBeGreaterThan(10);
    expect(stats.skipped.map((s) => s.key)).toContain('dom-3');
    expect(stats.runtimeFailures).toBe(0);
  });
});

describe('embedded resources', () => {
  it('validates contained resources with their own type, prefixing expressions', () => {
    const doc = { ...documentReference(), contained: [{ resourceType: 'Patient', id: 'src', birthDate: 12, contact: [{ gender: 'male' }] }] };
    const issues = errors(doc);
    expect(at(issues, 'DocumentReference.contained[0].birthDate')).toBeDefined();
    expect(at(issues, 'DocumentReference.contained[0].contact[0]')?.diagnostics).toMatch(/pat-1/);
  });

  it('validates Bundle entries', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:1', resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: 'urn:uuid:2', resource: { ...observation(), foo: true }, request: { method: 'POST', url: 'Observation' } },
      ],
    };
    expect(errors(bundle).map((i) => i.expression?.[0])).toEqual(['Bundle.entry[1].resource.foo']);
  });
});
