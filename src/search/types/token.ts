import type { Expansion } from '../value-sets.js';
import type { Clause, CompileContext, IndexEntry, ParseContext, SearchParamDef, TermContext, TypedValue } from './common.js';
import { badValue, entry, escapeRegex, isObject, splitEscaped, str, unescapeValue } from './common.js';
import { normalizeString } from './string.js';

const norm = (v: unknown) => (typeof v === 'string' ? normalizeString(v) || undefined : undefined);

function coding(c: Record<string, any>): IndexEntry {
  return entry({ s: str(c.system), c: str(c.code), t: norm(c.display) });
}

export function extract(values: TypedValue[], ctx: TermContext = {}): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const { type, value: v } of values) {
    if (isObject(v)) {
      if (type === 'CodeableConcept' || Array.isArray(v.coding)) {
        for (const c of v.coding ?? []) if (isObject(c)) out.push(coding(c));
        if (str(v.text)) out.push(entry({ t: norm(v.text) }));
      } else if (type === 'Coding') {
        out.push(coding(v));
      } else if (type === 'Identifier') {
        const base = { s: str(v.system), c: str(v.value), t: norm(v.type?.text) };
        const types = (Array.isArray(v.type?.coding) ? v.type.coding : []).filter(isObject);
        // One entry per identifier type coding, so that :of-type matches type and value in one entry.
        if (types.length === 0) out.push(entry(base));
        for (const tc of types) out.push(entry({ ...base, ts: str(tc.system), tc: str(tc.code) }));
      } else if (type === 'ContactPoint') {
        out.push(entry({ c: str(v.value) }));
      }
    } else if (typeof v === 'boolean' || typeof v === 'number') {
      out.push({ c: String(v) });
    } else if (typeof v === 'string' && v) {
      out.push(type === 'code' && ctx.system ? { s: ctx.system, c: v } : { c: v });
    }
  }
  return out.filter((e) => Object.keys(e).length > 0);
}

export type TokenValue =
  | { kind: 'token'; system?: string; code?: string }
  | { kind: 'text'; text: string }
  | { kind: 'of-type'; system: string; code: string; value: string }
  | { kind: 'in'; url: string; expansion: Expansion };

export const MODIFIERS = ['not', 'text', 'of-type', 'in', 'not-in'];

export function parse(def: SearchParamDef, modifier: string | undefined, raw: string, ctx: ParseContext = {}): TokenValue {
  if (modifier === 'in' || modifier === 'not-in') {
    const url = unescapeValue(raw);
    const expansion = ctx.valueSets?.expand(url) ?? { error: 'no value sets are loaded' };
    if ('error' in expansion) throw badValue(def.code, raw, `cannot expand the value set: ${expansion.error}`);
    return { kind: 'in', url, expansion };
  }
  if (modifier === 'text') {
    const text = unescapeValue(raw);
    if (!normalizeString(text)) throw badValue(def.code, raw, ':text needs some text');
    return { kind: 'text', text };
  }
  const parts = splitEscaped(raw, '|').map(unescapeValue);
  if (modifier === 'of-type') {
    if (parts.length !== 3 || parts.some((p) => !p)) throw badValue(def.code, raw, ':of-type expects system|code|value');
    return { kind: 'of-type', system: parts[0], code: parts[1], value: parts[2] };
  }
  if (parts.length === 1) return { kind: 'token', code: parts[0] };
  if (parts.length === 2 && (parts[0] || parts[1])) {
    // "|code" means: code with no system; "system|" means: any code of that system.
    return { kind: 'token', system: parts[0], ...(parts[1] ? { code: parts[1] } : {}) };
  }
  throw badValue(def.code, raw, 'expected [system]|[code]');
}

export function compile(_def: SearchParamDef, _modifier: string | undefined, value: TokenValue, ctx: CompileContext): Clause {
  const f = ctx.field;
  switch (value.kind) {
    case 'text':
      return { [f('t')]: { $regex: `^${escapeRegex(normalizeString(value.text))}` } };
    case 'in': {
      // :not-in is :in negated at the resource level (compile.ts), as :not is.
      const any = value.expansion.map((e) => ({ [f('s')]: e.system, [f('c')]: e.codes.length === 1 ? e.codes[0] : { $in: e.codes } }));
      return any.length === 1 ? any[0] : any.length === 0 ? { [f('c')]: { $in: [] } } : { $or: any };
    }
    case 'of-type':
      return { [f('ts')]: value.system, [f('tc')]: value.code, [f('c')]: value.value };
    case 'token': {
      const clause: Clause = {};
      if (value.system === '') clause[f('s')] = { $exists: false };
      else if (value.system !== undefined) clause[f('s')] = value.system;
      if (value.code !== undefined) clause[f('c')] = value.code;
      return clause;
    }
  }
}

export function sortValue(e: IndexEntry): string | number | undefined {
  return typeof e.c === 'string' ? e.c : typeof e.t === 'string' ? e.t : undefined;
}
