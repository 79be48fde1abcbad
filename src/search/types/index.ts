import type { Clause, CompileContext, IndexEntry, ParseContext, SearchParamDef, TermContext, TypedValue } from './common.js';
import * as date from './date.js';
import * as number from './number.js';
import * as quantity from './quantity.js';
import * as reference from './reference.js';
import * as string from './string.js';
import * as token from './token.js';
import * as uri from './uri.js';

/** What each parameter type provides: extraction at write time, parsing and compiling at search time. */
export interface TypeHandler {
  MODIFIERS: string[];
  extract(values: TypedValue[], ctx: TermContext): IndexEntry[];
  parse(def: SearchParamDef, modifier: string | undefined, raw: string, ctx: ParseContext): unknown;
  compile(def: SearchParamDef, modifier: string | undefined, value: any, ctx: CompileContext): Clause;
  sortValue(e: IndexEntry, descending: boolean): string | number | undefined;
}

/** The simple (non-composite) types; composites combine these (./composite.ts). */
export const SIMPLE_TYPES: Record<string, TypeHandler> = { date, number, quantity, reference, string, token, uri };
