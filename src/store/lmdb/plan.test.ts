import fc from 'fast-check';
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import { plan } from './plan.js';

const LOINC = 'http://loinc.org';
const em = (match: Record<string, unknown>) => ({ idx: { $elemMatch: match } });
const date = em({ p: 'date', st: { $gte: 5 } });

describe('lmdb query plan', () => {
  it('a patient-scoped search reads the code range, checks the reference, and leaves only the date to mingo', () => {
    const filter = { $and: [em({ p: 'patient', r: 'Patient/p5' }), { comp: 'Patient/p5' }, em({ p: 'type', s: LOINC, c: '11502-2' }), date] };
    expect(plan(filter)).toEqual({
      source: { kind: 'comp', comps: ['Patient/p5'], term: { p: 'type', field: 'sc', values: [`${LOINC}|11502-2`] } },
      checks: [{ p: 'patient', field: 'r', values: ['Patient/p5'] }],
      residual: date,
    });
    // Another patient, same kind of search: the same residual document, so the same compiled filter.
    const other = { $and: [em({ p: 'patient', r: 'Patient/p6' }), { comp: 'Patient/p6' }, em({ p: 'type', s: LOINC, c: '11502-2' }), date] };
    expect(plan(other).residual).toEqual(plan(filter).residual);
  });

  it('a condition beyond the term keeps its clause in the residual, even when it picks the candidates', () => {
    const noSystem = em({ p: 'type', c: 'x', s: { $exists: false } });
    const result = plan({ comp: 'Patient/p1', $and: [noSystem] });
    expect(result.source).toEqual({ kind: 'comp', comps: ['Patient/p1'], term: { p: 'type', field: 'c', values: ['x'] } });
    expect(result.checks).toEqual([]);
    expect(result.residual).toEqual(noSystem);
  });

  it('a walk over a type by id (id > last) scans from that id on, and still tests the clause', () => {
    expect(plan({ id: { $gt: 'p42' } })).toEqual({ source: { kind: 'scan' }, checks: [], residual: { id: { $gt: 'p42' } }, after: { id: 'p42' } });
    expect(plan({ id: { $gte: 'p42' } }).after).toBeUndefined();
  });

  it('ids come first and every exact term becomes a check', () => {
    const result = plan({ id: { $in: ['a', 'b', 'a'] }, ...em({ p: 'status', c: 'current' }) });
    expect(result.source).toEqual({ kind: 'ids', ids: ['a', 'b'] });
    expect(result.checks).toEqual([{ p: 'status', field: 'c', values: ['current'] }]);
    expect(result.residual).toEqual({});
  });

  it('without ids or a compartment, the first term is read across the type', () => {
    const result = plan({ $and: [em({ p: 'identifier', s: 'urn:s', c: { $in: ['1', '2'] } }), em({ p: 'status', c: 'current' })] });
    expect(result.source).toEqual({ kind: 'term', term: { p: 'identifier', field: 'sc', values: ['urn:s|1', 'urn:s|2'] } });
    expect(result.checks).toEqual([{ p: 'status', field: 'c', values: ['current'] }]);
  });

  it('an alternative of terms (a chain that also reaches contained resources) reads the union of their ranges', () => {
    const chain = {
      $or: [em({ p: 'patient', r: { $in: ['Patient/a', 'Patient/b'] } }), { $or: [em({ p: 'patient:Patient.identifier', s: 'urn:ins', c: '1' }), em({ p: 'patient:Patient.identifier', s: 'urn:ins', c: '2' })] }],
    };
    const result = plan({ $and: [chain, em({ p: 'status', c: 'current', s: 'urn:x' })] });
    // A term elsewhere in the conjunction is a narrower source: it wins.
    expect(result.source.kind).toBe('term');
    const alone = plan(chain);
    expect(alone.source).toEqual({
      kind: 'union',
      terms: [
        { p: 'patient', field: 'r', values: ['Patient/a', 'Patient/b'] },
        { p: 'patient:Patient.identifier', field: 'sc', values: ['urn:ins|1'] },
        { p: 'patient:Patient.identifier', field: 'sc', values: ['urn:ins|2'] },
      ],
    });
    expect(alone.residual).toEqual(chain);
    // A name that starts with some text is a range of the index too; one that contains it is not, and makes a scan.
    expect(plan({ $or: [em({ p: 'author', r: 'Practitioner/x' }), em({ p: 'author:Practitioner.given', v: { $regex: '^cl' } })] }).source).toEqual({
      kind: 'union',
      terms: [{ p: 'author', field: 'r', values: ['Practitioner/x'] }, { p: 'author:Practitioner.given', field: 'v', values: ['cl'], prefix: true }],
    });
    expect(plan({ $or: [em({ p: 'author', r: 'Practitioner/x' }), em({ p: 'author:Practitioner.given', v: { $regex: 'cl' } })] }).source).toEqual({ kind: 'scan' });
  });

  it('negations, alternatives, patterns and empty values are never pins: they stay whole in the residual', () => {
    const filters = [
      { $or: [{ comp: 'Patient/p1' }, em({ p: 'code', c: 'a' })] },
      { $nor: [{ id: 'x' }] },
      { idx: { $not: { $elemMatch: { p: 'code', c: 'a' } } } },
      em({ p: 'name', v: { $regex: 'du' } }),
      em({ p: 'name', v: { $regex: '^d.' } }),
      em({ p: 'name', v: { $regex: '^d\\w' } }),
      em({ p: 'code', c: '' }),
      { comp: { $ne: 'Patient/p1' } },
    ];
    for (const filter of filters) expect(plan(filter)).toEqual({ source: { kind: 'scan' }, checks: [], residual: filter });
  });

  it('a string that starts with some text reads that range of the index; escaped metacharacters are text', () => {
    const starts = em({ p: 'name', v: { $regex: '^de la t' } });
    expect(plan(starts)).toEqual({ source: { kind: 'term', term: { p: 'name', field: 'v', values: ['de la t'], prefix: true } }, checks: [], residual: {} });
    expect(plan(em({ p: 'name', v: { $regex: '^o\\.k\\+' } })).source).toEqual({ kind: 'term', term: { p: 'name', field: 'v', values: ['o.k+'], prefix: true } });
    // Within a compartment a code comes first; the name prefix is then checked on the candidates.
    const both = plan({ comp: 'Patient/p1', $and: [starts, em({ p: 'code', c: 'x' })] });
    expect(both.source).toEqual({ kind: 'comp', comps: ['Patient/p1'], term: { p: 'code', field: 'c', values: ['x'] } });
    expect(both.checks).toEqual([{ p: 'name', field: 'v', values: ['de la t'], prefix: true }]);
  });

  it('a second clause on the same field stays under $and', () => {
    const result = plan({ $and: [{ comp: 'Patient/p1' }, { comp: 'Patient/p2' }, { lastUpdated: { $gt: 'a' } }, { lastUpdated: { $lt: 'b' } }] });
    expect(result.source).toEqual({ kind: 'comp', comps: ['Patient/p1'] });
    expect(result.residual).toEqual({ comp: 'Patient/p2', lastUpdated: { $gt: 'a' }, $and: [{ lastUpdated: { $lt: 'b' } }] });
  });

  it('reads what given users wrote (written-by) from the writers beside the compartments, checking the rest', () => {
    const filter = { $and: [{ by: { $in: ['Practitioner/a', 'Patient/b'] } }, em({ p: 'code', s: LOINC, c: '29463-7' })] };
    const p = plan(filter);
    expect(p.source).toEqual({ kind: 'reach', comps: [], writers: ['Practitioner/a', 'Patient/b'] });
    expect(p.residual).toEqual({ by: { $in: ['Practitioner/a', 'Patient/b'] } });
  });

  it("reads a professional's reach across patients: their patients' compartments through the term, and their writings", () => {
    const access = { $or: [{ by: 'Practitioner/z' }, { $and: [{ comp: { $in: ['Patient/1', 'Patient/2'] } }, { comp: { $nin: ['Patient/3'] } }] }] };
    const term = { idx: { $elemMatch: { p: 'type', s: 'http://loinc.org', c: '11502-2' } } };
    const p = plan({ $and: [term, access] });
    expect(p.source).toEqual({ kind: 'reach', comps: ['Patient/1', 'Patient/2'], writers: ['Practitioner/z'], term: { p: 'type', field: 'sc', values: ['http://loinc.org|11502-2'] } });
    // The term narrows the compartments only: every candidate (a writing anywhere) is still checked for it.
    expect(p.checks).toEqual([{ p: 'type', field: 'sc', values: ['http://loinc.org|11502-2'] }]);
    // A branch that pins neither (a Patient's own id) and the reach is not used.
    expect(plan({ $and: [term, { $or: [{ by: 'Practitioner/z' }, { id: 'x' }] }] }).source.kind).toBe('term');
  });

  it('a keyset position (an id, or a type then an id) is read as where the candidates start, and stays in the residual', () => {
    expect(plan({ comp: 'Patient/p1', id: { $gt: 'x' } }).after).toEqual({ id: 'x' });
    const position = { $or: [{ type: { $gt: 'Condition' } }, { type: 'Condition', id: { $gt: 'x' } }] };
    const result = plan({ $and: [{ comp: 'Patient/p1' }, position] });
    expect(result.after).toEqual({ type: 'Condition', id: 'x' });
    expect(result.residual).toEqual(position);
    expect(plan({ comp: 'Patient/p1', $or: [{ type: { $gt: 'Condition' } }, { id: { $gt: 'x' } }] }).after).toBeUndefined();
  });
  it('a professional\'s access clause naming the patient of the request leaves a residual that is the same for every patient', () => {
    const masked = em({ p: '_security', c: 'MASQUE_PS' });
    const search = (patient: string) => ({
      $and: [
        em({ p: 'patient', r: patient }), { comp: patient }, em({ p: 'type', s: LOINC, c: '11502-2' }), date,
        { $or: [{ by: 'Practitioner/z' }, { $and: [{ comp: patient }, { $nor: [masked] }] }] },
      ],
    });
    const { residual } = plan(search('Patient/p5'));
    expect(residual).toEqual({ ...date, $or: [{ by: 'Practitioner/z' }, { $and: [{ $nor: [masked] }] }] });
    expect(plan(search('Patient/p6')).residual).toEqual(residual);
    // Under a negation the compartment still counts; with two compartments read, none is implied.
    expect(plan({ comp: 'Patient/p5', $nor: [{ comp: 'Patient/p5', id: 'd1' }] }).residual).toEqual({ $nor: [{ comp: 'Patient/p5', id: 'd1' }] });
    expect(plan({ comp: { $in: ['Patient/p5', 'Patient/p6'] }, $or: [{ by: 'x' }, { comp: 'Patient/p5' }] }).residual).toEqual({ $or: [{ by: 'x' }, { comp: 'Patient/p5' }] });
  });

  it('the residual of a search that reads one compartment gives every record of that compartment the answer of the whole filter', () => {
    const comps = ['Patient/a', 'Patient/b'];
    const leaf = fc.oneof(
      fc.constantFrom(...comps).map((c) => ({ comp: c })),
      fc.constantFrom('1', '2').map((id) => ({ id })),
      fc.constantFrom('w1', 'w2').map((by) => ({ by })),
      fc.constantFrom(...comps).map((c) => ({ comp: c, id: '1' })),
    );
    const filter = fc.letrec<{ f: Record<string, unknown> }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((parts) => ({ $and: parts })),
        fc.array(tie('f'), { minLength: 1, maxLength: 3 }).map((parts) => ({ $or: parts })),
        fc.array(tie('f'), { minLength: 1, maxLength: 2 }).map((parts) => ({ $nor: parts })),
      ),
    })).f;
    const record = fc.record({
      comp: fc.subarray(['Patient/b', 'Patient/c']).map((others) => ['Patient/a', ...others]),
      id: fc.constantFrom('1', '2', '3'),
      by: fc.subarray(['w1', 'w2']),
    });
    fc.assert(
      fc.property(filter, fc.array(record, { minLength: 1, maxLength: 5 }), (f, records) => {
        const whole = { $and: [{ comp: 'Patient/a' }, f] };
        const p = plan(whole);
        // A filter that also pins ids at its top level is read by id, and keeps its compartments.
        fc.pre(p.source.kind === 'comp');
        expect(p.source).toEqual({ kind: 'comp', comps: ['Patient/a'] });
        for (const r of records) expect(new Query(p.residual).test(r)).toBe(new Query(whole).test(r));
      }),
      { numRuns: 3000 },
    );
  });
});
