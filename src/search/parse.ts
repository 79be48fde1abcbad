import { FhirError, type Issue } from '../errors.js';
import { isServedType } from '../fhir/resource-types.js';
import type { SearchParamDef, SearchRegistry } from './registry.js';
import { badValue, splitEscaped, type ParseContext } from './types/common.js';
import { parse as parseComposite } from './types/composite.js';
import { SIMPLE_TYPES } from './types/index.js';
import { isTypeModifier } from './types/reference.js';
import { WRITTEN_BY } from './record-fields.js';
import { parseResultParam, type ResultParams } from './result-params.js';

export interface ParseOptions {
  /** `Prefer: handling=strict`: an unknown parameter is an error rather than a warning. */
  strict: boolean;
  /** This server's base URL, so absolute references to it match local ones. */
  baseUrl?: string;
  /** Page size when _count is absent (default 20). */
  defaultCount?: number;
  /** Largest page size; a larger _count is capped with a warning (default 1000). */
  maxCount?: number;
}

/** One occurrence of a search parameter: its values are ORed; occurrences are ANDed. */
export type ParsedParam =
  | {
      kind: 'value';
      def: SearchParamDef;
      modifier?: string;
      values: unknown[];
      /** A reference to a Patient by this parameter puts the resource in that Patient's compartment. */
      compartment?: boolean;
    }
  | { kind: 'missing'; def: SearchParamDef; missing: boolean }
  | { kind: 'chain'; def: SearchParamDef; targetTypes: string[]; inner: ParsedParam }
  | { kind: 'has'; type: string; code: string; referredType: string; inner: ParsedParam };

export interface ParsedSearch extends ResultParams {
  type: string;
  params: ParsedParam[];
  warnings: Issue[];
}

/** Longest value accepted, and most values in one OR list: bounds what one request costs. */
const MAX_VALUE_LENGTH = 4096;
const MAX_OR_VALUES = 100;
const MAX_CHAIN_DEPTH = 4;

const IGNORED = new Set(['_format', '_pretty']);

/**
 * Parses the query of a type search. Every value is checked here, so compileSearch cannot fail on
 * user input. Throws FhirError 'bad-search' naming the parameter.
 */
export function parseSearch(
  type: string,
  query: Record<string, string | string[]>,
  registry: SearchRegistry,
  opts: ParseOptions,
): ParsedSearch {
  const out: ParsedSearch = {
    type,
    params: [],
    warnings: [],
    sort: [],
    count: opts.defaultCount ?? 20,
    total: 'accurate',
    include: [],
    revinclude: [],
  };
  const unknown = (name: string, why: string) => {
    if (opts.strict) throw new FhirError('bad-search', why, { expression: name });
    out.warnings.push({ severity: 'warning', code: 'not-supported', diagnostics: `${why}; ignored`, expression: [name] });
  };

  for (const [name, raw] of Object.entries(query)) {
    // http://hl7.org/fhir/R4/search.html#errors: parameters with empty values are ignored.
    const occurrences = valuesOf(name, raw).filter((v) => v !== '');
    if (IGNORED.has(name) || occurrences.length === 0) continue;
    if (parseResultParam(type, name, occurrences, registry, opts, out, unknown)) continue;
    for (const value of occurrences) {
      const parsed = parseParam(type, name, value, registry, opts, unknown, 0);
      if (parsed) out.params.push(parsed);
    }
  }
  return out;
}

/** Values must be strings: a query parser that builds objects (`name[$ne]=x`) is refused here. */
function valuesOf(name: string, raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  for (const v of list) {
    if (typeof v !== 'string') throw new FhirError('bad-search', `Invalid value for search parameter '${name}': expected text`, { expression: name });
    if (v.length > MAX_VALUE_LENGTH) throw badValue(name, v, `longer than ${MAX_VALUE_LENGTH} characters`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(v)) throw badValue(name, v, 'control characters are not allowed');
  }
  return list as string[];
}

