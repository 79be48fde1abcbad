import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { definitions } from '../fhir/definitions.js';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import { createBindingLookup } from './bindings.js';
import { WRITTEN_BY } from './record-fields.js';
import { ExpressionCache, termsFor, type Term } from './fhirpath.js';
import { createValueSetExpander, loadConformanceValueSets, type ValueSetExpander } from './value-sets.js';

export type ParamType = 'string' | 'token' | 'reference' | 'date' | 'number' | 'quantity' | 'uri' | 'composite';

const PARAM_TYPES = new Set<string>(['string', 'token', 'reference', 'date', 'number', 'quantity', 'uri', 'composite']);

/** A SearchParameter resource, as in the R4 definitions or conformance/search-parameters/*.json. */
export interface SearchParameter {
  resourceType: 'SearchParameter';
  url: string;
  code: string;
  base: string[];
  type: string;
  expression?: string;
  description?: string;
  target?: string[];
  component?: Array<{ definition: string; expression: string }>;
  [key: string]: unknown;
}

/** A search parameter as one resource type sees it: plain data. */
export interface SearchParamDef {
  code: string;
  type: ParamType;
  url: string;
  /** The resource type this definition is for. */
  resourceType: string;
  description?: string;
  /** Union terms of the expression that apply to resourceType. */
  terms: Term[];
  /** Reference target types. */
  targets: string[];
  /** For composites: the component parameters and their expressions relative to each composite value. */
  components?: Array<{ def: SearchParamDef; expression: string }>;
}

export interface SkippedParameter {
  url: string;
  code: string;
  base: string[];
  reason: string;
}

export interface CapabilitySearchParam {
  name: string;
  definition: string;
  type: ParamType;
  documentation?: string;
}

export interface SearchRegistry {
  get(type: string, code: string): SearchParamDef | undefined;
  /** Parameters of a type (Resource-level ones included), sorted by code, for the CapabilityStatement. */
  list(type: string): CapabilitySearchParam[];
  defs(type: string): SearchParamDef[];
  /** Parameters whose references put a resource of this type in a patient compartment. */
  compartmentParams(type: string): string[];
  /** Parameters left out, and why. */
  readonly skipped: SkippedParameter[];
  /** Compiled FHIRPath expressions (one cache per registry). */
  readonly expressions: ExpressionCache;
  /** Local value set expansion for :in and :not-in. */
  readonly valueSets: ValueSetExpander;
  /** The code system implied by the required binding of a `code` element at a simple path, if one. */
  impliedSystem(path: string): string | undefined;
}

const ABSTRACT_BASES = new Set(['Resource', 'DomainResource']);

/**
 * The search parameters of every served type: the official R4 definitions plus `extra`
 * (by default, the JSON files of conformance/search-parameters/). A later definition of the same
 * code for the same type replaces an earlier one.
 */
