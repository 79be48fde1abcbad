import { PATIENT_REFERENCE, type Resource } from '../fhir/resource-types.js';
import type { IndexEntry, SearchDataOf } from '../store/store.js';
import { RECORD_FIELD_PARAMS, WRITTEN_BY } from './record-fields.js';
import { createSearchRegistry, type SearchParamDef, type SearchRegistry } from './registry.js';
import type { ExtractContext, TermContext } from './types/common.js';
import { compositeRoots, extractComposite } from './types/composite.js';
import { SIMPLE_TYPES } from './types/index.js';

export interface IndexResult {
  /** Search index entries (src/store/index-entry.md). */
  idx: IndexEntry[];
  /** Patient compartments, e.g. ['Patient/123']. */
  comp: string[];
  /**
   * Sort values: `srt[code]` is the smallest value (ascending sorts), `srt['-' + code]` the largest
   * (descending sorts; for dates the latest end). Absent when the resource has no value.
   */
  srt: Record<string, string | number>;
}

export { RECORD_FIELD_PARAMS } from './record-fields.js';

let defaultRegistry: SearchRegistry | undefined;

/**
 * Computes the search data stored with the current version of a resource. Pass the application's
 * registry; without one, a registry of the official and conformance/ parameters is built once
 * (pure data, the same for every caller).
 */
export function indexResource(resource: Resource, registry?: SearchRegistry, opts: ExtractContext = {}): IndexResult {
  registry ??= defaultRegistry ??= createSearchRegistry();
  const idx: IndexEntry[] = [];
  const srt: Record<string, string | number> = {};
  for (const def of registry.defs(resource.resourceType)) {
    if (def.code in RECORD_FIELD_PARAMS || def.code === WRITTEN_BY) continue;
    let entries: IndexEntry[];
    try {
      entries = extractParam(resource, def, registry, opts);
    } catch {
      // A value fhirpath cannot evaluate (malformed data) leaves this parameter unindexed, not the write failed.
      continue;
    }
    if (entries.length === 0) continue;
    // A single entry has no duplicate to drop.
    const seen = entries.length > 1 ? new Set<string>() : undefined;
    const handler = SIMPLE_TYPES[def.type];
    let min: string | number | undefined;
    let max: string | number | undefined;
    for (const e of entries) {
      if (seen) {
        const key = entryKey(e);
        if (seen.has(key)) continue;
        seen.add(key);
      }
      idx.push(withParam(def.code, e));
      if (!handler) continue;
      const lo = handler.sortValue(e, false);
      const hi = handler.sortValue(e, true);
      if (lo !== undefined && (min === undefined || lo < min)) min = lo;
      if (hi !== undefined && (max === undefined || hi > max)) max = hi;
    }
    if (min !== undefined) srt[def.code] = min;
    if (max !== undefined) srt[`-${def.code}`] = max;
  }
  const comp = compartments(resource, idx, registry);
  idx.push(...containedEntries(resource, idx, registry, opts));
  return { idx, comp, srt };
}

/**
 * The search data a store derives on read (Store.derivesSearchData) instead of keeping it: what
 * indexResource gives, with the registry the server searches with.
 */
export function searchDataOf(registry: SearchRegistry, opts: ExtractContext): SearchDataOf {
  return (resource) => {
    const { idx, srt } = indexResource(resource, registry, opts);
    return { idx, srt };
  };
}

/**
 * What tells two entries of one parameter apart: their fields and values in order, as their JSON
 * would, without writing it (entries are flat; one with a nested value is written as JSON). A
 * string is written with its length, so that no value can pass for several fields.
 */
function entryKey(e: IndexEntry): string {
  let key = '';
  for (const k in e) {
    const v = e[k];
    if (typeof v === 'object' && v !== null) return JSON.stringify(e);
    key += typeof v === 'string' ? `${k}:s${v.length}:${v}` : `${k}:${String(v)};`;
  }
  return key;
}

/** The entry with its parameter first, as `{ p, ...e }` gives it, without the spread. */
function withParam(p: string, e: IndexEntry): IndexEntry {
  const out: IndexEntry = { p };
  for (const k in e) out[k] = e[k];
  return out;
}

/**
 * The Patient compartments of a resource, as indexResource gives them, from its compartment
 * parameters alone: what the access history needs of each resource a search returned, without
 * extracting every other parameter again.
 */
