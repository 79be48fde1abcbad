import fc from 'fast-check';
import r4 from 'fhirpath/fhir-context/r4';
import { describe, expect, it } from 'vitest';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import { ExpressionCache, absentNames } from './fhirpath.js';
import { ALL } from './fixtures.js';
import { compileMemberPath, type PathModel } from './member-path.js';
import { createSearchRegistry } from './registry.js';

/*
 * ExpressionCache.values (member paths walked on the JSON, terms answered in advance when their
 * elements are absent) must give exactly what fhirpath.js gives, for every term of every served
 * type's search parameters: on the realistic fixtures and on random resources that fill those
 * terms' paths with well-formed and malformed values (primitive extensions, nulls, numbers, nested
 * resources, several choice types at once).
 */

const model = r4 as unknown as PathModel;
const registry = createSearchRegistry();
const TERMS = new Map<string, string[]>(
  SERVED_TYPES.map((type) => [type, [...new Set(registry.defs(type).filter((d) => d.type !== 'composite').flatMap((d) => d.terms.map((t) => t.expression)))]]),
);

type Outcome = { values: Array<{ type: string; value: unknown }> } | { threw: true };

function outcome(fn: () => Array<{ type: string; value: unknown }>): Outcome {
  try {
    return { values: fn().map(({ type, value }) => ({ type, value })) };
  } catch {
    return { threw: true };
  }
}

/** Every term of `type` on `resource`: the fast answer equals fhirpath.js's. Returns how many terms were answered without fhirpath.js. */
function checkAll(type: string, resource: unknown): number {
  const reference = new ExpressionCache();
  const fast = new ExpressionCache();
  let answered = 0;
  for (const expression of TERMS.get(type)!) {
    const expected = outcome(() => reference.evaluate(resource, expression));
    const actual = outcome(() => fast.values(resource, expression));
    expect({ expression, ...actual }).toEqual({ expression, ...expected });
    if (compileMemberPath(expression)?.(resource) !== undefined) answered++;
  }
  return answered;
}

// ---------- random resources along the terms' paths ----------

