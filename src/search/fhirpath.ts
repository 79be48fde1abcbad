import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { compileMemberPath, type MemberPath } from './member-path.js';

/** A value found by a FHIRPath expression, with its FHIR type name (e.g. 'Period', 'dateTime', 'boolean'). */
export interface TypedValue {
  type: string;
  value: unknown;
  /** Opaque fhirpath node, to evaluate composite components relative to it. */
  node?: unknown;
}

/**
 * One term of a search parameter expression (the expression is a union `a | b | c`).
 * `X.where(resolve() is T)` is rewritten to `X` with `refType: T`: resolve() would fetch the target,
 * while the reference string already says its type.
 */
export interface Term {
  expression: string;
  refType?: string;
}

type Evaluator = (resource: unknown) => unknown[];

/** Splits at top-level `|` (outside parentheses, brackets and string literals). */
export function splitUnion(expression: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '`') quote = ch;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === '|' && depth === 0) {
      out.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(expression.slice(start).trim());
  return out.filter((t) => t.length > 0);
}

function stripParens(term: string): string {
  let t = term.trim();
  while (t.startsWith('(') && t.endsWith(')') && balancedInside(t)) t = t.slice(1, -1).trim();
  return t;
}

function balancedInside(t: string): boolean {
  let depth = 0;
  for (let i = 0; i < t.length - 1; i++) {
    if (t[i] === '(') depth++;
    else if (t[i] === ')') depth--;
    if (depth === 0) return false;
  }
  return true;
}

const RESOLVE_IS = /^(.*)\.where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)$/;

/** The subject of a term: the resource type it starts with, e.g. 'Observation' in `(Observation.value as Quantity)`. */
export function termRoot(term: string): string {
  const m = /^[A-Za-z]+/.exec(stripParens(term));
  return m ? m[0] : '';
}

/**
 * The terms of `expression` that apply to `type`, with resolve() rewritten.
 * Throws with a reason when a term uses resolve() in another form.
 */
export function termsFor(type: string, expression: string): Term[] {
  const terms: Term[] = [];
  for (const raw of splitUnion(expression)) {
    const root = termRoot(raw);
    if (root !== type && root !== 'Resource' && root !== 'DomainResource') continue;
    const t = stripParens(raw);
    const m = RESOLVE_IS.exec(t);
    if (m) {
      if (m[1].includes('resolve(')) throw new Error(`nested resolve() in ${raw}`);
      terms.push({ expression: m[1], refType: m[2] });
    } else if (t.includes('resolve(')) {
      throw new Error(`resolve() outside where(resolve() is Type) in ${raw}`);
    } else {
      terms.push({ expression: root === type ? raw : raw.replace(/^(\(?)\s*(Resource|DomainResource)\./, `$1${type}.`) });
    }
  }
  return terms;
}

/**
 * Compiles FHIRPath expressions once (per expression text and base) with the R4 model.
 * Owned by a registry, not module state.
 */
export class ExpressionCache {
  private readonly compiled = new Map<string, Evaluator>();
  private readonly memberPaths = new Map<string, MemberPath | null>();

  get(expression: string, base?: string): Evaluator {
    const key = `${base ?? ''}\u0000${expression}`;
    let fn = this.compiled.get(key);
    if (!fn) {
      // The Path form gives fhirpath the type of a relative expression's context (composite components).
      const path = base ? { base, expression } : expression;
      fn = fhirpath.compile(path, r4, { resolveInternalTypes: false }) as unknown as Evaluator;
      this.compiled.set(key, fn);
    }
    return fn;
  }

  evaluate(target: unknown, expression: string, base?: string): TypedValue[] {
    const raw = this.get(expression, base)(target);
    const types = fhirpath.types(raw);
    return raw.map((node, i) => ({
      type: (types[i] ?? '').replace(/^(FHIR|System)\./, ''),
      value: fhirpath.resolveInternalTypes(node),
      node,
    }));
  }

  /**
   * The values of a term of `target` without fhirpath nodes (`node` is absent), for indexing: member
   * paths are walked on the JSON (member-path.ts), a term whose elements are absent is answered in
   * advance, anything else goes to fhirpath.js. Indexing a Patient went from about 160 to 35 us.
   */
  values(target: unknown, expression: string): TypedValue[] {
    let fast = this.memberPaths.get(expression);
    if (fast === undefined) {
      fast = compileMemberPath(expression) ?? this.whenAbsent(expression) ?? null;
      this.memberPaths.set(expression, fast);
    }
    return fast?.(target) ?? this.evaluate(target, expression);
  }

  /**
   * For a term that reads the resource only through a few element names (absentNames), the values
   * on a resource that has none of them: computed once, on a resource holding only its type.
   */
  private whenAbsent(expression: string): MemberPath | undefined {
    const found = absentNames(expression);
    if (!found) return undefined;
    let onEmpty: TypedValue[];
    try {
      onEmpty = this.evaluate({ resourceType: found.root }, expression).map(({ type, value }) => ({ type, value }));
    } catch {
      return undefined;
    }
    if (onEmpty.some((v) => typeof v.value === 'object' && v.value !== null)) return undefined;
    const { root, names } = found;
    return (target) => {
      if (typeof target !== 'object' || target === null || (target as { resourceType?: unknown }).resourceType !== root) return undefined;
      return hasAny(target, names) ? undefined : onEmpty.map((v) => ({ ...v }));
    };
  }
}

/** Functions whose result depends only on their input and arguments (no resource access of their own, no clock). */
const PURE_FUNCTIONS = new Set(['exists', 'empty', 'not', 'where', 'as', 'ofType', 'is', 'first', 'last', 'count', 'hasValue', 'all']);

/**
 * The root type and the element names a term can read, when those are the only way it reads the
 * resource: every identifier is a name, the root type, or a pure function; no variables ($this,
 * %resource), no delimited names. A resource with none of the names then gives the same result as
 * `{ resourceType }`. Every lowercase identifier counts as a name, wherever it is (a superset is safe).
 */
export function absentNames(expression: string): { root: string; names: string[] } | undefined {
  const code = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  if (/[%$`]/.test(code)) return undefined;
  const root = termRoot(code);
  if (!root) return undefined;
  const names = new Set<string>();
  for (const m of code.matchAll(/([A-Za-z_]\w*)(\s*\()?/g)) {
    const name = m[1]!;
    if (m[2]) {
      if (!PURE_FUNCTIONS.has(name)) return undefined;
    } else if (/^[A-Z]/.test(name)) {
      if (name !== root) return undefined;
    } else if (!KEYWORDS.has(name)) names.add(name);
  }
  return names.size ? { root, names: [...names] } : undefined;
}

const KEYWORDS = new Set(['and', 'or', 'xor', 'implies', 'in', 'contains', 'div', 'mod', 'is', 'as', 'true', 'false']);

/** Whether `node` has any of `names`, as `name`, `_name` or a choice `nameXxx`. */
function hasAny(node: object, names: readonly string[]): boolean {
  for (const raw of Object.keys(node)) {
    const key = raw.startsWith('_') ? raw.slice(1) : raw;
    for (const name of names) {
      if (key === name || (key.startsWith(name) && /[A-Z]/.test(key[name.length] ?? ''))) return true;
    }
  }
  return false;
}

/** UCUM utilities shipped with fhirpath (ucum-lhc 5.x). */
export const ucum: {
  convertToBaseUnits(unit: string, value: number): {
    status: string;
    magnitude?: number;
    unitToExp?: Record<string, number>;
    fromUnitIsSpecial?: boolean;
  };
} = fhirpath.ucumUtils;
