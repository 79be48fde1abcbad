/**
 * The common part of the query language compiled to plain closures: what the indexes leave of a
 * search (a date range, a token on a field the plan did not read, alternatives of these) is tested
 * this way on each candidate, without mingo's per-query set-up. The semantics are mingo's (and
 * MongoDB's) for the subset: a condition on an array field holds if it holds for one element;
 * comparisons hold only between values of the same type. A document using anything else gives
 * `undefined`, and the caller uses mingo for it. A differential test holds the two to the same
 * answers (native-filter.test.ts).
 */
type Test = (value: unknown) => boolean;
type DocTest = (doc: Record<string, unknown> | undefined) => boolean;

type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || (typeof v === 'number' && !Number.isNaN(v)) || typeof v === 'boolean';
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** A stored (decoded) document: any non-array object. */
const isDocument = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Equality with a scalar: the value or one of its elements (not elements of nested arrays). */
function equals(b: Scalar): Test {
  return (a) => a === b || (Array.isArray(a) && a.includes(b));
}

/** An ordering comparison: true if the value, or one of its elements, is of b's type and compares. */
function ordering(b: string | number, holds: (x: string | number, y: string | number) => boolean): Test {
  const type = typeof b;
  return (a) => {
    if (Array.isArray(a)) {
      for (const v of a) if (typeof v === type && holds(v as string | number, b)) return true;
      return false;
    }
    return typeof a === type && holds(a as string | number, b);
  };
}

function oneOf(values: unknown[]): Test | undefined {
  if (!values.every(isScalar)) return undefined;
  const set = new Set<unknown>(values);
  return (a) => {
    if (a === undefined || a === null) return false;
    if (Array.isArray(a)) return a.some((v) => set.has(v));
    return set.has(a);
  };
}

function operator(op: string, b: unknown): Test | undefined {
  switch (op) {
    case '$eq':
      return isScalar(b) ? equals(b) : undefined;
    case '$ne': {
      if (!isScalar(b)) return undefined;
      const eq = equals(b);
      return (a) => !eq(a);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      if (typeof b !== 'string' && (typeof b !== 'number' || Number.isNaN(b))) return undefined;
      const holds =
        op === '$gt' ? (x: string | number, y: string | number) => x > y
        : op === '$gte' ? (x: string | number, y: string | number) => x >= y
        : op === '$lt' ? (x: string | number, y: string | number) => x < y
        : (x: string | number, y: string | number) => x <= y;
      return ordering(b, holds);
    }
    case '$in':
      return Array.isArray(b) ? oneOf(b) : undefined;
    case '$nin': {
      // Access clauses exclude patients and ids this way (a missing field is in none of them).
      const inList = Array.isArray(b) ? oneOf(b) : undefined;
      return inList && ((a) => !inList(a));
    }
    case '$elemMatch': {
      if (!isPlainObject(b) || Object.keys(b).length === 0) return undefined;
      // Only conditions on the elements' fields: {$elemMatch: {$gt: 1}} (scalar elements) is left to mingo.
      if (Object.keys(b).some((k) => k.startsWith('$') && k !== '$and' && k !== '$or')) return undefined;
      const inner = compileDocument(b);
      if (!inner) return undefined;
      return (a) => {
        if (!Array.isArray(a)) return false;
        for (const v of a) if (inner(isDocument(v) ? v : undefined)) return true;
        return false;
      };
    }
    default:
      return undefined;
  }
}

function condition(cond: unknown): Test | undefined {
  if (isScalar(cond)) return equals(cond);
  if (!isPlainObject(cond)) return undefined;
  const keys = Object.keys(cond);
  if (keys.length === 0 || !keys.every((k) => k.startsWith('$'))) return undefined;
  const tests: Test[] = [];
  for (const k of keys) {
    const t = operator(k, cond[k]);
    if (!t) return undefined;
    tests.push(t);
  }
  return tests.length === 1 ? tests[0] : (a) => tests.every((t) => t(a));
}

function compileDocument(doc: Record<string, unknown>): DocTest | undefined {
  const tests: DocTest[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(value) || value.length === 0 || !value.every(isPlainObject)) return undefined;
      const parts = value.map((v) => compileDocument(v as Record<string, unknown>));
      if (parts.some((p) => p === undefined)) return undefined;
      const all = parts as DocTest[];
      tests.push(key === '$and' ? (d) => all.every((p) => p(d)) : key === '$or' ? (d) => all.some((p) => p(d)) : (d) => !all.some((p) => p(d)));
      continue;
    }
    // Paths, other top-level operators and field names mingo reads specially are left to mingo.
    if (key.startsWith('$') || key.includes('.') || key === '') return undefined;
    const t = condition(value);
    if (!t) return undefined;
    // Own fields only: a field named like an Object.prototype member is absent, not a function.
    tests.push((d) => t(d !== undefined && Object.hasOwn(d, key) ? d[key] : undefined));
  }
  if (tests.length === 0) return () => true;
  return tests.length === 1 ? tests[0] : (d) => tests.every((t) => t(d));
}

/** A test of a record against the filter, or undefined when the filter uses more than this subset. */
export function compileNative<T extends object>(filter: Record<string, unknown>): ((record: T) => boolean) | undefined {
  const test = compileDocument(filter);
  return test ? (record) => test(record as unknown as Record<string, unknown>) : undefined;
}
