import { ucum } from '../fhirpath.js';
import type { Clause, CompileContext, IndexEntry, SearchParamDef, TypedValue } from './common.js';
import { badValue, entry, isObject, splitEscaped, str, unescapeValue } from './common.js';
import { splitPrefix, type Prefix } from './date.js';
import { numberClause, parseNumber } from './number.js';

export const UCUM = 'http://unitsofmeasure.org';

/** The value in UCUM base units and the base unit expression (e.g. 5 mg -> 0.005 "g"), if convertible. */
export function canonical(value: number, code: string): { cn: number; cc: string } | undefined {
  let res;
  try {
    res = ucum.convertToBaseUnits(code, value);
  } catch {
    return undefined;
  }
  if (res.status !== 'succeeded' || typeof res.magnitude !== 'number' || !res.unitToExp) return undefined;
  const cc = Object.keys(res.unitToExp)
    .sort()
    .map((u) => (res.unitToExp![u] === 1 ? u : `${u}${res.unitToExp![u]}`))
    .join('.');
  return { cn: Number(res.magnitude.toPrecision(15)), cc: cc || '1' };
}

export function extract(values: TypedValue[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const { value: v } of values) {
    if (!isObject(v) || typeof v.value !== 'number') continue;
    const code = str(v.code) ?? str(v.unit);
    const system = str(v.system);
    const canon = code && (system === UCUM || !system) ? canonical(v.value, code) : undefined;
    out.push(entry({ n: v.value, s: system, c: code, cn: canon?.cn, cc: canon?.cc }));
  }
  return out;
}

export interface QuantityValue {
  prefix: Prefix;
  value: number;
  half: number;
  system?: string;
  code?: string;
}

export const MODIFIERS: string[] = [];

export function parse(def: SearchParamDef, _modifier: string | undefined, raw: string): QuantityValue {
  const parts = splitEscaped(raw, '|').map(unescapeValue);
  if (parts.length !== 1 && parts.length !== 3) throw badValue(def.code, raw, 'expected [prefix]number[|system|code]');
  const [prefix, rest] = splitPrefix(parts[0]);
  const num = parseNumber(rest);
  if (!num) throw badValue(def.code, raw, 'expected [prefix]number[|system|code]');
  return { prefix: prefix ?? 'eq', ...num, ...(parts[1] ? { system: parts[1] } : {}), ...(parts[2] ? { code: parts[2] } : {}) };
}

export function compile(_def: SearchParamDef, _modifier: string | undefined, q: QuantityValue, ctx: CompileContext): Clause {
  const f = ctx.field;
  if (q.code && (q.system === UCUM || !q.system)) {
    const canon = canonical(q.value, q.code);
    const upper = canonical(q.value + q.half, q.code);
    if (canon && upper) {
      // Compared in base units, so 500 mg finds 0.5 g; the precision converts with the value.
      return { [f('cc')]: canon.cc, ...numberClause(f('cn'), q.prefix, canon.cn, Math.abs(upper.cn - canon.cn)) };
    }
  }
  return {
    ...(q.system ? { [f('s')]: q.system } : {}),
    ...(q.code ? { [f('c')]: q.code } : {}),
    ...numberClause(f('n'), q.prefix, q.value, q.half),
  };
}

export function sortValue(e: IndexEntry): string | number | undefined {
  return typeof e.n === 'number' ? e.n : undefined;
}
