import { describe, expect, it } from 'vitest';
import { andFilters, compileSearch, withClauses } from './compile.js';
import { parseSearch } from './parse.js';
import { BASE, compileQs, NOW, queryOf, registry } from './test-helpers.js';

const ms = (s: string) => Date.parse(s);
const f = (type: string, qs: string) => compileQs(type, qs).filter;
const em = (body: Record<string, unknown>) => ({ idx: { $elemMatch: body } });

describe('compileSearch: token', () => {
  it('compiles code, system|code, |code and system|', () => {
    expect(f('Observation', 'code=2339-0')).toEqual(em({ p: 'code', c: '2339-0' }));
    expect(f('Observation', 'code=http://loinc.org|2339-0')).toEqual(em({ p: 'code', s: 'http://loinc.org', c: '2339-0' }));
    expect(f('Observation', 'code=|2339-0')).toEqual(em({ p: 'code', s: { $exists: false }, c: '2339-0' }));
    expect(f('Observation', 'code=http://loinc.org|')).toEqual(em({ p: 'code', s: 'http://loinc.org' }));
  });
  it('ORs comma-separated values (codes alone as one $in), honouring \\, escapes', () => {
    expect(f('Observation', 'status=final,amended')).toEqual(em({ p: 'status', c: { $in: ['final', 'amended'] } }));
    expect(f('Observation', 'code=a\\,b')).toEqual(em({ p: 'code', c: 'a,b' }));
    expect(f('Observation', 'code=http://loinc.org|1,http://snomed.info/sct|2')).toEqual({
      $or: [em({ p: 'code', s: 'http://loinc.org', c: '1' }), em({ p: 'code', s: 'http://snomed.info/sct', c: '2' })],
    });
    expect(f('Observation', 'code=x\\|y')).toEqual(em({ p: 'code', c: 'x|y' }));
  });
  it('ANDs repeated parameters', () => {
    expect(f('Observation', 'code=a&code=b')).toEqual({ $and: [em({ p: 'code', c: 'a' }), em({ p: 'code', c: 'b' })] });
  });
  it('compiles :not, :text, :of-type and :missing', () => {
    expect(f('Observation', 'status:not=final')).toEqual({ $nor: [em({ p: 'status', c: 'final' })] });
    expect(f('Observation', 'code:text=Glycé')).toEqual(em({ p: 'code', t: { $regex: '^glyce' } }));
    expect(f('Patient', 'identifier:of-type=http://interopsante.org/CodeSystem/v2-0203|INS-NIR|123')).toEqual(
      em({ p: 'identifier', ts: 'http://interopsante.org/CodeSystem/v2-0203', tc: 'INS-NIR', c: '123' }),
    );
    expect(f('Observation', 'code:missing=true')).toEqual({ $nor: [em({ p: 'code' })] });
    expect(f('Observation', 'code:missing=false')).toEqual(em({ p: 'code' }));
  });
  it('_id and _lastUpdated are never missing', () => {
    expect(f('Patient', '_id:missing=true')).toEqual({ id: { $exists: false } });
    expect(f('Patient', '_lastUpdated:missing=false')).toEqual({ lastUpdated: { $exists: true } });
    expect(() => f('Patient', '_id:text=x')).toThrow(/not supported on _id/);
  });
  it('searches _id, _tag, _security, _profile', () => {
    expect(f('Patient', '_id=a')).toEqual({ id: 'a' });
    expect(f('Patient', '_id=a,b')).toEqual({ id: { $in: ['a', 'b'] } });
    expect(f('Patient', '_tag=http://t|x')).toEqual(em({ p: '_tag', s: 'http://t', c: 'x' }));
    expect(f('Patient', '_security=N')).toEqual(em({ p: '_security', c: 'N' }));
    expect(f('Patient', '_profile=http://p')).toEqual(em({ p: '_profile', u: 'http://p' }));
  });
});

