import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../fhir/resource-types.js';
import { createLmdbStore, type LmdbStore } from '../store/lmdb/lmdb-store.js';
import type { Store } from '../store/store.js';
import { compileQs, matching, recordOf } from './test-helpers.js';

/*
 * Random resources and random searches: what mingo finds with the compiled filter over the
 * indexed records must equal what a brute-force evaluator of FHIR search semantics finds on the
 * resources themselves. The evaluator below is written from the FHIR R4 search page, not from
 * the compiler (no imports from src/search besides the test harness).
 */

// ---------- the independent evaluator ----------

const fold = (s: string) =>
  s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');

type Range = [number, number];

function range(s: string): Range {
  const y = Number(s.slice(0, 4));
  if (s.length === 4) return [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1) - 1];
  const m = Number(s.slice(5, 7)) - 1;
  if (s.length === 7) return [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1) - 1];
  const d = Number(s.slice(8, 10));
  if (s.length === 10) return [Date.UTC(y, m, d), Date.UTC(y, m, d + 1) - 1];
  const hasZone = /(Z|[+-]\d\d:\d\d)$/.test(s);
  const t = Date.parse(hasZone ? s : `${s}Z`);
  const seconds = /T\d\d:\d\d:\d\d/.test(s);
  const millis = /\.\d+/.test(s);
  return [t, t + (millis ? 0 : seconds ? 999 : 59_999)];
}

function datePrefix(prefix: string, target: Range, search: Range): boolean {
  const [tl, tu] = target;
  const [sl, su] = search;
  const eq = tl >= sl && tu <= su;
  switch (prefix) {
    case 'eq': return eq;
    case 'ne': return !eq;
    case 'gt': return tu > su;
    case 'lt': return tl < sl;
    case 'ge': return tu > su || eq;
    case 'le': return tl < sl || eq;
    case 'sa': return tl > su;
    case 'eb': return tu < sl;
  }
  throw new Error(prefix);
}

const round = (x: number) => Number(x.toPrecision(12));

function numberPrefix(prefix: string, value: number, search: number, decimals: number, factor = 1): boolean {
  const half = 0.5 * 10 ** -decimals * factor;
  const s = search * factor;
  switch (prefix) {
    case 'eq': return round(value) >= round(s - half) && round(value) < round(s + half);
    case 'ne': return !(round(value) >= round(s - half) && round(value) < round(s + half));
    case 'gt': case 'sa': return round(value) > round(s);
    case 'lt': case 'eb': return round(value) < round(s);
    case 'ge': return round(value) >= round(s);
    case 'le': return round(value) <= round(s);
  }
  throw new Error(prefix);
}

interface Coding { system?: string; code?: string }
const codingMatch = (c: Coding, v: string): boolean => {
  const bar = v.indexOf('|');
  if (bar < 0) return c.code === v;
  const [sys, code] = [v.slice(0, bar), v.slice(bar + 1)];
  if (sys === '') return c.system === undefined && c.code === code;
  if (code === '') return c.system === sys;
  return c.system === sys && c.code === code;
};

const GRAMS: Record<string, number> = { mg: 0.001, g: 1, kg: 1000 };