export function compartmentsOf(resource: Resource, registry: SearchRegistry, opts: ExtractContext = {}): string[] {
  const params = compartmentParams(registry, resource.resourceType);
  const idx: IndexEntry[] = [];
  for (const def of registry.defs(resource.resourceType)) {
    if (!params.has(def.code)) continue;
    try {
      for (const e of extractParam(resource, def, registry, opts)) idx.push({ p: def.code, ...e });
    } catch {
      // unindexed, as in indexResource
    }
  }
  return compartments(resource, idx, registry);
}

/**
 * Chained parameters are evaluated inside contained resources too (FHIR R4 search.html#contained):
 * a reference `#x` by parameter `author` to a contained Practitioner puts that Practitioner's
 * entries here as `author:Practitioner.given`, `author:Practitioner.identifier`..., which the
 * chain `author.given=...` also searches (compile.ts). PDSm documents have their authors contained.
 * They neither sort nor place the resource in a compartment.
 */
function containedEntries(resource: Resource, idx: IndexEntry[], registry: SearchRegistry, opts: ExtractContext): IndexEntry[] {
  const contained = (resource as { contained?: unknown }).contained;
  if (!Array.isArray(contained) || contained.length === 0) return [];
  const out = new Map<string, IndexEntry>();
  for (const e of idx) {
    if (typeof e.l !== 'string') continue;
    const target = contained.find((c): c is Resource => typeof c?.resourceType === 'string' && c.id === e.l);
    if (!target || registry.defs(target.resourceType).length === 0) continue;
    for (const inner of indexResource(target, registry, opts).idx) {
      const prefixed = { ...inner, p: `${e.p}:${target.resourceType}.${inner.p}` };
      out.set(JSON.stringify(prefixed), prefixed);
    }
  }
  return [...out.values()];
}

function extractParam(resource: Resource, def: SearchParamDef, registry: SearchRegistry, opts: ExtractContext): IndexEntry[] {
  const { expressions } = registry;
  if (def.type === 'composite') {
    const bases = compositeRoots(def);
    const roots = def.terms.map((t, i) => ({ base: bases[i], values: expressions.evaluate(resource, t.expression) }));
    return extractComposite(def, roots, expressions, opts);
  }
  const handler = SIMPLE_TYPES[def.type];
  const terms = termPlans(def, registry);
  if (terms.length === 1) return handler.extract(expressions.values(resource, terms[0]!.expression), terms[0]!.context(opts));
  return terms.flatMap((t) => handler.extract(expressions.values(resource, t.expression), t.context(opts)));
}

interface TermPlan {
  expression: string;
  context(opts: ExtractContext): TermContext;
}

/** Per registry and parameter: what each term adds to the extraction context (its reference type, its implied code system). */
const plans = new WeakMap<SearchRegistry, WeakMap<SearchParamDef, TermPlan[]>>();

function termPlans(def: SearchParamDef, registry: SearchRegistry): TermPlan[] {
  let byDef = plans.get(registry);
  if (!byDef) plans.set(registry, (byDef = new WeakMap()));
  let terms = byDef.get(def);
  if (!terms) {
    terms = def.terms.map((t): TermPlan => {
      const system = def.type === 'token' ? registry.impliedSystem(t.expression) : undefined;
      const own: TermContext = { ...(t.refType ? { refType: t.refType } : {}), ...(system ? { system } : {}) };
      return { expression: t.expression, context: Object.keys(own).length ? (opts) => ({ ...opts, ...own }) : (opts) => opts };
    });
    byDef.set(def, terms);
  }
  return terms;
}

/** Patient compartments (Patient CompartmentDefinition): a Patient is in its own; others through the listed references. */
function compartments(resource: Resource, idx: IndexEntry[], registry: SearchRegistry): string[] {
  const comp = new Set<string>();
  if (resource.resourceType === 'Patient' && resource.id) comp.add(`Patient/${resource.id}`);
  const params = compartmentParams(registry, resource.resourceType);
  if (params.size === 0) return [...comp];
  for (const e of idx) {
    if (typeof e.p === 'string' && params.has(e.p) && typeof e.r === 'string' && PATIENT_REFERENCE.test(e.r)) comp.add(e.r);
  }
  return [...comp].sort();
}

const compartmentSets = new WeakMap<SearchRegistry, Map<string, Set<string>>>();

function compartmentParams(registry: SearchRegistry, type: string): Set<string> {
  let byType = compartmentSets.get(registry);
  if (!byType) compartmentSets.set(registry, (byType = new Map()));
  let params = byType.get(type);
  if (!params) byType.set(type, (params = new Set(registry.compartmentParams(type))));
  return params;
}
