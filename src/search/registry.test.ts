import { describe, expect, it } from 'vitest';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import { baseOf } from './registry.js';
import { registry } from './test-helpers.js';

describe('createSearchRegistry', () => {
  it('has the R4 parameters of every served type, and Resource-level ones', () => {
    const reg = registry();
    for (const type of SERVED_TYPES) {
      expect(reg.get(type, '_id'), type).toMatchObject({ type: 'token' });
      expect(reg.get(type, '_lastUpdated'), type).toMatchObject({ type: 'date' });
    }
    expect(reg.get('Observation', 'code')).toMatchObject({ type: 'token', terms: [{ expression: 'Observation.code' }] });
    expect(reg.get('Observation', 'patient')).toMatchObject({ terms: [{ expression: 'Observation.subject', refType: 'Patient' }], targets: ['Patient'] });
    expect(reg.get('Patient', '_tag')?.terms).toEqual([{ expression: 'Patient.meta.tag' }]);
    expect(reg.get('Binary', 'code')).toBeUndefined();
  });

  it('adds the IHE MHD creation parameter from conformance/search-parameters', () => {
    expect(registry().get('DocumentReference', 'creation')).toMatchObject({
      type: 'date',
      url: 'https://profiles.ihe.net/ITI/MHD/SearchParameter/DocumentReference-Creation',
      terms: [{ expression: 'DocumentReference.content.attachment.creation' }],
    });
  });

  it('lists parameters for the CapabilityStatement', () => {
    const list = registry().list('DocumentReference');
    expect(list.find((p) => p.name === 'creation')).toEqual({
      name: 'creation',
      definition: 'https://profiles.ihe.net/ITI/MHD/SearchParameter/DocumentReference-Creation',
      type: 'date',
      documentation: expect.stringContaining('ITI-67'),
    });
    expect(list.map((p) => p.name)).toEqual([...list.map((p) => p.name)].sort());
  });

  it('says which parameters it skipped and why', () => {
    expect(registry().skipped.map((s) => [s.code, s.reason])).toEqual([
      ['_text', 'no FHIRPath expression'],
      ['_content', 'no FHIRPath expression'],
      ['_query', 'no FHIRPath expression'],
    ]);
  });

  it('resolves composite components', () => {
    const def = registry().get('Observation', 'component-code-value-quantity')!;
    expect(def.components?.map((c) => [c.def.code, c.def.type, c.expression])).toEqual([
      ['component-code', 'token', 'code'],
      ['component-value-quantity', 'quantity', 'value.as(Quantity)'],
    ]);
    expect(registry().get('Observation', 'code-value-date')!.components![1].expression).toBe('value.as(dateTime) | value.as(Period)');
  });

  it('can evaluate every expression it keeps', () => {
    const reg = registry();
    for (const type of SERVED_TYPES) {
      for (const def of reg.defs(type)) {
        for (const t of def.terms) {
          expect(() => reg.expressions.evaluate({ resourceType: type }, t.expression), `${type}.${def.code}`).not.toThrow();
          for (const c of def.components ?? []) {
            expect(() => reg.expressions.get(c.expression, baseOf(t.expression)), `${type}.${def.code}`).not.toThrow();
          }
        }
      }
    }
  });
});
