import type { ExpressionCache } from '../fhirpath.js';
import { baseOf } from '../registry.js';
import type { Clause, CompileContext, ExtractContext, IndexEntry, ParseContext, SearchParamDef, TypedValue } from './common.js';
import { badValue, splitEscaped } from './common.js';
import { SIMPLE_TYPES } from './index.js';

/** Component fields are prefixed by the component's position: `0c`, `1n`... */
const prefixed = (i: number, e: IndexEntry): IndexEntry =>
  Object.fromEntries(Object.entries(e).map(([k, v]) => [`${i}${k}`, v]));

/**
 * One entry per combination of component values within each composite value (e.g. each
 * Observation.component), so a code and a value match together, never across components.
 */
export function extractComposite(
  def: SearchParamDef,
  roots: Array<{ base: string; values: TypedValue[] }>,
  expressions: ExpressionCache,
  ctx: ExtractContext,
): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const { base, values } of roots) {
    for (const tv of values) {
      let combos: IndexEntry[] = [{}];
      for (const [i, comp] of (def.components ?? []).entries()) {
        const found = expressions.evaluate(tv.node, comp.expression, base);
        // A text-only token entry cannot be searched in a composite (components take no modifiers).
        const entries = SIMPLE_TYPES[comp.def.type]
          .extract(found, ctx)
          .filter((e) => !(Object.keys(e).length === 1 && 't' in e))
          .map((e) => prefixed(i, e));
        combos = combos.flatMap((c) => entries.map((e) => ({ ...c, ...e })));
        if (combos.length === 0) break;
      }
      out.push(...combos);
    }
  }
  return out;
}

export function compositeRoots(def: SearchParamDef): string[] {
  return def.terms.map((t) => baseOf(t.expression));
}

export const MODIFIERS: string[] = [];

export function parse(def: SearchParamDef, _modifier: string | undefined, raw: string, ctx: ParseContext): unknown[] {
  const comps = def.components ?? [];
  const parts = splitEscaped(raw, '$');
  if (parts.length !== comps.length) throw badValue(def.code, raw, `expected ${comps.length} values separated by $`);
  return comps.map((c, i) => {
    if (!parts[i]) throw badValue(def.code, raw, `component ${i + 1} is empty`);
    return SIMPLE_TYPES[c.def.type].parse({ ...c.def, code: def.code }, undefined, parts[i], ctx);
  });
}

export function compile(def: SearchParamDef, _modifier: string | undefined, values: unknown[], ctx: CompileContext): Clause {
  const clauses = (def.components ?? []).map((c, i) =>
    SIMPLE_TYPES[c.def.type].compile(c.def, undefined, values[i], { ...ctx, field: (n) => `${i}${n}` }),
  );
  const merged: Clause = {};
  for (const c of clauses) {
    for (const k of Object.keys(c)) if (k in merged) return { $and: clauses };
    Object.assign(merged, c);
  }
  return merged;
}

export function sortValue(): undefined {
  return undefined;
}
