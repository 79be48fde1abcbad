import type { Clause, CompileContext, IndexEntry, SearchParamDef, TypedValue } from './common.js';
import { badValue, entry, escapeRegex, isObject, str } from './common.js';

const LIGATURES: Record<string, string> = { œ: 'oe', æ: 'ae', ß: 'ss', ø: 'o', ł: 'l', đ: 'd' };

/** Printable ASCII: nothing to decompose or spell out, and the only whitespace is the space. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Lower case, accents stripped (NFD), common ligatures spelt out, whitespace collapsed: "Hélène  Œuvre" -> "helene oeuvre". */
export function normalizeString(s: string): string {
  if (PRINTABLE_ASCII.test(s)) return s.toLowerCase().replace(/ {2,}/g, ' ').trim();
  return s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[œæßøłđ]/g, (ch) => LIGATURES[ch])
    .replace(/\s+/g, ' ')
    .trim();
}

const NAME_PARTS = ['text', 'family', 'given', 'prefix', 'suffix'];
const ADDRESS_PARTS = ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country'];

/** The texts a value is searched by: each part of a HumanName or Address, or the string itself. */
export function texts(tv: TypedValue): string[] {
  const v = tv.value;
  if (typeof v === 'string') return [v];
  if (!isObject(v)) return [];
  const parts = tv.type === 'HumanName' ? NAME_PARTS : tv.type === 'Address' ? ADDRESS_PARTS : [];
  return parts.flatMap((k) => (Array.isArray(v[k]) ? v[k] : [v[k]])).filter((x): x is string => !!str(x));
}

export function extract(values: TypedValue[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const tv of values) {
    for (const x of texts(tv)) {
      const v = normalizeString(x);
      if (v) out.push(entry({ v, x }));
    }
  }
  return out;
}

export type StringValue = { text: string };

export const MODIFIERS = ['exact', 'contains'];

export function parse(def: SearchParamDef, _modifier: string | undefined, raw: string): StringValue {
  if (!normalizeString(raw)) throw badValue(def.code, raw, 'a string parameter needs some text');
  return { text: raw };
}

export function compile(_def: SearchParamDef, modifier: string | undefined, value: StringValue, ctx: CompileContext): Clause {
  if (modifier === 'exact') return { [ctx.field('x')]: value.text };
  const pattern = escapeRegex(normalizeString(value.text));
  // Only escaped text enters a regular expression; starts-with is anchored (and so uses the index).
  return { [ctx.field('v')]: { $regex: modifier === 'contains' ? pattern : `^${pattern}` } };
}

export function sortValue(e: IndexEntry): string | number | undefined {
  return typeof e.v === 'string' ? e.v : undefined;
}