/** Parses `code[:modifier][.chain...]=value` for `type`. Returns undefined for an ignored unknown parameter. */
export function parseParam(
  type: string,
  name: string,
  value: string,
  registry: SearchRegistry,
  opts: ParseOptions,
  unknown: (name: string, why: string) => void,
  depth: number,
): ParsedParam | undefined {
  if (name.startsWith('_has:')) return parseHas(type, name, value, registry, opts, unknown, depth);
  const dot = name.indexOf('.');
  const head = dot >= 0 ? name.slice(0, dot) : name;
  const colon = head.indexOf(':');
  const code = colon >= 0 ? head.slice(0, colon) : head;
  const modifier = colon >= 0 ? head.slice(colon + 1) : undefined;
  const def = registry.get(type, code);
  if (!def) {
    unknown(name, `Unknown search parameter '${code}' for ${type}`);
    return undefined;
  }
  if (def.code === WRITTEN_BY && (dot >= 0 || modifier === 'identifier')) {
    throw new FhirError('bad-search', `'${WRITTEN_BY}' takes the reference of a user (Patient/x, Practitioner/y...), neither a chain nor :identifier`, { expression: name });
  }
  if (dot >= 0) return parseChain(def, modifier, name, name.slice(dot + 1), value, registry, opts, unknown, depth);
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw badValue(name, value, ':missing expects true or false');
    return { kind: 'missing', def, missing: value === 'true' };
  }
  checkModifier(def, modifier, name);
  if (def.code === '_id' && modifier !== undefined && modifier !== 'not') {
    throw new FhirError('bad-search', `Modifier ':${modifier}' is not supported on _id`, { expression: name });
  }
  const pieces = splitEscaped(value, ',').filter((v) => v !== '');
  if (pieces.length === 0) return undefined;
  if (pieces.length > MAX_OR_VALUES) throw badValue(name, value, `more than ${MAX_OR_VALUES} values`);
  const values = pieces.map((v) => parseValue(def, modifier, v, { baseUrl: opts.baseUrl, valueSets: registry.valueSets }));
  return { kind: 'value', def, ...(modifier ? { modifier } : {}), values, ...(definesCompartment(type, def, registry) ? { compartment: true } : {}) };
}

/** definesCompartment's answers: they depend only on the definition and the type searched, and every search asks. */
const compartmentAnswers = new WeakMap<SearchParamDef, Map<string, boolean>>();

/** Whether def's references are among those of a Patient compartment parameter (e.g. Observation.patient within subject). */
function definesCompartment(type: string, def: SearchParamDef, registry: SearchRegistry): boolean {
  if (def.type !== 'reference') return false;
  let answers = compartmentAnswers.get(def);
  if (!answers) compartmentAnswers.set(def, (answers = new Map()));
  let answer = answers.get(type);
  if (answer === undefined) answers.set(type, (answer = compartmentOf(type, def, registry)));
  return answer;
}

function compartmentOf(type: string, def: SearchParamDef, registry: SearchRegistry): boolean {
  const own = def.terms.map((t) => t.expression);
  if (own.length === 0) return false;
  return registry.compartmentParams(type).some((code) => {
    const terms = registry.get(type, code)?.terms.filter((t) => !t.refType).map((t) => t.expression) ?? [];
    return own.every((e) => terms.includes(e));
  });
}

function parseValue(def: SearchParamDef, modifier: string | undefined, raw: string, ctx: ParseContext): unknown {
  if (def.code === '_id') {
    if (raw.includes('|') || !/^[A-Za-z0-9\-.]{1,64}$/.test(raw)) throw badValue(def.code, raw, 'expected a resource id');
    return { kind: 'token', code: raw };
  }
  if (def.type === 'composite') return parseComposite(def, modifier, raw, ctx);
  return SIMPLE_TYPES[def.type].parse(def, modifier, raw, ctx);
}

function checkModifier(def: SearchParamDef, modifier: string | undefined, name: string): void {
  if (modifier === undefined) return;
  const allowed = def.type === 'composite' ? [] : SIMPLE_TYPES[def.type].MODIFIERS;
  if (allowed.includes(modifier)) return;
  if (def.type === 'reference' && isTypeModifier(modifier)) return;
  throw new FhirError('bad-search', `Modifier ':${modifier}' is not supported on search parameter '${def.code}' (${def.type})`, {
    expression: name,
  });
}

