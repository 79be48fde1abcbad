import { FhirError } from '../../errors.js';
import type { IndexEntry } from '../../store/store.js';
import type { TypedValue } from '../fhirpath.js';
import type { SearchParamDef } from '../registry.js';
import type { ValueSetExpander } from '../value-sets.js';

export type { IndexEntry, TypedValue, SearchParamDef };

/** A query over one index entry (the body of an `$elemMatch`, without `p`). */
export type Clause = Record<string, unknown>;

export interface ExtractContext {
  /** This server's base URL: absolute references to it are indexed as `Type/id`. */
  baseUrl?: string;
}

/** Per expression term: what the term itself says about its values. */
export interface TermContext extends ExtractContext {
  /** where(resolve() is T): only references to T. */
  refType?: string;
  /** The code system of a `code` element with a required binding. */
  system?: string;
}

export interface ParseContext {
  baseUrl?: string;
  valueSets?: ValueSetExpander;
}

export interface CompileContext {
  /** Field name of an entry field; composites prefix component fields with their position. */
  field(name: string): string;
  baseUrl?: string;
  /** Epoch ms; `ap` on dates is relative to now. */
  now: number;
}

export const plainField = (name: string) => name;

/** A search value that cannot be understood: 400, naming the parameter. */
export function badValue(param: string, value: string, why: string): FhirError {
  return new FhirError('bad-search', `Invalid value for search parameter '${param}': ${why} (${JSON.stringify(clip(value))})`, {
    expression: param,
  });
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

/** Splits at `sep` not preceded by a backslash; escapes are kept for the next level. */
export function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[i + 1];
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Removes FHIR search escapes (`\,` `\$` `\|` `\\`). */
export function unescapeValue(s: string): string {
  return s.replace(/\\([\\,$|])/g, '$1');
}

/**
 * Escapes every regular expression metacharacter: the result matches `s` literally, in JavaScript
 * (mingo) and PCRE (MongoDB). `-` needs no escape outside a class, and we never build classes.
 */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

export const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Drops absent fields so that an entry only carries what it has. */
export function entry(fields: Record<string, string | number | boolean | null | undefined>): IndexEntry {
  const out: IndexEntry = {};
  for (const k in fields) {
    const v = fields[k];
    if (v !== undefined && v !== null && v !== '') out[k] = v;
  }
  return out;
}