describe('compileSearch: string', () => {
  it('starts-with on the normalised value, :exact on the text, :contains anywhere', () => {
    expect(f('Patient', 'name=Hél')).toEqual(em({ p: 'name', v: { $regex: '^hel' } }));
    expect(f('Patient', 'name:exact=Hélène')).toEqual(em({ p: 'name', x: 'Hélène' }));
    expect(f('Patient', 'name:contains=lèn')).toEqual(em({ p: 'name', v: { $regex: 'len' } }));
    expect(f('Patient', 'family=a.b*c')).toEqual(em({ p: 'family', v: { $regex: '^a\\.b\\*c' } }));
  });
});

describe('compileSearch: reference', () => {
  it('compiles Type/id, id alone, absolute URLs and :Type', () => {
    // A Patient reference by a compartment parameter also pins the compartment (an index for the engines).
    const inP1 = (p: string) => ({ $and: [em({ p, r: 'Patient/p1' }), { comp: 'Patient/p1' }] });
    expect(f('Observation', 'subject=Patient/p1')).toEqual(inP1('subject'));
    expect(f('Observation', 'patient=p1')).toEqual(inP1('patient'));
    expect(f('Observation', 'subject=p1')).toEqual(em({ p: 'subject', r: { $in: ['Group/p1', 'Device/p1', 'Patient/p1', 'Location/p1'] } }));
    expect(f('Observation', `subject=${BASE}/Patient/p1`)).toEqual(inP1('subject'));
    expect(f('Observation', 'subject=http://other.example/fhir/Patient/p1/_history/2')).toEqual(em({ p: 'subject', r: 'http://other.example/fhir/Patient/p1' }));
    expect(f('Observation', 'subject:Patient=p1')).toEqual(inP1('subject'));
    expect(f('Observation', 'subject:identifier=urn:oid:1.2|123')).toEqual(em({ p: 'subject', s: 'urn:oid:1.2', c: '123' }));
    expect(f('Observation', 'subject=Patient/p1/_history/3')).toEqual(inP1('subject'));
    expect(f('Observation', 'subject=Group/g1')).toEqual(em({ p: 'subject', r: 'Group/g1' }));
    expect(f('Observation', 'patient=p1,p2')).toEqual({ $and: [em({ p: 'patient', r: { $in: ['Patient/p1', 'Patient/p2'] } }), { comp: { $in: ['Patient/p1', 'Patient/p2'] } }] });
    expect(f('Observation', 'encounter=Encounter/e1')).toEqual(em({ p: 'encounter', r: 'Encounter/e1' }));
    expect(f('Appointment', 'patient=p1')).toEqual(inP1('patient'));
    expect(f('DocumentReference', 'patient=p1&status=current')).toEqual({
      $and: [em({ p: 'patient', r: 'Patient/p1' }), { comp: 'Patient/p1' }, em({ p: 'status', c: 'current' })],
    });
  });
});

describe('compileSearch: date', () => {
  const lo = ms('2026-03-01T00:00:00Z');
  const hi = ms('2026-04-01T00:00:00Z') - 1;
  it.each([
    ['2026-03', { st: { $gte: lo }, et: { $lte: hi } }],
    ['eq2026-03', { st: { $gte: lo }, et: { $lte: hi } }],
    ['ne2026-03', { $or: [{ st: { $lt: lo } }, { et: { $gt: hi } }] }],
    ['gt2026-03', { et: { $gt: hi } }],
    ['lt2026-03', { st: { $lt: lo } }],
    ['ge2026-03', { $or: [{ et: { $gt: hi } }, { st: { $gte: lo }, et: { $lte: hi } }] }],
    ['le2026-03', { $or: [{ st: { $lt: lo } }, { st: { $gte: lo }, et: { $lte: hi } }] }],
    ['sa2026-03', { st: { $gt: hi } }],
    ['eb2026-03', { et: { $lt: lo } }],
  ])('date=%s', (value, body) => {
    expect(f('Observation', `date=${value}`)).toEqual(em({ p: 'date', ...body }));
  });
  it('ap widens by 10% of the distance to now', () => {
    const slack = (NOW - lo) * 0.1;
    expect(f('Observation', 'date=ap2026-03')).toEqual(em({ p: 'date', st: { $lte: hi + slack }, et: { $gte: lo - slack } }));
  });
  it('reads zones, including a + that arrived as a space', () => {
    const t = ms('2026-03-01T09:00:00Z');
    expect(f('Observation', 'date=2026-03-01T10:00:00%2B01:00')).toEqual(em({ p: 'date', st: { $gte: t }, et: { $lte: t + 999 } }));
    expect(f('Observation', 'date=2026-03-01T10:00:00+01:00')).toEqual(em({ p: 'date', st: { $gte: t }, et: { $lte: t + 999 } }));
  });
  it('compiles _lastUpdated on the record field, as ISO text', () => {
    expect(f('Patient', '_lastUpdated=gt2026-03-01')).toEqual({ lastUpdated: { $gt: '2026-03-01T23:59:59.999Z' } });
    expect(f('Patient', '_lastUpdated=2026-03')).toEqual({ lastUpdated: { $gte: '2026-03-01T00:00:00.000Z', $lte: '2026-03-31T23:59:59.999Z' } });
  });
});

