import { describe, expect, it } from 'vitest';
import { rec, T } from '../conformance/fixtures.js';
import { filterCache } from './filters.js';

const record = rec('Patient', 'p1', 1, T(1), { idx: [{ p: 'name', v: 'dupont' }, { p: 'birthdate', st: 10, et: 20 }] });

// $exists is outside the subset native-filter.ts compiles: these filters go through mingo and the cache.
const mingoOnly = (n: number) => ({ idx: { $elemMatch: { p: 'birthdate', st: { $gte: n }, et: { $exists: true } } } });

describe('lmdb compiled filter cache', () => {
  it('gives the compiled test back for the same document, and a new one for another', () => {
    const compile = filterCache();
    const a = compile(mingoOnly(5));
    expect(compile(mingoOnly(5))).toBe(a);
    const b = compile(mingoOnly(15));
    expect(b).not.toBe(a);
    expect([a(record), b(record)]).toEqual([true, false]);
  });

  it('never confuses two regular expressions, which print alike as JSON', () => {
    const compile = filterCache();
    const du = compile({ idx: { $elemMatch: { p: 'name', v: { $regex: /^du/ } } } });
    const ma = compile({ idx: { $elemMatch: { p: 'name', v: { $regex: /^ma/ } } } });
    expect([du(record), ma(record)]).toEqual([true, false]);
  });

  it('keeps at most its size, dropping the least recently used', () => {
    const compile = filterCache(2);
    const f = mingoOnly;
    const one = compile(f(1));
    const two = compile(f(2));
    expect(compile(f(1))).toBe(one); // used again: now the most recent
    const three = compile(f(3)); // drops f(2)
    expect(compile(f(1))).toBe(one);
    expect(compile(f(2))).not.toBe(two); // compiled again, which drops f(3)
    expect(compile(f(3))).not.toBe(three);
  });

  it('an empty filter matches everything without mingo; a very long one is compiled but not kept', () => {
    const compile = filterCache();
    expect(compile({})(record)).toBe(true);
    const long = { id: { $in: Array.from({ length: 1000 }, (_, n) => `patient-${n}`) }, deleted: { $exists: false } };
    expect(compile(long)).not.toBe(compile(long));
    expect(compile(long)(record)).toBe(false);
  });

  it('tests filters of the common subset natively, with the same answers', () => {
    const compile = filterCache();
    const range = compile({ idx: { $elemMatch: { p: 'birthdate', $or: [{ st: { $gte: 15 } }, { et: { $lt: 12 } }] } } });
    expect(range(record)).toBe(false);
    expect(compile({ idx: { $elemMatch: { p: 'birthdate', $or: [{ st: { $gte: 15 } }, { et: { $lt: 21 } }] } } })(record)).toBe(true);
    expect(compile({ idx: { $elemMatch: { p: { $in: ['name', 'x'] }, v: 'dupont' } } })(record)).toBe(true);
    expect(compile({ idx: { $elemMatch: { p: 'name', v: { $ne: 'dupont' } } } })(record)).toBe(false);
  });
});
