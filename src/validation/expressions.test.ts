import { describe, expect, it } from 'vitest';
import { pointerToExpression } from './ajv-issues.js';
import { rootNames } from './constraints.js';

describe('pointerToExpression', () => {
  it('turns a JSON pointer into a FHIRPath-like expression', () => {
    expect(pointerToExpression('DocumentReference', '/content/0/attachment')).toBe('DocumentReference.content[0].attachment');
    expect(pointerToExpression('Patient', '')).toBe('Patient');
    expect(pointerToExpression('Bundle.entry[0].resource', '/name/1/given/0')).toBe('Bundle.entry[0].resource.name[1].given[0]');
  });

  it('places extensions of a primitive on the element itself', () => {
    expect(pointerToExpression('Patient', '/_birthDate/extension/0/url')).toBe('Patient.birthDate.extension[0].url');
    expect(pointerToExpression('Patient', '/_birthDate')).toBe('Patient._birthDate');
  });
});

describe('rootNames', () => {
  it('names the elements an invariant starts from', () => {
    expect(rootNames('dataAbsentReason.empty() or value.empty()')).toEqual(['dataAbsentReason', 'value']);
    expect(rootNames('contained.contained.empty()')).toEqual(['contained']);
    expect(rootNames("verificationStatus.coding.where(system = 'x' and code = 'entered-in-error').empty() or clinicalStatus.empty()"))
      .toEqual(['verificationStatus', 'system', 'code', 'clinicalStatus']);
  });

  it('gives up when the result may depend on more than those elements', () => {
    expect(rootNames("where(use = 'home').empty()")).toBeUndefined();
    expect(rootNames("reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)")).toBeUndefined();
    expect(rootNames("Appointment.cancelationReason.exists() implies (Appointment.status='noshow')")).toBeUndefined();
    expect(rootNames('hasValue() or (children().count() > id.count())')).toBeUndefined();
  });

  it('ignores names inside string literals', () => {
    expect(rootNames("code = 'Patient.name(x)'")).toEqual(['code']);
  });
});