/** Does resource r match one parameter occurrence (name, value)? */
function evaluate(r: any, name: string, value: string): boolean {
  const [code, modifier] = name.split(':');
  const values = value.split(',');
  const any = (f: (v: string) => boolean) => values.some(f);
  switch (`${r.resourceType}.${code}`) {
    case 'Patient.name':
    case 'Patient.family':
    case 'Patient.given': {
      const parts: string[] = (r.name ?? []).flatMap((n: any) =>
        code === 'family' ? [n.family] : code === 'given' ? n.given ?? [] : [n.family, ...(n.given ?? []), n.text],
      ).filter((x: unknown): x is string => typeof x === 'string');
      if (modifier === 'missing') return (parts.length === 0) === (value === 'true');
      return any((v) => parts.some((p) => (modifier === 'exact' ? p === v : modifier === 'contains' ? fold(p).includes(fold(v)) : fold(p).startsWith(fold(v)))));
    }
    case 'Patient.gender': {
      const c: Coding[] = r.gender ? [{ system: 'http://hl7.org/fhir/administrative-gender', code: r.gender }] : [];
      if (modifier === 'missing') return (c.length === 0) === (value === 'true');
      const hit = any((v) => c.some((x) => codingMatch(x, v)));
      return modifier === 'not' ? !hit : hit;
    }
    case 'Patient.active': {
      const c: Coding[] = typeof r.active === 'boolean' ? [{ code: String(r.active) }] : [];
      return any((v) => c.some((x) => codingMatch(x, v)));
    }
    case 'Patient.birthdate': {
      if (modifier === 'missing') return (r.birthDate === undefined) === (value === 'true');
      return r.birthDate !== undefined && any((v) => datePrefix(v.slice(0, 2), range(r.birthDate), range(v.slice(2))));
    }
    case 'Patient._id':
    case 'Observation._id':
      return any((v) => r.id === v);
    case 'Observation.status': {
      const hit = any((v) => codingMatch({ system: 'http://hl7.org/fhir/observation-status', code: r.status }, v));
      return modifier === 'not' ? !hit : hit;
    }
    case 'Observation.code': {
      const codings: Coding[] = r.code?.coding ?? [];
      if (modifier === 'missing') return (r.code === undefined) === (value === 'true');
      if (modifier === 'text') return any((v) => [r.code?.text, ...codings.map((c: any) => c.display)].some((t) => typeof t === 'string' && fold(t).startsWith(fold(v))));
      const hit = any((v) => codings.some((c) => codingMatch(c, v)));
      return modifier === 'not' ? !hit : hit;
    }
    case 'Observation.subject':
    case 'Observation.patient': {
      const ref: string | undefined = r.subject?.reference;
      if (code === 'patient' && !ref?.startsWith('Patient/')) return modifier === 'missing' ? value === 'true' : false;
      if (modifier === 'missing') return (ref === undefined) === (value === 'true');
      return any((v) => ref !== undefined && (v.includes('/') ? ref === v : ref.split('/')[1] === v));
    }
    case 'Observation.date': {
      const e = r.effectiveDateTime ? range(r.effectiveDateTime) : r.effectivePeriod ? [
        r.effectivePeriod.start ? range(r.effectivePeriod.start)[0] : -8.64e15,
        r.effectivePeriod.end ? range(r.effectivePeriod.end)[1] : 8.64e15,
      ] as Range : undefined;
      if (modifier === 'missing') return (e === undefined) === (value === 'true');
      return e !== undefined && any((v) => datePrefix(v.slice(0, 2), e, range(v.slice(2))));
    }
    case 'Observation.value-quantity': {
      const q = r.valueQuantity;
      if (modifier === 'missing') return (q === undefined) === (value === 'true');
      if (!q) return false;
      return any((v) => {
        const [num, system, unit] = v.split('|');
        const prefix = num.slice(0, 2);
        const n = num.slice(2);
        const decimals = n.includes('.') ? n.split('.')[1].length : 0;
        if (unit) return system === 'http://unitsofmeasure.org' && numberPrefix(prefix, q.value * GRAMS[q.code], Number(n), decimals, GRAMS[unit]);
        return numberPrefix(prefix, q.value, Number(n), decimals);
      });
    }
  }
  throw new Error(`no evaluator for ${r.resourceType}.${code}`);
}

// ---------- generators ----------

const NAMES = ['Hélène', 'helene', 'HÉLÈNE', 'Léa', 'Lea', 'Marc', 'Marcel', 'Zoé', 'de la  Tour', 'Anaïs'];
const DATES = ['1980', '1980-03', '1980-03-14', '1980-12-31', '2026', '2026-03', '2026-03-01', '2026-03-01T08:00:00+01:00', '2026-03-01T23:30:00Z', '2026-03-02T00:15:00.250Z', '2025-12-31T23:00:00-02:00', '2026-03-01T10:00'];
const SYSTEMS = ['http://loinc.org', 'http://snomed.info/sct', undefined];
const CODES = ['2339-0', '8480-6', '1234'];
const STATUSES = ['final', 'preliminary', 'amended'];