export function createSearchRegistry(
  extra: SearchParameter[] = loadConformanceSearchParameters(),
  opts: {
    /** Default: the R4 value sets and conformance/value-sets/ (if present), loaded on first :in. */
    valueSets?: ValueSetExpander;
    /** Default: from the R4 StructureDefinitions, loaded on first indexing. */
    impliedSystem?: (path: string) => string | undefined;
  } = {},
): SearchRegistry {
  const valueSets = opts.valueSets ?? createValueSetExpander(loadConformanceValueSets(findConformanceDir('value-sets')));
  const impliedSystem = opts.impliedSystem ?? createBindingLookup();
  const official = (definitions.searchParameters().entry ?? []).map((e) => e.resource as SearchParameter);
  const all = [...official, ...extra];
  const byType = new Map<string, Map<string, SearchParamDef>>();
  const skipped: SkippedParameter[] = [];
  const expressions = new ExpressionCache();
  const served: readonly string[] = SERVED_TYPES;
  const byUrl = new Map<string, SearchParameter>(all.map((sp) => [sp.url, sp]));
  const skip = (sp: SearchParameter, reason: string) =>
    skipped.push({ url: sp.url, code: sp.code, base: sp.base, reason });

  for (const sp of all) {
    const bases = sp.base.flatMap((b) => (ABSTRACT_BASES.has(b) ? [...served] : served.includes(b) ? [b] : []));
    if (bases.length === 0) continue;
    if (!PARAM_TYPES.has(sp.type)) {
      skip(sp, `type ${sp.type} is not supported`);
      continue;
    }
    if (!sp.expression && sp.code !== WRITTEN_BY) {
      skip(sp, 'no FHIRPath expression');
      continue;
    }
    for (const type of bases) {
      try {
        const def = buildDef(sp, type, byUrl, expressions);
        if (!def) continue;
        let map = byType.get(type);
        if (!map) byType.set(type, (map = new Map()));
        map.set(def.code, def);
      } catch (err) {
        skip(sp, `${type}: ${(err as Error).message}`);
      }
    }
  }

  const compartment = new Map<string, string[]>();
  for (const r of definitions.patientCompartment().resource ?? []) {
    if (Array.isArray(r.param)) compartment.set(r.code, r.param);
  }

  return {
    get: (type, code) => byType.get(type)?.get(code),
    defs: (type) => [...(byType.get(type)?.values() ?? [])],
    list: (type) =>
      [...(byType.get(type)?.values() ?? [])]
        .sort((a, b) => a.code.localeCompare(b.code))
        .map((d) => ({
          name: d.code,
          definition: d.url,
          type: d.type,
          ...(d.description ? { documentation: d.description } : {}),
        })),
    compartmentParams: (type) => compartment.get(type) ?? [],
    skipped,
    expressions,
    valueSets,
    impliedSystem,
  };
}

function buildDef(
  sp: SearchParameter,
  type: string,
  byUrl: Map<string, SearchParameter>,
  expressions: ExpressionCache,
): SearchParamDef | undefined {
  // written-by reads the record's writers, not the resource: no terms (record-fields.ts).
  const terms = sp.code === WRITTEN_BY ? [] : termsFor(type, sp.expression ?? '');
  if (terms.length === 0 && sp.code !== WRITTEN_BY) return undefined;
  // Compiling parses; registry.test.ts also runs every term (too slow for start-up: ~0.4 s).
  for (const t of terms) expressions.get(t.expression);
  const def: SearchParamDef = {
    code: sp.code,
    type: sp.type as ParamType,
    url: sp.url,
    resourceType: type,
    ...(sp.description ? { description: sp.description } : {}),
    terms,
    targets: sp.target ?? [],
  };
  if (sp.type === 'composite') {
    if (!sp.component?.length) throw new Error('composite without components');
    const bases = terms.map((t) => baseOf(t.expression));
    def.components = sp.component.map((c) => {
      const target = byUrl.get(c.definition);
      if (!target) throw new Error(`component ${c.definition} is not defined`);
      if (target.type === 'composite') throw new Error('nested composite');
      // R4 writes as(DateTime) in some components; the FHIR type is dateTime.
      const expression = c.expression.replace(/\b(as|ofType)\(DateTime\)/g, '$1(dateTime)');
      for (const base of bases) expressions.get(expression, base);
      const compDef: SearchParamDef = {
        code: target.code,
        type: target.type as ParamType,
        url: target.url,
        resourceType: type,
        terms: [],
        targets: target.target ?? [],
      };
      return { def: compDef, expression };
    });
  }
  return def;
}

/** The FHIRPath base path of a composite's values, e.g. 'Observation.component'. */
export function baseOf(expression: string): string {
  return expression.replace(/[()\s]/g, '');
}

/** Reads conformance/search-parameters/*.json (each a SearchParameter or a Bundle of them). */
export function loadConformanceSearchParameters(dir = findConformanceDir('search-parameters')): SearchParameter[] {
  if (!dir || !existsSync(dir)) return [];
  const out: SearchParameter[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    if (json.resourceType === 'Bundle') {
      for (const e of json.entry ?? []) if (e.resource?.resourceType === 'SearchParameter') out.push(e.resource);
    } else if (json.resourceType === 'SearchParameter') out.push(json);
  }
  return out;
}

/** conformance/<folder> of the repository: from src/search/ in development, dist/src/search/ when built. */
export function findConformanceDir(folder: string): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'conformance'))) {
      const candidate = join(dir, 'conformance', folder);
      return existsSync(candidate) ? candidate : undefined;
    }
    dir = dirname(dir);
  }
  return undefined;
}
