import fc from 'fast-check';
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import { compileQs } from '../../search/test-helpers.js';
import { compileNative } from './native-filter.js';
import { plan } from './plan.js';

const FIELDS = ['p', 'c', 'st', 'et', 'constructor'];
const scalar = fc.oneof(fc.constantFrom('a', 'b', 'B', '', 'é'), fc.integer({ min: -3, max: 3 }), fc.constantFrom(1.5, -0, true, false));
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.array(fc.array(scalar, { maxLength: 2 }), { maxLength: 2 }), fc.constant(null));
const element = fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 3 });
const record = fc.record({
  // Index entries are documents, always: on a scalar element mingo reads fields of the scalar
  // ({$elemMatch: {$or: [{p: true}]}} matches [true]), MongoDB and these filters do not.
  idx: fc.array(element, { maxLength: 4 }),
  comp: fc.oneof(fc.constantFrom('Patient/1', 'Patient/2'), fc.array(fc.constantFrom('Patient/1', 'Patient/2'), { maxLength: 2 })),
  n: value,
});

const cmp = fc.constantFrom('$gt', '$gte', '$lt', '$lte', '$eq', '$ne');
const operand = fc.oneof(scalar, fc.constant(null), fc.constant(/a/), fc.array(scalar, { maxLength: 2 }));
const cond: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: scalar, weight: 3 },
  { arbitrary: fc.tuple(cmp, scalar).map(([op, v]) => ({ [op]: v })), weight: 4 },
  { arbitrary: fc.tuple(cmp, scalar, cmp, scalar).map(([a, x, b, y]) => ({ [a]: x, [b]: y })), weight: 2 },
  { arbitrary: fc.array(scalar, { maxLength: 3 }).map((vs) => ({ $in: vs })), weight: 2 },
  { arbitrary: fc.array(scalar, { maxLength: 3 }).map((vs) => ({ $nin: vs })), weight: 1 },
  // Outside the subset, or at its edge: null, patterns and arrays as operands, other operators.
  { arbitrary: fc.tuple(cmp, operand).map(([op, v]) => ({ [op]: v })), weight: 1 },
  { arbitrary: fc.array(fc.oneof(scalar, fc.constant(null)), { maxLength: 3 }).map((vs) => ({ $in: vs })), weight: 1 },
  { arbitrary: fc.constantFrom({ $exists: true }, { $size: 1 }, { $regex: 'a' }), weight: 1 },
);
const { doc } = fc.letrec<{ doc: Record<string, unknown>; inner: Record<string, unknown> }>((tie) => ({
  inner: fc.oneof(
    { depthSize: 'small' },
    fc.dictionary(fc.constantFrom(...FIELDS), cond, { minKeys: 1, maxKeys: 3 }),
    fc.array(tie('inner'), { minLength: 1, maxLength: 2 }).map((xs) => ({ $or: xs })),
    fc.array(tie('inner'), { minLength: 1, maxLength: 2 }).map((xs) => ({ $and: xs })),
  ),
  doc: fc.oneof(
    { depthSize: 'small' },
    fc.record({ idx: tie('inner').map((m) => ({ $elemMatch: m })) }),
    fc.record({ comp: cond }),
    fc.record({ n: cond, comp: cond }),
    fc.array(tie('doc'), { minLength: 1, maxLength: 3 }).map((xs) => ({ $or: xs })),
    fc.array(tie('doc'), { minLength: 1, maxLength: 3 }).map((xs) => ({ $and: xs })),
    fc.array(tie('doc'), { minLength: 1, maxLength: 2 }).map((xs) => ({ $nor: xs })),
  ),
}));

describe('native filters', () => {
  it('answer as mingo does wherever they compile (differential, random documents and filters)', () => {
    let compiled = 0;
    fc.assert(
      fc.property(doc, fc.array(record, { minLength: 1, maxLength: 6 }), (filter, records) => {
        const native = compileNative<object>(filter);
        if (!native) return;
        compiled++;
        const query = new Query(filter as never, {});
        for (const r of records) expect(native(r), JSON.stringify({ filter, r })).toBe(query.test(r));
      }),
      { numRuns: 4000 },
    );
    // The generator mostly makes filters of the subset: the comparison above is not vacuous.
    expect(compiled).toBeGreaterThan(1000);
  });

  it('cover what the indexes leave of common searches (dates, tokens, strings, alternatives)', () => {
    for (const qs of [
      'patient=p1&type=http://loinc.org|11502-2&date=ge2024-06-01',
      'date=2024-06&status=current',
      'subject=Patient/1&category=http://loinc.org|',
      'code=a,b&_lastUpdated=lt2026-01-01',
      'family=dup&birthdate=le1980',
    ]) {
      const type = qs.includes('family') ? 'Patient' : qs.includes('code=') ? 'Observation' : 'DocumentReference';
      const { residual } = plan(compileQs(type, qs).filter as Record<string, unknown>);
      expect(compileNative(residual), `${type}?${qs}: ${JSON.stringify(residual)}`).toBeDefined();
    }
  });

  it('leave to mingo what they do not know', () => {
    for (const filter of [{ a: { $exists: true } }, { a: /x/ }, { 'a.b': 1 }, { $nor: [{ a: /x/ }] }, { a: { $elemMatch: { $gt: 1 } } }, { a: { $eq: null } }, { a: { $in: [/x/] } }]) {
      expect(compileNative(filter), JSON.stringify(filter)).toBeUndefined();
    }
  });
});
