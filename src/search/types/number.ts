import type { Clause, CompileContext, IndexEntry, SearchParamDef, TypedValue } from './common.js';
import { badValue } from './common.js';
import { splitPrefix, type Prefix } from './date.js';

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export interface NumberValue {
  prefix: Prefix;
  value: number;
  /** Half a unit of the last significant digit: "100" means [99.5, 100.5). */
  half: number;
}

export function parseNumber(s: string): { value: number; half: number } | undefined {
  const m = NUMBER.exec(s);
  if (!m) return undefined;
  const decimals = (m[2] ? m[2].length - 1 : 0) - (m[3] ? Number(m[3].slice(1)) : 0);
  const value = Number(s);
  if (!Number.isFinite(value)) return undefined;
  return { value, half: 0.5 * 10 ** -decimals };
}

export function extract(values: TypedValue[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const { value: v } of values) {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
    if (Number.isFinite(n)) out.push({ n });
  }
  return out;
}

export const MODIFIERS: string[] = [];

export function parse(def: SearchParamDef, _modifier: string | undefined, raw: string): NumberValue {
  const [prefix, rest] = splitPrefix(raw);
  const num = parseNumber(rest);
  if (!num) throw badValue(def.code, raw, 'expected [prefix]number');
  return { prefix: prefix ?? 'eq', ...num };
}

/** Rounds away binary noise from v ± half (e.g. 0.30000000000000004). */
const tidy = (x: number) => Number(x.toPrecision(15));

/** FHIR R4 number comparison (http://hl7.org/fhir/R4/search.html#number) on one field. */
export function numberClause(field: string, prefix: Prefix, value: number, half: number): Clause {
  const lo = tidy(value - half);
  const hi = tidy(value + half);
  switch (prefix) {
    case 'eq':
      return { [field]: { $gte: lo, $lt: hi } };
    case 'ne':
      return { $or: [{ [field]: { $lt: lo } }, { [field]: { $gte: hi } }] };
    case 'gt':
    case 'sa':
      return { [field]: { $gt: value } };
    case 'lt':
    case 'eb':
      return { [field]: { $lt: value } };
    case 'ge':
      return { [field]: { $gte: value } };
    case 'le':
      return { [field]: { $lte: value } };
    case 'ap': {
      const d = Math.abs(value) * 0.1;
      return { [field]: { $gte: tidy(Math.min(value - d, lo)), $lte: tidy(Math.max(value + d, hi)) } };
    }
  }
}

export function compile(_def: SearchParamDef, _modifier: string | undefined, v: NumberValue, ctx: CompileContext): Clause {
  return numberClause(ctx.field('n'), v.prefix, v.value, v.half);
}

export function sortValue(e: IndexEntry): string | number | undefined {
  return typeof e.n === 'number' ? e.n : undefined;
}
