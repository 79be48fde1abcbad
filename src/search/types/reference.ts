import { ID_PATTERN } from '../../fhir/resource-types.js';
import type { Clause, CompileContext, IndexEntry, ParseContext, TermContext, SearchParamDef, TypedValue } from './common.js';
import { badValue, entry, escapeRegex, isObject, splitEscaped, str, unescapeValue } from './common.js';

const TYPE_PATTERN = /^[A-Z][A-Za-z]{1,63}$/;
const RELATIVE = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const ABSOLUTE_TAIL = /\/([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * The indexed form of a reference string: `Type/id` for a local reference (relative, or absolute on
 * this server's base URL), the absolute URL (without `_history`) otherwise; undefined for a
 * contained reference (`#id`).
 */
export function normalizeReference(ref: string, baseUrl?: string): { r: string; type?: string } | undefined {
  if (!ref || ref.startsWith('#')) return undefined;
  let s = ref;
  const base = baseUrl?.replace(/\/+$/, '');
  if (base && s.startsWith(`${base}/`)) s = s.slice(base.length + 1);
  const rel = RELATIVE.exec(s);
  if (rel) return { r: `${rel[1]}/${rel[2]}`, type: rel[1] };
  const abs = ABSOLUTE_TAIL.exec(s);
  if (abs && /^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    return { r: s.replace(/\/_history\/[^/]+$/, ''), type: abs[1] };
  }
  return { r: s };
}

export function extract(values: TypedValue[], ctx: TermContext): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const { value: v } of values) {
    if (typeof v === 'string') {
      if (ctx.refType) continue;
      // canonical: the version after '|' is not part of the reference.
      const url = v.split('|')[0];
      if (url) out.push({ r: url });
    } else if (isObject(v)) {
      const norm = typeof v.reference === 'string' ? normalizeReference(v.reference, ctx.baseUrl) : undefined;
      const type = norm?.type ?? str(v.type);
      if (ctx.refType && type !== ctx.refType) continue;
      const id = isObject(v.identifier) ? v.identifier : undefined;
      // A contained resource (`#id`): `l` holds its id, for chains to reach it (see extract.ts).
      const local = typeof v.reference === 'string' && /^#./.test(v.reference) ? v.reference.slice(1) : undefined;
      const e = entry({ r: norm?.r, s: str(id?.system), c: str(id?.value), l: local });
      if (Object.keys(e).length > 0) out.push(e);
    }
  }
  return out;
}

export type ReferenceValue =
  | { kind: 'ref'; r: string }
  | { kind: 'id'; id: string; types: string[] }
  | { kind: 'identifier'; system?: string; code: string };

export const MODIFIERS = ['identifier'];

/** Any `:Type` modifier is a type restriction. */
export function isTypeModifier(modifier: string | undefined): modifier is string {
  return !!modifier && TYPE_PATTERN.test(modifier);
}

export function parse(def: SearchParamDef, modifier: string | undefined, raw: string, ctx: ParseContext = {}): ReferenceValue {
  if (modifier === 'identifier') {
    const parts = splitEscaped(raw, '|').map(unescapeValue);
    if (parts.length === 1 && parts[0]) return { kind: 'identifier', code: parts[0] };
    if (parts.length === 2 && parts[1]) return { kind: 'identifier', system: parts[0], code: parts[1] };
    throw badValue(def.code, raw, ':identifier expects [system|]value');
  }
  const value = unescapeValue(raw);
  if (isTypeModifier(modifier)) {
    if (def.targets.length > 0 && !def.targets.includes(modifier)) {
      throw badValue(def.code, raw, `${modifier} is not a target type of this parameter`);
    }
    const rel = RELATIVE.exec(value);
    if (rel && rel[1] === modifier) return { kind: 'ref', r: `${rel[1]}/${rel[2]}` };
    if (ID_PATTERN.test(value)) return { kind: 'ref', r: `${modifier}/${value}` };
    throw badValue(def.code, raw, `expected an id of a ${modifier}`);
  }
  if (ID_PATTERN.test(value)) {
    return def.targets.length === 1 ? { kind: 'ref', r: `${def.targets[0]}/${value}` } : { kind: 'id', id: value, types: def.targets };
  }
  if (RELATIVE.test(value) || /^[a-z][a-z0-9+.-]*:/i.test(value)) {
    // A canonical's |version is not indexed (extract).
    const norm = normalizeReference(value.split('|')[0], ctx.baseUrl);
    if (norm) return { kind: 'ref', r: norm.r };
  }
  throw badValue(def.code, raw, 'expected Type/id, an id or an absolute URL');
}

export function compile(_def: SearchParamDef, _modifier: string | undefined, value: ReferenceValue, ctx: CompileContext): Clause {
  const f = ctx.field;
  switch (value.kind) {
    case 'ref':
      return { [f('r')]: value.r };
    case 'id':
      // An id alone matches it in any target type; listing the types lets the `idx.r` index serve it.
      if (value.types.length === 0) return { [f('r')]: { $regex: `^[A-Z][A-Za-z]+/${escapeRegex(value.id)}$` } };
      return { [f('r')]: { $in: value.types.map((t) => `${t}/${value.id}`) } };
    case 'identifier':
      return { ...(value.system ? { [f('s')]: value.system } : {}), [f('c')]: value.code };
  }
}

export function sortValue(e: IndexEntry): string | number | undefined {
  return typeof e.r === 'string' ? e.r : undefined;
}
