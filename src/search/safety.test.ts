import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../errors.js';
import { compileSearch } from './compile.js';
import { helene, paul } from './fixtures.js';
import { parseSearch } from './parse.js';
import { ids, queryOf, registry } from './test-helpers.js';
import { escapeRegex } from './types/common.js';
import { normalizeString } from './types/string.js';

const OPERATORS = new Set(['$and', '$or', '$nor', '$elemMatch', '$in', '$nin', '$regex', '$gt', '$gte', '$lt', '$lte', '$exists', '$sub']);
const FIELDS = /^(idx|id|lastUpdated|p|[0-9]?(v|x|s|c|t|ts|tc|r|st|et|n|cn|cc|u))$/;

/** Every key of a compiled filter is one of ours: a known operator or an index field. */
function keysOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => keysOf(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      keysOf(v, out);
    }
  }
  return out;
}

function regexesOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => regexesOf(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$regex') out.push(v as string);
      else regexesOf(v, out);
    }
  }
  return out;
}

const search = (type: string, query: Record<string, unknown>, strict = true) =>
  compileSearch(parseSearch(type, query as Record<string, string>, registry(), { strict }));

function badSearch(fn: () => unknown, param: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    expect((err as FhirError).code).toBe('bad-search');
    expect((err as FhirError).issues[0].expression).toEqual([param]);
    return;
  }
  throw new Error('expected a bad-search error');
}

describe('user input never becomes a query operator', () => {
  it('name[$ne]=x is an unknown parameter, not an operator', () => {
    badSearch(() => search('Patient', queryOf('name[$ne]=x')), 'name[$ne]');
    const lenient = search('Patient', queryOf('name[$ne]=x'), false);
    expect(lenient.filter).toEqual({});
    expect(lenient.warnings).toHaveLength(1);
  });

  it('objects and arrays of objects where text is expected are refused', () => {
    badSearch(() => search('Patient', { name: { $ne: 'x' } }), 'name');
    badSearch(() => search('Patient', { name: [{ $gt: '' }] }), 'name');
    badSearch(() => search('Patient', { name: ['a', ['b']] }), 'name');
    badSearch(() => search('Patient', { _count: 5 }), '_count');
    badSearch(() => search('Patient', { _id: null }), '_id');
  });

  it('values that look like operators stay values', () => {
    for (const v of ['$where', '$ne', '{"$gt":""}', '$regex']) {
      const c = search('Patient', queryOf(`gender=${encodeURIComponent(v)}&family=${encodeURIComponent(v)}`));
      expect(keysOf(c.filter).every((k) => OPERATORS.has(k) || FIELDS.test(k))).toBe(true);
      expect(ids('Patient', `gender=${encodeURIComponent(v)}`, [helene, paul])).toEqual([]);
      expect(ids('Patient', `family=${encodeURIComponent(v)}`, [helene, paul])).toEqual([]);
    }
    expect(search('Patient', queryOf('gender=$where')).filter).toEqual({ idx: { $elemMatch: { p: 'gender', c: '$where' } } });
  });

  it('regular expression metacharacters match literally', () => {
    expect(ids('Patient', 'name=.*', [helene, paul])).toEqual([]);
    expect(ids('Patient', 'name:contains=.', [helene, paul])).toEqual([]);
    expect(ids('Patient', 'name:contains=%5E%5Cw', [helene, paul])).toEqual([]);
    expect(search('Patient', queryOf('name=(a%2B)%2B$')).filter).toEqual({
      idx: { $elemMatch: { p: 'name', v: { $regex: '^\\(a\\+\\)\\+\\$' } } },
    });
  });

  it('a pathological pattern costs nothing once escaped', () => {
    const evil = '(a|aa)*(a+)+b';
    const [re] = regexesOf(search('Patient', queryOf(`name:contains=${encodeURIComponent(evil)}`)).filter);
    const started = performance.now();
    expect(new RegExp(re).test('a'.repeat(50_000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('ids, lengths and control characters are checked', () => {
    badSearch(() => search('Patient', queryOf('_id=a/b')), '_id');
    badSearch(() => search('Patient', queryOf('_id=$where')), '_id');
    badSearch(() => search('Patient', { name: 'x'.repeat(5000) }), 'name');
    badSearch(() => search('Patient', { name: 'a\u0000b' }), 'name');
    badSearch(() => search('Patient', { birthdate: 'ge2026-13-01' }), 'birthdate');
    badSearch(() => search('Observation', { date: 'yesterday' }), 'date');
    badSearch(() => search('Observation', { 'value-quantity': 'lots' }), 'value-quantity');
    badSearch(() => search('Observation', { code: 'a|b|c' }), 'code');
    badSearch(() => search('Observation', { subject: 'not a reference' }), 'subject');
    badSearch(() => search('Observation', { 'code-value-quantity': 'x' }), 'code-value-quantity');
    badSearch(() => search('Observation', { 'code:below': 'x' }), 'code:below');
    badSearch(() => search('Observation', { 'code:missing': 'maybe' }), 'code:missing');
    badSearch(() => search('Observation', { _sort: 'nope' }), '_sort');
    badSearch(() => search('Observation', { _count: '-1' }), '_count');
    badSearch(() => search('Observation', { _total: 'all' }), '_total');
  });

  it('any text in any parameter yields our keys only, and escaped regexes match the text itself', () => {
    const params = ['name', 'family', 'address', 'gender', 'identifier', 'general-practitioner', 'birthdate', 'name:contains', 'name:exact', 'identifier:text', '_id', '_tag'];
    fc.assert(
      fc.property(fc.constantFrom(...params), fc.string({ unit: 'binary', maxLength: 40 }), (param, value) => {
        let filter: Record<string, unknown>;
        try {
          filter = search('Patient', { [param]: value }, true).filter;
        } catch (err) {
          expect(err).toBeInstanceOf(FhirError);
          expect((err as FhirError).code).toBe('bad-search');
          return;
        }
        expect(keysOf(filter).filter((k) => !OPERATORS.has(k) && !FIELDS.test(k))).toEqual([]);
        for (const re of regexesOf(filter)) {
          const literal = re.replace(/^\^/, '');
          // The escaped pattern matches exactly the literal text it came from.
          const text = literal.replace(/\\(.)/g, '$1');
          expect(new RegExp(`^${literal}$`).test(text)).toBe(true);
          expect(literal).toBe(escapeRegex(text));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('normalisation is idempotent', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => normalizeString(normalizeString(s)) === normalizeString(s)));
  });
});
