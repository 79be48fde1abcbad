import { describe, expect, it } from 'vitest';
import { compileNative } from '../store/lmdb/native-filter.js';
import { plan } from '../store/lmdb/plan.js';
import { actorClauses } from './clauses.js';
import type { AccessFacts } from './facts.js';

const facts = (actor: AccessFacts['actor'], more: Partial<AccessFacts> = {}): AccessFacts => ({ actor, gp: [], permitted: [], blocked: [], emergency: [], masked: [], now: Date.UTC(2026, 11, 6), ...more });
const pharmacist = facts({ kind: 'professional', self: ['Practitioner/y'], emergency: false, organizations: ['Organization/o'] }, { shared: [['Patient/1', 'DocumentReference/rx']] });
const pro = facts({ kind: 'professional', self: ['Practitioner/z'], emergency: false }, { permitted: ['Patient/1'], gp: ['Patient/2'], blocked: ['Patient/3'], masked: [['Patient/1', 'DocumentReference/d9']] });

describe('access clauses', () => {
  it('confine nothing for a system client, and hide access histories from professionals', () => {
    expect(actorClauses(facts({ kind: 'system' }), 'DocumentReference', true)).toEqual([]);
    expect(actorClauses(pro, 'AuditEvent', true)).toEqual([{ id: { $in: [] } }]);
    expect(actorClauses(pro, 'Practitioner', false)).toEqual([]);
  });

  it('run on the embedded engine as plain closures, beside the search they confine (no mingo per candidate)', () => {
    const patient = facts({ kind: 'patient', patient: 'Patient/1', self: ['Patient/1'] });
    const rep = facts({ kind: 'representative', patient: 'Patient/1', self: ['RelatedPerson/r'] });
    for (const [f, type] of [[pro, 'DocumentReference'], [pro, 'Observation'], [pro, 'Patient'], [patient, 'DocumentReference'], [rep, 'DocumentReference'], [patient, 'Communication'], [pharmacist, 'DocumentReference'], [pharmacist, 'Communication']] as const) {
      const filter = { $and: [{ comp: 'Patient/1' }, ...actorClauses(f, type, true)] };
      const { residual } = plan(filter);
      expect(compileNative(residual), `${f.actor.kind} ${type}`).toBeDefined();
    }
  });
});