const PATH = /^\(?\s*([A-Z][A-Za-z0-9]*)((?:\.[A-Za-z][A-Za-z0-9]*)+)/;

class Rng {
  constructor(private seed: number) {}
  next(): number {
    // mulberry32
    let t = (this.seed = (this.seed + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const LEAVES: unknown[] = [
  'Hélène',
  '1980-03-14',
  '2026-03-01T08:00:00+01:00',
  'Patient/p1',
  'final',
  '',
  true,
  false,
  { reference: 'Patient/p1' },
  { reference: 'https://elsewhere.example/fhir/Practitioner/x', display: 'Dr X' },
  { system: 'http://loinc.org', value: 'v1', code: 'c1' },
  { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }], text: 'Glycémie' },
  { start: '2026-01-01', end: '2026-02' },
  { family: 'Martin', given: ['Paul', 'Jean'] },
  { line: ['12 rue X'], city: 'Lyon' },
  { value: 1.5, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
  { system: 'email', value: 'a@b.fr' },
  { system: 'phone', value: '0102030405' },
];
const ODD: unknown[] = [null, 3, 0.1, [], [null], { resourceType: 'Patient', id: 'c1' }, { extension: [{ url: 'u', valueString: 'x' }] }];

function leaf(rng: Rng): unknown {
  return rng.chance(0.15) ? rng.pick(ODD) : rng.pick(LEAVES);
}

/** The JSON keys a member may take (one per choice type). */
function keysOf(parentPath: string, name: string): Array<{ key: string; path: string }> {
  let path = `${parentPath}.${name}`;
  path = model.pathsDefinedElsewhere[path] ?? path;
  const choices = model.choiceTypePaths[path];
  const paths = choices ? choices.map((t) => ({ key: name + t, path: path + t })) : [{ key: name, path }];
  return paths.map((p) => ({ key: p.key, path: model.path2TypeWithoutElements[p.path] ?? p.path }));
}

function fill(rng: Rng, node: Record<string, unknown>, parentPath: string, steps: string[]): void {
  const [name, ...rest] = steps;
  const options = keysOf(parentPath, name!);
  // Usually one choice type, sometimes two at once (fhirpath.js takes the first in its model's order).
  const chosen = rng.chance(0.1) ? [rng.pick(options), rng.pick(options)] : [rng.pick(options)];
  for (const { key, path } of chosen) {
    const make = (): unknown => {
      if (rest.length === 0) return leaf(rng);
      const child: Record<string, unknown> = {};
      fill(rng, child, path, rest);
      return child;
    };
    const existing = node[key];
    if (rng.chance(0.5)) {
      const items = Array.from({ length: 1 + rng.int(3) }, make);
      node[key] = Array.isArray(existing) ? [...existing, ...items] : items;
    } else if (existing === undefined) {
      node[key] = make();
    }
    if (rng.chance(0.05)) node[`_${key}`] = rng.chance(0.5) ? { extension: [{ url: 'u', valueCode: 'masked' }] } : [null, { id: 'e1' }];
    if (rng.chance(0.05)) node[key] = rng.pick(ODD);
  }
  // A null under the first of two choice types hides the second from fhirpath.js.
  if (chosen.length === 2 && chosen[0]!.key !== chosen[1]!.key && rng.chance(0.5)) node[chosen[0]!.key] = null;
}

function randomResource(type: string, seed: number): Record<string, unknown> {
  const rng = new Rng(seed);
  const resource: Record<string, unknown> = { resourceType: type, id: 'r1' };
  const terms = TERMS.get(type)!;
  const n = rng.int(6);
  for (let i = 0; i < n; i++) {
    const m = PATH.exec(rng.pick(terms));
    if (m && m[1] === type) fill(rng, resource, type, m[2]!.slice(1).split('.'));
  }
  return resource;
}

describe('search term values without fhirpath.js', () => {
  it('covers most terms of the served types with member paths', () => {
    const all = [...TERMS.values()].flat();
    const fast = all.filter((e) => compileMemberPath(e) || absentNames(e));
    expect(fast.length / all.length).toBeGreaterThan(0.9);
  });

  it('gives what fhirpath.js gives on the realistic fixtures', () => {
    let answered = 0;
    for (const resource of ALL) answered += checkAll(resource.resourceType, resource);
    expect(answered).toBeGreaterThan(ALL.length * 10);
  });

  for (const type of SERVED_TYPES) {
    it(`gives what fhirpath.js gives on random ${type} resources`, () => {
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          checkAll(type, randomResource(type, seed));
        }),
        { numRuns: 150 },
      );
    });
  }

  it('leaves to fhirpath.js what it does not walk', () => {
    expect(compileMemberPath("Patient.telecom.where(system='email')")).toBeUndefined();
    expect(compileMemberPath('Patient.name.as')).toBeUndefined();
    const walk = compileMemberPath('Patient.birthDate')!;
    expect(walk({ resourceType: 'Patient', birthDate: '1980' })).toEqual([{ type: 'date', value: '1980' }]);
    expect(walk({ resourceType: 'Patient', _birthDate: { extension: [] } })).toBeUndefined();
    expect(walk({ resourceType: 'Observation' })).toBeUndefined();
  });

  it('answers in advance a term whose elements are absent, and only then', () => {
    const cache = new ExpressionCache();
    const deceased = 'Patient.deceased.exists() and Patient.deceased != false';
    expect(absentNames(deceased)).toEqual({ root: 'Patient', names: ['deceased'] });
    expect(cache.values({ resourceType: 'Patient' }, deceased)).toEqual([{ type: 'Boolean', value: false }]);
    expect(cache.values({ resourceType: 'Patient', deceasedBoolean: true }, deceased).map((v) => v.value)).toEqual([true]);
    expect(absentNames('Patient.name.where(%resource.active)')).toBeUndefined();
    expect(absentNames('Patient.extension(%url)')).toBeUndefined();
    expect(absentNames('Patient.name.children()')).toBeUndefined();
  });
});
