import type { Clause, CompileContext, IndexEntry, SearchParamDef, TypedValue } from './common.js';
import { badValue, escapeRegex, unescapeValue } from './common.js';

export function extract(values: TypedValue[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const { value: v } of values) if (typeof v === 'string' && v) out.push({ u: v });
  return out;
}

export type UriValue = { uri: string };

export const MODIFIERS = ['below', 'above'];

export function parse(def: SearchParamDef, _modifier: string | undefined, raw: string): UriValue {
  const uri = unescapeValue(raw);
  if (/\s/.test(uri)) throw badValue(def.code, raw, 'a uri has no spaces');
  return { uri };
}

/** "http://a/b/c" -> ["http:", "http:/", "http://a", "http://a/b", "http://a/b/c"]: the values :above matches. */
function prefixes(uri: string): string[] {
  const parts = uri.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/')).filter((p) => p.length > 0);
}

export function compile(_def: SearchParamDef, modifier: string | undefined, { uri }: UriValue, ctx: CompileContext): Clause {
  const f = ctx.field('u');
  if (modifier === 'below') return { [f]: { $regex: `^${escapeRegex(uri)}` } };
  if (modifier === 'above') return { [f]: { $in: prefixes(uri) } };
  return { [f]: uri };
}

export function sortValue(e: IndexEntry): string | number | undefined {
  return typeof e.u === 'string' ? e.u : undefined;
}