const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** FHIR JSON has no empty objects or arrays (http://hl7.org/fhir/R4/json.html): drop them, as a client must. */
const strip = <T extends object>(o: T): T =>
  JSON.parse(JSON.stringify(o), (_k, v) =>
    (Array.isArray(v) && v.length === 0) || (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) ? undefined : v,
  );

const patient = (id: string) =>
  fc
    .record({
      name: opt(fc.array(fc.record({ family: opt(fc.constantFrom(...NAMES)), given: opt(fc.array(fc.constantFrom(...NAMES), { maxLength: 2 })) }), { maxLength: 2 })),
      gender: opt(fc.constantFrom('male', 'female', 'other')),
      birthDate: opt(fc.constantFrom('1980', '1980-03', '1980-03-14', '2026-03-01', '1979-12')),
      active: opt(fc.boolean()),
    })
    .map((p): Resource => strip({ resourceType: 'Patient', id, ...p }));

const observation = (id: string) =>
  fc
    .record({
      status: fc.constantFrom(...STATUSES),
      code: opt(
        fc.record({
          coding: opt(fc.array(fc.record({ system: fc.constantFrom(...SYSTEMS), code: fc.constantFrom(...CODES), display: opt(fc.constantFrom('Glycémie', 'Pression')) }), { maxLength: 2 })),
          text: opt(fc.constantFrom('Glucose', 'glycémie à jeun')),
        }),
      ),
      subject: opt(fc.constantFrom('Patient/p0', 'Patient/p1', 'Group/p1', 'Device/d1').map((reference) => ({ reference }))),
      effective: opt(
        fc.oneof(
          fc.constantFrom(...DATES).map((d) => ({ effectiveDateTime: d })),
          fc.record({ start: opt(fc.constantFrom(...DATES)), end: opt(fc.constantFrom(...DATES)) }).map((p) => ({ effectivePeriod: p })),
        ),
      ),
      valueQuantity: opt(fc.record({ value: fc.constantFrom(0.5, 1, 1.5, 500, 1000, 1500), code: fc.constantFrom('mg', 'g', 'kg') })),
    })
    .map(({ effective, valueQuantity, ...o }): Resource => {
      const period = (effective as any)?.effectivePeriod;
      const eff = period && !period.start && !period.end ? {} : effective;
      const q = valueQuantity && { ...valueQuantity, system: 'http://unitsofmeasure.org', unit: valueQuantity.code };
      return strip({ resourceType: 'Observation', id, ...o, ...(eff ?? {}), ...(q ? { valueQuantity: q } : {}) });
    });

const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'];
const orList = (arb: fc.Arbitrary<string>) => fc.array(arb, { minLength: 1, maxLength: 3 }).map((vs) => vs.join(','));
const tokenValue = (systems: Array<string | undefined>, codes: string[]) =>
  fc.oneof(
    fc.constantFrom(...codes),
    fc.tuple(fc.constantFrom(...systems.map((s) => s ?? '')), fc.constantFrom(...codes, '')).filter(([s, c]) => s !== '' || c !== '').map(([s, c]) => `${s}|${c}`),
  );
const dateValue = fc.tuple(fc.constantFrom(...PREFIXES), fc.constantFrom(...DATES)).map(([p, d]) => `${p}${d}`);
const missing = fc.constantFrom('true', 'false');

const patientParam: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constantFrom('name', 'family', 'given', 'name:contains', 'name:exact'), orList(fc.constantFrom('hel', 'HÉL', 'Hélène', 'le', 'marc', 'zo', 'de la t', 'x', 'anais'))),
  fc.tuple(fc.constantFrom('name:missing', 'gender:missing', 'birthdate:missing'), missing),
  fc.tuple(fc.constantFrom('gender', 'gender:not'), orList(tokenValue(['http://hl7.org/fhir/administrative-gender', 'http://other'], ['male', 'female', 'other']))),
  fc.tuple(fc.constant('active'), fc.constantFrom('true', 'false')),
  fc.tuple(fc.constant('birthdate'), orList(dateValue)),
  fc.tuple(fc.constant('_id'), orList(fc.constantFrom('p0', 'p1', 'p2', 'zz'))),
);