describe('compileSearch: number, quantity, uri, composite', () => {
  it('quantity: UCUM values compare in base units', () => {
    expect(f('Observation', 'value-quantity=950|http://unitsofmeasure.org|mg/L')).toEqual(
      em({ p: 'value-quantity', cc: 'g.m-3', cn: { $gte: 949.5, $lt: 950.5 } }),
    );
    expect(f('Observation', 'value-quantity=gt5')).toEqual(em({ p: 'value-quantity', n: { $gt: 5 } }));
    expect(f('Observation', 'value-quantity=5.40|http://other|u')).toEqual(em({ p: 'value-quantity', s: 'http://other', c: 'u', n: { $gte: 5.395, $lt: 5.405 } }));
  });
  it('uri: exact, :below, :above', () => {
    expect(f('DocumentReference', 'location=http://a/b')).toEqual(em({ p: 'location', u: 'http://a/b' }));
    expect(f('DocumentReference', 'location:below=http://a/b')).toEqual(em({ p: 'location', u: { $regex: '^http:\\/\\/a\\/b' } }));
    expect(f('DocumentReference', 'location:above=http://a/b')).toEqual(em({ p: 'location', u: { $in: ['http:', 'http:/', 'http://a', 'http://a/b'] } }));
  });
  it('composite: components by position', () => {
    expect(f('Observation', 'code-value-quantity=http://loinc.org|8480-6$gt100')).toEqual(
      em({ p: 'code-value-quantity', '0s': 'http://loinc.org', '0c': '8480-6', '1n': { $gt: 100 } }),
    );
  });
});

describe('compileSearch: result parameters', () => {
  it('has defaults, and a StoreQuery ready for the store', () => {
    const c = compileQs('Patient', 'name=x');
    expect(c).toMatchObject({ types: ['Patient'], count: 20, total: 'accurate', include: [], revinclude: [], warnings: [], subqueries: [] });
    expect(c.query).toEqual({ types: ['Patient'], filter: c.filter, sort: [], offset: 0, limit: 20, count: true });
    expect(compileQs('Patient', '').filter).toEqual({});
  });
  it('_sort: several keys, descending on the max value, record fields for _id and _lastUpdated', () => {
    expect(compileQs('Observation', '_sort=-date,code,_lastUpdated,-_id').sort).toEqual([
      ['srt.-date', -1],
      ['srt.code', 1],
      ['lastUpdated', 1],
      ['id', -1],
    ]);
  });
  it('_count (capped with a warning), _offset, _total, _summary, _elements', () => {
    const c = compileQs('Patient', '_count=5000&_offset=40&_total=none&_elements=name,birthDate', { maxCount: 100 });
    expect(c).toMatchObject({ count: 100, offset: 40, total: 'none', elements: ['name', 'birthDate'] });
    expect(c.warnings[0]).toMatchObject({ severity: 'warning', expression: ['_count'] });
    expect(c.query).toMatchObject({ offset: 40, limit: 100, count: false });
    expect(compileQs('Patient', '_summary=count')).toMatchObject({ count: 0, total: 'accurate', summary: 'count' });
  });
  it('_include and _revinclude', () => {
    const c = compileQs('Observation', '_include=Observation:subject:Patient&_include:iterate=Patient:general-practitioner&_revinclude=DocumentReference:subject');
    expect(c.include).toEqual([
      { type: 'Observation', code: 'subject', target: 'Patient', iterate: false },
      { type: 'Patient', code: 'general-practitioner', iterate: true },
    ]);
    expect(c.revinclude).toEqual([{ type: 'DocumentReference', code: 'subject', iterate: false }]);
  });
});