/** `subject:Patient.name=x`: the chain's target types, then the rest parsed against each target type. */
function parseChain(
  def: SearchParamDef,
  modifier: string | undefined,
  name: string,
  rest: string,
  value: string,
  registry: SearchRegistry,
  opts: ParseOptions,
  unknown: (name: string, why: string) => void,
  depth: number,
): ParsedParam | undefined {
  if (def.type !== 'reference') throw new FhirError('bad-search', `'${def.code}' is not a reference parameter and cannot be chained`, { expression: name });
  if (depth >= MAX_CHAIN_DEPTH) throw new FhirError('bad-search', `Chains are limited to ${MAX_CHAIN_DEPTH} levels`, { expression: name });
  let targets: string[];
  if (modifier !== undefined) {
    if (!isTypeModifier(modifier) || (def.targets.length > 0 && !def.targets.includes(modifier))) {
      throw new FhirError('bad-search', `'${modifier}' is not a target type of '${def.code}'`, { expression: name });
    }
    targets = [modifier];
  } else {
    targets = def.targets.filter(isServedType);
  }
  const innerCode = rest.split(/[.:]/)[0];
  const usable = targets.filter((t) => isServedType(t) && registry.get(t, innerCode));
  if (usable.length === 0) {
    unknown(name, `No target type of '${def.code}' has a search parameter '${innerCode}'`);
    return undefined;
  }
  if (usable.length > 1) {
    const kinds = new Set(usable.map((t) => registry.get(t, innerCode)!.type));
    if (kinds.size > 1) throw new FhirError('bad-search', `Chain '${name}' is ambiguous: name the type, as in '${def.code}:${usable[0]}.${rest}'`, { expression: name });
  }
  // Each target type parses the rest; they agree on the parameter type, so the first one's parse is kept.
  let inner: ParsedParam | undefined;
  for (const t of usable) inner = parseParam(t, rest, value, registry, opts, unknown, depth + 1) ?? inner;
  if (!inner) return undefined;
  return { kind: 'chain', def, targetTypes: usable, inner };
}

/** `_has:Observation:patient:code=x`: resources referenced by an Observation's `patient` whose code is x. */
function parseHas(
  type: string,
  name: string,
  value: string,
  registry: SearchRegistry,
  opts: ParseOptions,
  unknown: (name: string, why: string) => void,
  depth: number,
): ParsedParam | undefined {
  const m = /^_has:([A-Za-z]+):([A-Za-z0-9_-]+):(.+)$/.exec(name);
  if (!m) throw new FhirError('bad-search', `Expected _has:Type:reference:parameter, got '${name}'`, { expression: name });
  if (depth >= MAX_CHAIN_DEPTH) throw new FhirError('bad-search', `Chains are limited to ${MAX_CHAIN_DEPTH} levels`, { expression: name });
  const [, srcType, refCode, rest] = m;
  if (!isServedType(srcType)) {
    unknown(name, `Resource type '${srcType}' is not served`);
    return undefined;
  }
  const ref = registry.get(srcType, refCode);
  if (refCode === WRITTEN_BY) throw new FhirError('bad-search', `_has cannot follow '${WRITTEN_BY}': writers are not references in the resource`, { expression: name });
  if (!ref || ref.type !== 'reference') {
    unknown(name, `'${refCode}' is not a reference search parameter of ${srcType}`);
    return undefined;
  }
  if (ref.targets.length > 0 && !ref.targets.includes(type)) {
    throw new FhirError('bad-search', `${srcType}.${refCode} does not refer to ${type}`, { expression: name });
  }
  const inner = parseParam(srcType, rest, value, registry, opts, unknown, depth + 1);
  if (!inner) return undefined;
  return { kind: 'has', type: srcType, code: refCode, referredType: type, inner };
}