const quantityValue = fc
  .tuple(fc.constantFrom(...PREFIXES.filter((p) => p !== 'sa' && p !== 'eb')), fc.constantFrom('0.5', '1', '1.0', '1.5', '500', '1000', '1500.0'), fc.constantFrom('', '|http://unitsofmeasure.org|mg', '|http://unitsofmeasure.org|g', '|http://unitsofmeasure.org|kg'))
  .map(([p, n, u]) => `${p}${n}${u}`);

const observationParam: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constantFrom('status', 'status:not'), orList(tokenValue(['http://hl7.org/fhir/observation-status'], STATUSES))),
  fc.tuple(fc.constantFrom('code', 'code:not'), orList(tokenValue(SYSTEMS, CODES))),
  fc.tuple(fc.constant('code:text'), fc.constantFrom('glyc', 'GLUCOSE', 'pres', 'a jeun')),
  fc.tuple(fc.constantFrom('code:missing', 'subject:missing', 'date:missing', 'value-quantity:missing', 'patient:missing'), missing),
  fc.tuple(fc.constantFrom('subject', 'patient'), orList(fc.constantFrom('Patient/p0', 'Patient/p1', 'p1', 'Group/p1', 'd1'))),
  fc.tuple(fc.constant('date'), orList(dateValue)),
  fc.tuple(fc.constant('value-quantity'), orList(quantityValue)),
  fc.tuple(fc.constant('_id'), fc.constantFrom('o0', 'o1')),
);

/**
 * The same search three ways: the brute-force evaluator; mingo over the indexed records; and the
 * embedded store, whose indexes (compartment, terms, compartment terms) pick the candidates and
 * answer some clauses before mingo sees the rest. The store keeps the resources of earlier runs'
 * ids, rewritten each run, so its indexes are also checked as they follow updates.
 */
async function check(store: Store, type: string, resources: Resource[], params: Array<[string, string]>): Promise<void> {
  const qs = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const { filter } = compileQs(type, qs);
  const expected = resources.filter((r) => params.every(([k, v]) => evaluate(r, k, v))).map((r) => r.id);
  const context = `${type}?${qs}\n${JSON.stringify(resources)}`;
  expect(matching(filter, resources), context).toEqual(expected);
  await store.commit(resources.map((r) => ({ record: recordOf(r), expect: { kind: 'any' as const } })));
  const { records } = await store.search({ types: [type], filter, sort: [], offset: 0, limit: 100, count: false });
  expect(records.map((r) => r.id), `embedded store: ${context}`).toEqual(expected);
}

describe('compiled search = FHIR semantics (property)', () => {
  let store: LmdbStore;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carnet-property-'));
    store = await createLmdbStore({ path: dir });
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('Patient', async () => {
    const resources = fc.tuple(patient('p0'), patient('p1'), patient('p2'), patient('p3'));
    await fc.assert(
      fc.asyncProperty(resources, fc.array(patientParam, { minLength: 1, maxLength: 2 }), (rs, params) => check(store, 'Patient', rs, params)),
      { numRuns: 1000 },
    );
  });

  it('Observation', async () => {
    const resources = fc.tuple(observation('o0'), observation('o1'), observation('o2'), observation('o3'));
    await fc.assert(
      fc.asyncProperty(resources, fc.array(observationParam, { minLength: 1, maxLength: 2 }), (rs, params) => check(store, 'Observation', rs, params)),
      { numRuns: 1000 },
    );
  });
});
