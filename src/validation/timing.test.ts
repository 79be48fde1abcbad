import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { definitions } from '../fhir/definitions.js';
import { createValidator } from './index.js';
import { createSchemaValidator } from './schema-validator.js';

/** Figures for the record, printed rather than asserted (STYLE.md: benchmarks are never timed tests). */
const documentReference = {
  resourceType: 'DocumentReference',
  meta: { profile: ['https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.DocumentReference'] },
  masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.213.1.4.8.99999.1' },
  status: 'current',
  type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
  subject: { reference: 'Patient/p1' },
  date: '2024-06-12T11:00:00+02:00',
  content: [{ attachment: { contentType: 'application/pdf', url: 'Binary/b1', creation: '2024-06-12T10:30:00+02:00' } }],
};

const contained = {
  ...documentReference,
  contained: [
    { resourceType: 'Patient', id: 'src', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '123456789012345' }] },
    { resourceType: 'Practitioner', id: 'author', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '899700218896' }] },
  ],
  author: [{ reference: '#author' }],
  authenticator: { reference: '#author' },
  context: { period: { start: '2024-06-12T10:00:00+02:00' }, sourcePatientInfo: { reference: '#src' } },
};

function perCall(fn: () => unknown, n: number): number {
  for (let i = 0; i < 1000; i++) fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t) / n) * 1000;
}

describe('validation cost (printed)', () => {
  it('DocumentReference: first compile and per-validation cost', () => {
    let t = performance.now();
    definitions.schema();
    definitions.resourceProfiles();
    definitions.typeProfiles();
    const loadMs = performance.now() - t;

    t = performance.now();
    const schema = createSchemaValidator();
    expect(schema.validate('DocumentReference', documentReference)).toEqual([]);
    const schemaCompileMs = performance.now() - t;

    t = performance.now();
    const validator = createValidator();
    const startMs = performance.now() - t;
    t = performance.now();
    expect(validator.validate(documentReference).issues).toEqual([]);
    const firstMs = performance.now() - t;
    t = performance.now();
    validator.validate({ resourceType: 'Patient', birthDate: '1979-03-12' });
    const secondTypeMs = performance.now() - t;

    const schemaUs = perCall(() => schema.validate('DocumentReference', documentReference), 20000);
    const fullUs = perCall(() => validator.validate(documentReference), 5000);
    const containedUs = perCall(() => validator.validate(contained), 3000);
    console.log(
      [
        `validation figures (${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores, node ${process.version}):`,
        `  parse R4 schema + StructureDefinitions (once):      ${loadMs.toFixed(0)} ms`,
        `  createValidator (reads profiles/):                  ${startMs.toFixed(1)} ms`,
        `  DocumentReference schema only, first compile:       ${schemaCompileMs.toFixed(0)} ms`,
        `  DocumentReference first validate, new validator:    ${firstMs.toFixed(0)} ms (its own schema compile + R4 rules plan)`,
        `  Patient first validate afterwards:                  ${secondTypeMs.toFixed(0)} ms`,
        `  DocumentReference schema only, per validation:      ${schemaUs.toFixed(2)} us`,
        `  DocumentReference (MHD Minimal), per validation:    ${fullUs.toFixed(1)} us`,
        `  same with 2 contained resources and 3 references:   ${containedUs.toFixed(1)} us`,
        `  invariants evaluated so far: ${validator.constraintStats().keys.join(' ')}`,
        `  left out: ${validator.constraintStats().skipped.map((s) => `${s.key} (${s.reason})`).join(', ')}`,
      ].join('\n'),
    );
  });
});
