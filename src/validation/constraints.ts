import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { shortcutFor, type Shortcut } from './shortcuts.js';

/** A FHIR invariant compiled once, evaluated on a JSON node of the element it constrains. */
export interface Constraint {
  key: string;
  human: string;
  evaluate: (node: unknown, env: ConstraintEnv) => unknown[];
  /** Names the expression starts from; when the node has none of them the result is known in advance. */
  roots?: string[];
  passesWhenAbsent?: boolean;
  /** Decides on the JSON that the usual shapes of the element hold (shortcuts.ts). */
  holds?: Shortcut;
}

export interface ConstraintEnv {
  resource: unknown;
  rootResource: unknown;
}

export interface ConstraintStats {
  /** Distinct (key, base) pairs compiled and evaluated. */
  compiled: number;
  /** Keys of the invariants evaluated (ext-1, obs-6, pat-1...). */
  keys: string[];
  /** Constraints left out, with why. */
  skipped: Array<{ key: string; base: string; reason: string }>;
  /** Evaluations that threw; counted, never reported to the client. */
  runtimeFailures: number;
}

/**
 * Functions carnet cannot evaluate synchronously and offline (resolve(), memberOf() need a server),
 * that fhirpath.js does not implement (htmlChecks, conformsTo), or descendants(): dom-3 (contained
 * resources are referenced) walks the whole resource, and fhirpath 5.2.0 throws on its
 * `descendants().as(canonical)` ("Expected singleton on left side of 'as'") as soon as a resource
 * has contained resources, which a trial on an empty resource does not show.
 */
const LEFT_OUT: Array<[RegExp, string]> = [
  [/\bhtmlChecks\s*\(/, 'htmlChecks() is not implemented by fhirpath.js'],
  [/\bconformsTo\s*\(/, 'conformsTo() needs profile resolution'],
  [/\bmemberOf\s*\(/, 'memberOf() needs a terminology server'],
  [/\bresolve\s*\(/, 'resolve() needs reference resolution'],
  [/\bdescendants\s*\(/, 'descendants(): walks the whole resource, and as() on it throws in fhirpath 5.2.0'],
];

const quiet = { traceFn: () => undefined };

export function createConstraintCompiler() {
  const cache = new Map<string, Constraint | null>();
  const stats: Omit<ConstraintStats, 'keys'> = { compiled: 0, skipped: [], runtimeFailures: 0 };
  const keys = new Set<string>();

  /**
   * The compiled constraint, or undefined when it is left out. `base` is the element path
   * (`Patient.contact`) or data type (`Period`) the expression is written against; `probe` a
   * minimal node for a trial evaluation, so an expression fhirpath.js cannot run is caught here.
   */
  function compile(key: string, human: string, expression: string, base: string | undefined, probe: unknown): Constraint | undefined {
    const cacheKey = `${base ?? ''}|${key}|${expression}`;
    const known = cache.get(cacheKey);
    if (known !== undefined) return known ?? undefined;
    const left = LEFT_OUT.find(([re]) => re.test(expression));
    let constraint: Constraint | null = null;
    if (left) {
      stats.skipped.push({ key, base: base ?? '', reason: left[1] });
    } else {
      try {
        const fn = base ? fhirpath.compile({ base, expression }, r4, quiet) : fhirpath.compile(expression, r4, quiet);
        const evaluate = (node: unknown, env: ConstraintEnv) => fn(node, env as unknown as Record<string, unknown>) as unknown[];
        const onProbe = evaluate(probe, { resource: probe, rootResource: probe });
        constraint = { key, human, evaluate };
        const holds = shortcutFor(expression, base);
        if (holds) constraint.holds = holds;
        const roots = rootNames(expression);
        if (roots) {
          constraint.roots = roots;
          constraint.passesWhenAbsent = !(onProbe.length === 1 && onProbe[0] === false);
        }
        stats.compiled++;
        keys.add(key);
      } catch (err) {
        stats.skipped.push({ key, base: base ?? '', reason: `fhirpath 5.2.0: ${(err as Error).message.split('\n')[0]}` });
      }
    }
    cache.set(cacheKey, constraint);
    return constraint ?? undefined;
  }

  /** false means violated; true or empty (undecidable, e.g. dates of different precision) passes. */
  function violated(constraint: Constraint, node: unknown, env: ConstraintEnv): boolean {
    if (constraint.roots && !hasAny(node, constraint.roots)) return !constraint.passesWhenAbsent;
    if (constraint.holds && typeof node === 'object' && node !== null && constraint.holds(node as Record<string, unknown>)) return false;
    try {
      const result = constraint.evaluate(node, env);
      return result.length === 1 && result[0] === false;
    } catch {
      stats.runtimeFailures++;
      return false;
    }
  }

  return { compile, violated, stats: (): ConstraintStats => ({ ...stats, keys: [...keys].sort() }) };
}

const KEYWORDS = new Set(['and', 'or', 'xor', 'implies', 'in', 'contains', 'div', 'mod', 'is', 'as', 'true', 'false']);

/**
 * The element names an expression navigates from, when they are all it depends on: no variables,
 * no function applied to the node itself, no type names. A node with none of these names then
 * gives the same result as an empty node, computed once: most invariants (dom-2, ext-1, obs-6...)
 * concern elements that are absent, and fhirpath.js costs about 10 us per evaluation.
 */
export function rootNames(expression: string): string[] | undefined {
  const code = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  if (/[%$`]/.test(code)) return undefined;
  const roots = new Set<string>();
  for (const m of code.matchAll(/(^|[^.\w@])([A-Za-z_]\w*)(\s*\()?/g)) {
    const name = m[2]!;
    if (m[3] || /^[A-Z]/.test(name)) return undefined;
    if (!KEYWORDS.has(name)) roots.add(name);
  }
  return roots.size ? [...roots] : undefined;
}

/** Whether `node` has any of `names`, as `name`, `_name` or a choice `nameXxx`. */
function hasAny(node: unknown, names: readonly string[]): boolean {
  if (typeof node !== 'object' || node === null) return true;
  for (const raw of Object.keys(node)) {
    const key = raw.startsWith('_') ? raw.slice(1) : raw;
    for (const name of names) {
      if (key === name || (key.startsWith(name) && /[A-Z]/.test(key[name.length] ?? ''))) return true;
    }
  }
  return false;
}

export type ConstraintCompiler = ReturnType<typeof createConstraintCompiler>;