describe('access clauses', () => {
  it('are ANDed structurally, in the filter and the StoreQuery', () => {
    const access = { comp: 'Patient/helene' };
    const c = compileQs('Observation', 'code=x', { and: [access] });
    expect(c.filter).toEqual({ $and: [em({ p: 'code', c: 'x' }), access] });
    expect(c.query.filter).toBe(c.filter);
    expect(compileQs('Observation', '', { and: [access] }).filter).toEqual(access);
    const w = withClauses(compileQs('Observation', 'code=x&status=final'), [access]);
    expect(w.filter).toEqual({ $and: [em({ p: 'code', c: 'x' }), em({ p: 'status', c: 'final' }), access] });
    expect(w.query.filter).toEqual(w.filter);
  });
  it('andFilters keeps {} as identity', () => {
    expect(andFilters({}, {})).toEqual({});
    expect(andFilters({ a: 1 })).toEqual({ a: 1 });
    expect(andFilters({ $and: [{ a: 1 }, { b: 2 }] }, { c: 3 })).toEqual({ $and: [{ a: 1 }, { b: 2 }, { c: 3 }] });
  });
});

describe('chaining and _has compile to sub-queries', () => {
  it('subject:Patient.name=x', () => {
    const c = compileQs('Observation', 'subject:Patient.name=hel');
    // The stored targets the sub-query finds, or a contained Patient (indexed as subject:Patient.name).
    expect(c.filter).toEqual({ $or: [{ $sub: 0 }, em({ p: 'subject:Patient.name', v: { $regex: '^hel' } })] });
    expect(c.subqueries).toEqual([{ kind: 'chain', types: ['Patient'], filter: em({ p: 'name', v: { $regex: '^hel' } }), code: 'subject' }]);
    // A negation, or a test of the reference itself, stays with stored targets.
    expect(compileQs('Observation', 'subject:Patient.name:missing=true').filter).toEqual({ $sub: 0 });
    expect(compileQs('Observation', 'subject:Patient.gender:not=male').filter).toEqual({ $sub: 0 });
  });
  it('_has:Observation:patient:code=x', () => {
    const c = compileQs('Patient', '_has:Observation:patient:code=2339-0');
    expect(c.subqueries).toEqual([{ kind: 'has', types: ['Observation'], filter: em({ p: 'code', c: '2339-0' }), code: 'patient', type: 'Patient' }]);
  });
});

describe('parseSearch: unknown parameters', () => {
  it('warns when lenient, fails when strict', () => {
    const parsed = parseSearch('Patient', queryOf('foo=1&name=x'), registry(), { strict: false });
    expect(parsed.warnings).toEqual([expect.objectContaining({ severity: 'warning', expression: ['foo'] })]);
    expect(compileSearch(parsed).filter).toEqual(em({ p: 'name', v: { $regex: '^x' } }));
    expect(() => parseSearch('Patient', queryOf('foo=1'), registry(), { strict: true })).toThrow(/Unknown search parameter 'foo'/);
  });
  it('ignores empty values and _format', () => {
    expect(compileQs('Patient', 'name=&_format=json&_sort=&_count=').filter).toEqual({});
    expect(compileQs('Patient', '_count=')).toMatchObject({ count: 20, sort: [] });
  });
});
