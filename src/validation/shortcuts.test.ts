import fc from 'fast-check';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { describe, expect, it } from 'vitest';
import { definitions } from '../fhir/definitions.js';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import { shortcutFor } from './shortcuts.js';

/*
 * A shortcut may only say "holds" where fhirpath.js does not find the invariant violated (a single
 * false), for every invariant of the data types and served resources it recognises, on random
 * elements filled with the names the invariant reads: present, absent, null, empty arrays, arrays
 * of nulls, primitive extensions (`_name`), several choice types at once.
 */

interface Invariant {
  key: string;
  base: string;
  expression: string;
}

function invariants(): Invariant[] {
  const out: Invariant[] = [];
  const errors = (el: any) => (el.constraint ?? []).filter((c: any) => c.severity === 'error' && c.expression);
  for (const { resource: sd } of definitions.typeProfiles().entry ?? []) {
    if (sd?.kind !== 'complex-type' || !sd.snapshot) continue;
    for (const c of errors(sd.snapshot.element[0])) out.push({ key: c.key, base: sd.id, expression: c.expression });
  }
  for (const { resource: sd } of definitions.resourceProfiles().entry ?? []) {
    if (!SERVED_TYPES.includes(sd?.id) || !sd.snapshot) continue;
    for (const el of sd.snapshot.element) {
      if (el.path.includes('.') && !el.path.endsWith('[x]')) for (const c of errors(el)) out.push({ key: c.key, base: el.path, expression: c.expression });
    }
  }
  return out;
}

const model = r4 as unknown as { choiceTypePaths: Record<string, string[] | undefined> };

const VALUES: unknown[] = ['x', '', '#c1', '#zz', 'Patient/p1', 'http://unitsofmeasure.org', 'mg', true, false, 0, 1.5, -2, null, [], [null], ['a'], {}, { id: 'e' }, [{ url: 'u' }]];

function keysFor(inv: Invariant): string[] {
  const code = inv.expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  const names = [...new Set([...code.matchAll(/(?<![%\w])([a-z][A-Za-z0-9]*)(?!\s*\()/g)].map((m) => m[1]!))];
  return names.flatMap((n) => model.choiceTypePaths[`${inv.base}.${n}`]?.map((t) => n + t) ?? [n]);
}

function violated(inv: Invariant, node: unknown, rootResource: unknown): boolean {
  try {
    const r = fhirpath.evaluate(node, { base: inv.base, expression: inv.expression }, { resource: rootResource, rootResource }, r4, { traceFn: () => undefined });
    return r.length === 1 && r[0] === false;
  } catch {
    return false;
  }
}

describe('invariant shortcuts', () => {
  const known = invariants().filter((inv) => shortcutFor(inv.expression, inv.base));

  it('recognise the common data type invariants', () => {
    const keys = new Set(known.map((inv) => inv.key));
    for (const key of ['ref-1', 'cpt-2', 'qty-3', 'att-1', 'per-1', 'ext-1']) expect(keys).toContain(key);
  });

  for (const inv of known) {
    it(`${inv.key} on ${inv.base}: holds only where fhirpath.js finds no violation`, () => {
      const keys = keysFor(inv);
      const node = fc.dictionary(fc.constantFrom(...keys, ...keys.map((k) => `_${k}`)), fc.constantFrom(...VALUES), { maxKeys: 5 });
      const root = fc.constantFrom({ resourceType: 'Patient' }, { resourceType: 'Patient', contained: [{ resourceType: 'Patient', id: 'c1' }] });
      let decided = 0;
      fc.assert(
        fc.property(node, root, (n, r) => {
          if (shortcutFor(inv.expression, inv.base)!(n) === true) {
            decided++;
            expect(violated(inv, n, r)).toBe(false);
          }
        }),
        { numRuns: 300 },
      );
      expect(decided).toBeGreaterThan(0);
    });
  }

  it('leaves violations to fhirpath.js', () => {
    const cpt2 = shortcutFor('value.empty() or system.exists()', 'ContactPoint')!;
    expect(cpt2({ value: '0102' })).toBeUndefined();
    expect(cpt2({ value: '0102', system: 'phone' })).toBe(true);
    const ref1 = shortcutFor(invariants().find((i) => i.key === 'ref-1')!.expression, 'Reference')!;
    expect(ref1({ reference: '#c1' })).toBeUndefined();
    expect(ref1({ reference: 'Patient/p1' })).toBe(true);
    expect(ref1({ display: 'Dr Martin' })).toBe(true);
    expect(shortcutFor('value.empty() or system.exists()', 'Observation.component')).toBeUndefined();
  });
});
