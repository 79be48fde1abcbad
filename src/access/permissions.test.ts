import { describe, expect, it } from 'vitest';
import { FhirError } from '../errors.js';
import { parseScopes } from '../auth/scopes.js';
import { authorize, authorizeTypes, compartmentFilter, requiredPermission, type Caller } from './permissions.js';

const caller = (scope: string, patient?: string): Caller => ({ scopes: parseScopes(scope), ...(patient ? { patient } : {}) });

function forbidden(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    expect((err as FhirError).status).toBe(403);
    return err as FhirError;
  }
  throw new Error('expected a 403');
}

describe('requiredPermission', () => {
  it('follows SMART v2', () => {
    expect(['read', 'vread', 'history-instance'].map((i) => requiredPermission(i as never))).toEqual(['r', 'r', 'r']);
    expect(['search-type', 'search-system', 'history-type', 'history-system'].map((i) => requiredPermission(i as never))).toEqual([
      's', 's', 's', 's',
    ]);
    expect(requiredPermission('create')).toBe('c');
    expect(requiredPermission('update')).toBe('u');
    expect(requiredPermission('patch')).toBe('u');
    expect(requiredPermission('delete')).toBe('d');
    expect(requiredPermission('capabilities')).toBeUndefined();
  });
});

describe('authorize', () => {
  it('grants user and system scopes without a compartment', () => {
    expect(authorize(caller('user/*.cruds'), 'DocumentReference', 'create')).toEqual({ contexts: new Set(['user']) });
    expect(authorize(caller('system/Observation.rs'), 'Observation', 'search-type')).toEqual({ contexts: new Set(['system']) });
  });

  it('confines patient scopes to the launch patient compartment', () => {
    const grant = authorize(caller('patient/*.rs', '456'), 'Observation', 'read');
    expect(grant).toEqual({ contexts: new Set(['patient']), compartment: 'Patient/456' });
  });

  it('does not confine when a user scope also grants', () => {
    const grant = authorize(caller('patient/*.rs user/Observation.rs', '456'), 'Observation', 'read');
    expect(grant).toEqual({ contexts: new Set(['patient', 'user']) });
    expect(authorize(caller('patient/*.rs user/Observation.rs', '456'), 'Condition', 'read').compartment).toBe('Patient/456');
  });

  it('refuses patient scopes without a patient in the launch context', () => {
    expect(forbidden(() => authorize(caller('patient/*.cruds'), 'Observation', 'read')).message).toMatch(/launch context/);
  });

  it('answers 403 when no scope grants the interaction', () => {
    const c = caller('patient/Observation.rs user/Condition.r', '1');
    expect(forbidden(() => authorize(c, 'Observation', 'create')).message).toBe('Granted scopes do not allow create (c) on Observation');
    forbidden(() => authorize(c, 'Condition', 'search-type'));
    forbidden(() => authorize(c, 'DocumentReference', 'read'));
    forbidden(() => authorize(caller('user/Observation.cd'), 'Observation', 'update'));
    forbidden(() => authorize(caller('openid fhirUser'), 'Patient', 'read'));
    forbidden(() => authorize(caller('user/*.rs'), 'Observation', 'delete'));
  });

  it('lets a granular scope grant nothing until queries are enforced', () => {
    forbidden(() => authorize(caller('user/Observation.rs?category=laboratory'), 'Observation', 'search-type'));
  });

  it('needs no scope for capabilities, and read for an operation', () => {
    expect(authorize(caller(''), 'Patient', 'capabilities')).toEqual({ contexts: new Set() });
    expect(authorize(caller('patient/Patient.r', '9'), 'Patient', 'operation').compartment).toBe('Patient/9');
    forbidden(() => authorize(caller('patient/Patient.s', '9'), 'Patient', 'operation'));
  });
});

describe('authorizeTypes', () => {
  it('returns the granted subset, each with its own restriction', () => {
    const granted = authorizeTypes(caller('patient/Observation.rs user/Condition.s', '7'), ['Observation', 'Condition', 'Consent'], 'search-system');
    expect([...granted.keys()]).toEqual(['Observation', 'Condition']);
    expect(granted.get('Observation')?.compartment).toBe('Patient/7');
    expect(granted.get('Condition')?.compartment).toBeUndefined();
  });

  it('answers 403 when no type is granted', () => {
    forbidden(() => authorizeTypes(caller('user/Observation.r'), ['Observation', 'Condition'], 'history-system'));
    forbidden(() => authorizeTypes(caller('patient/*.rs'), ['Observation'], 'search-system'));
  });
});

describe('compartmentFilter', () => {
  it('builds the compartment clause, matching the Patient itself by id', () => {
    const grant = authorize(caller('patient/*.rs', '456'), 'Observation', 'read');
    expect(compartmentFilter(grant, 'Observation')).toEqual({ comp: 'Patient/456' });
    expect(compartmentFilter(grant, 'Patient')).toEqual({ $or: [{ comp: 'Patient/456' }, { type: 'Patient', id: '456' }] });
    expect(compartmentFilter(authorize(caller('user/*.rs'), 'Observation', 'read'), 'Observation')).toBeUndefined();
  });
});
