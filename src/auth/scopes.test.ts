import { describe, expect, it } from 'vitest';
import { formatScope, parseScope, parseScopes } from './scopes.js';

const perms = (text: string) => [...(parseScope(text)?.perms ?? [])].sort().join('');

describe('SMART scopes', () => {
  it('parses v2 scopes', () => {
    expect(parseScope('patient/*.rs')).toEqual({ context: 'patient', type: '*', perms: new Set(['r', 's']) });
    expect(parseScope('user/DocumentReference.cruds')).toEqual({
      context: 'user',
      type: 'DocumentReference',
      perms: new Set(['c', 'r', 'u', 'd', 's']),
    });
    expect(perms('system/*.cruds')).toBe('cdrsu');
    expect(perms('user/Observation.c')).toBe('c');
    expect(perms('user/Observation.ud')).toBe('du');
  });

  it('keeps a v2 granular query', () => {
    expect(parseScope('patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory')).toEqual({
      context: 'patient',
      type: 'Observation',
      perms: new Set(['r', 's']),
      query: 'category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
    });
  });

  it('maps v1 scopes to v2', () => {
    expect(perms('patient/*.read')).toBe('rs');
    expect(perms('user/Observation.write')).toBe('cdu');
    expect(perms('system/*.*')).toBe('cdrsu');
    expect(parseScope('patient/Observation.read?code=x')).toBeUndefined();
  });

  it('rejects out-of-order, repeated, unknown or empty permissions and bad contexts', () => {
    for (const bad of ['patient/*.sr', 'user/Observation.rr', 'user/Observation.rx', 'user/Observation.', 'user/Observation.rs?',
      'admin/*.rs', 'patient/observation.rs', 'patient/*', 'patient/*.readwrite', 'patient/Observation.rs ']) {
      expect(parseScope(bad), bad).toBeUndefined();
    }
  });

  it('ignores non-resource scopes in a scope claim', () => {
    const scopes = parseScopes('openid fhirUser launch/patient launch offline_access online_access  patient/Observation.rs user/*.bogus');
    expect(scopes.map(formatScope)).toEqual(['patient/Observation.rs']);
    expect(parseScopes('')).toEqual([]);
  });

  it('formats scopes canonically', () => {
    expect(formatScope(parseScope('user/Observation.write')!)).toBe('user/Observation.cud');
    expect(formatScope(parseScope('patient/Observation.rs?code=1')!)).toBe('patient/Observation.rs?code=1');
  });
});
