import { describe, expect, it } from 'vitest';
import { indexResource } from '../search/extract.js';
import { registry } from '../search/test-helpers.js';
import { readConsent } from './consent.js';

const who = (r: string) => ({ reference: { reference: r } });
const consent = (provision: Record<string, unknown>) => ({ resourceType: 'Consent', status: 'active', patient: { reference: 'Patient/x' }, provision });
const indexed = (resource: Record<string, unknown>) =>
  indexResource(resource as never, registry()).idx.filter((e) => e.p === 'provision-denied-actor').map((e) => e.r).sort();
const denied = (resource: Record<string, unknown>) =>
  [...new Set(readConsent(resource as never, Date.now())!.provisions.filter((p) => p.type === 'deny').flatMap((p) => p.actors))].sort();

describe('provision-denied-actor: the actors a Consent denies, as the access rules read them', () => {
  const shapes: Array<[string, Record<string, unknown>]> = [
    ['a deny', { type: 'deny', actor: [who('Practitioner/a')] }],
    ['a permit', { type: 'permit', actor: [who('Practitioner/a')] }],
    ['a bare provision (a permit)', { actor: [who('Practitioner/a')] }],
    ['a permit with a nested deny', { type: 'permit', actor: [who('Practitioner/a')], provision: [{ type: 'deny', actor: [who('Practitioner/b')] }] }],
    ['a deny whose nested provision takes its type', { type: 'deny', actor: [who('Practitioner/a')], provision: [{ actor: [who('Practitioner/b')] }] }],
    ['a deny with a nested permit', { type: 'deny', provision: [{ type: 'permit', actor: [who('Practitioner/b')] }] }],
    ['three levels, the last inheriting a deny', { type: 'permit', provision: [{ type: 'deny', provision: [{ actor: [who('PractitionerRole/r')] }] }] }],
    ['three levels inheriting from the top', { type: 'deny', provision: [{ provision: [{ actor: [who('Practitioner/c')] }] }] }],
    ['a deny at the third level', { provision: [{ provision: [{ type: 'deny', actor: [who('Practitioner/d')] }] }] }],
  ];
  for (const [name, provision] of shapes) {
    it(name, () => {
      const resource = consent(provision);
      expect(indexed(resource)).toEqual(denied(resource));
    });
  }
  it('finds the blocked professional of a deny and nobody in a permit', () => {
    expect(indexed(consent({ type: 'deny', actor: [who('Practitioner/a')] }))).toEqual(['Practitioner/a']);
    expect(indexed(consent({ type: 'permit', actor: [who('Practitioner/a')] }))).toEqual([]);
  });
});
