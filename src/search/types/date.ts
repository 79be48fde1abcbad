import type { Clause, CompileContext, IndexEntry, SearchParamDef, TypedValue } from './common.js';
import { badValue, isObject } from './common.js';

/** Open ends of a Period are indexed as the bounds of the JavaScript Date range, so queries need no $exists. */
export const MIN_TIME = -8.64e15;
export const MAX_TIME = 8.64e15;

export const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof PREFIXES)[number];

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const t = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  t.setUTCFullYear(y, mo, d);
  t.setUTCHours(h, mi, s, ms);
  return t.getTime();
}

/**
 * The range [start, end] in epoch ms (both inclusive) that a FHIR date, dateTime or instant covers
 * at its precision: "2026-03" is the whole of March. A dateTime with a time but no zone is taken as UTC.
 */
export function dateRange(s: string): [number, number] | undefined {
  const m = DATE.exec(s);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, frac, tz] = m;
  const y = Number(ys);
  const mo = mos ? Number(mos) - 1 : 0;
  const d = ds ? Number(ds) : 1;
  if (mo > 11 || d < 1 || d > new Date(utc(y, mo + 1, 0)).getUTCDate()) return undefined;
  if (!ds) {
    const start = utc(y, mo, 1);
    return [start, (mos ? utc(y, mo + 1, 1) : utc(y + 1, 0, 1)) - 1];
  }
  if (!hs) {
    const start = utc(y, mo, d);
    return [start, utc(y, mo, d + 1) - 1];
  }
  const h = Number(hs);
  const mi = Number(mis);
  const sec = ss ? Number(ss) : 0;
  if (h > 23 || mi > 59 || sec > 60) return undefined;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  let offset = 0;
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const oh = Number(tz.slice(1, 3));
    const om = Number(tz.slice(4, 6));
    if (oh > 14 || om > 59) return undefined;
    offset = sign * (oh * 60 + om) * 60_000;
  }
  const start = utc(y, mo, d, h, mi, Math.min(sec, 59), ms) - offset;
  const width = frac ? 1 : ss ? 1000 : 60_000;
  return [start, start + width - 1];
}

function periodRange(p: Record<string, any>): [number, number] | undefined {
  const start = typeof p.start === 'string' ? dateRange(p.start) : undefined;
  const end = typeof p.end === 'string' ? dateRange(p.end) : undefined;
  if (!start && !end) return undefined;
  return [start ? start[0] : MIN_TIME, end ? end[1] : MAX_TIME];
}

export function extract(values: TypedValue[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  const push = (r: [number, number] | undefined) => r && out.push({ st: r[0], et: r[1] });
  for (const { value: v } of values) {
    if (typeof v === 'string') push(dateRange(v));
    else if (isObject(v)) {
      if ('start' in v || 'end' in v) push(periodRange(v));
      else if (Array.isArray(v.event) || isObject(v.repeat)) {
        const events = (v.event ?? []).filter((e: unknown): e is string => typeof e === 'string');
        for (const e of events) push(dateRange(e));
        if (events.length === 0 && isObject(v.repeat?.boundsPeriod)) push(periodRange(v.repeat.boundsPeriod));
      }
    }
  }
  return out;
}

export interface DateValue {
  prefix: Prefix;
  start: number;
  end: number;
}

export const MODIFIERS: string[] = [];

export function splitPrefix(raw: string): [Prefix | undefined, string] {
  const p = raw.slice(0, 2) as Prefix;
  return PREFIXES.includes(p) && /^[a-z]{2}[^a-z]/.test(raw.slice(0, 3)) ? [p, raw.slice(2)] : [undefined, raw];
}

export function parse(def: SearchParamDef, _modifier: string | undefined, raw: string): DateValue {
  const [prefix, rest] = splitPrefix(raw);
  // A '+' in a zone offset arrives as a space when the client did not percent-encode it.
  const range = dateRange(rest.replace(/ (\d{2}:\d{2})$/, '+$1'));
  if (!range) throw badValue(def.code, raw, 'expected [prefix]YYYY[-MM[-DD[Thh:mm[:ss[.sss]][zone]]]]');
  return { prefix: prefix ?? 'eq', start: range[0], end: range[1] };
}

export interface RangeFields {
  st: string;
  et: string;
  encode: (ms: number) => unknown;
}

type Cond = [field: string, op: string, value: number];

function merge(conds: Cond[], fields: RangeFields): Clause {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [f, op, v] of conds) (out[f] ??= {})[op] = fields.encode(v);
  return out;
}

/**
 * FHIR R4 date comparison (http://hl7.org/fhir/R4/search.html#prefix) of a target range [st, et]
 * against the search range [lo, hi].
 */
export function rangeClause(prefix: Prefix, lo: number, hi: number, fields: RangeFields, now: number): Clause {
  const { st, et } = fields;
  const m = (...c: Cond[]) => merge(c, fields);
  switch (prefix) {
    case 'eq':
      return m([st, '$gte', lo], [et, '$lte', hi]);
    case 'ne':
      return { $or: [m([st, '$lt', lo]), m([et, '$gt', hi])] };
    case 'gt':
      return m([et, '$gt', hi]);
    case 'lt':
      return m([st, '$lt', lo]);
    case 'ge':
      return { $or: [m([et, '$gt', hi]), m([st, '$gte', lo], [et, '$lte', hi])] };
    case 'le':
      return { $or: [m([st, '$lt', lo]), m([st, '$gte', lo], [et, '$lte', hi])] };
    case 'sa':
      return m([st, '$gt', hi]);
    case 'eb':
      return m([et, '$lt', lo]);
    case 'ap': {
      // 10% of the distance between now and the value, at least a day.
      const gap = Math.max(Math.abs(now - lo), Math.abs(now - hi)) * 0.1;
      const slack = Math.max(gap, 86_400_000);
      return m([st, '$lte', hi + slack], [et, '$gte', lo - slack]);
    }
  }
}

export function compile(_def: SearchParamDef, _modifier: string | undefined, value: DateValue, ctx: CompileContext): Clause {
  return rangeClause(value.prefix, value.start, value.end, { st: ctx.field('st'), et: ctx.field('et'), encode: (n) => n }, ctx.now);
}

export function sortValue(e: IndexEntry, descending: boolean): string | number | undefined {
  const v = descending ? e.et : e.st;
  return typeof v === 'number' ? v : undefined;
}
