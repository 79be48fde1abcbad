import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definitions } from '../fhir/definitions.js';

/** The codes of a value set, by system. */
export type Expansion = Array<{ system: string; codes: string[] }>;

export interface ValueSetExpander {
  /** The expansion, or a reason it cannot be expanded locally. `url` may carry `|version`. */
  expand(url: string): Expansion | { error: string };
}

interface Concept {
  code: string;
  concept?: Concept[];
}

/** Most codes one :in may expand to: bounds the size of one query. */
export const MAX_EXPANSION = 10_000;

/**
 * Expands value sets locally from the R4 definitions and `extra` ValueSet/CodeSystem resources
 * (conformance/): explicit concepts, whole code systems, `is-a`/`descendent-of`/`=` filters on
 * local code systems, imported value sets, and excludes. Anything else (an external code system
 * such as SNOMED CT by filter) is reported as not expandable.
 */
export function createValueSetExpander(extra: Array<Record<string, any>> = []): ValueSetExpander {
  let index: { valueSets: Map<string, any>; codeSystems: Map<string, any> } | undefined;
  const load = () => {
    if (index) return index;
    const valueSets = new Map<string, any>();
    const codeSystems = new Map<string, any>();
    const all = [...(definitions.valueSets().entry ?? []).map((e) => e.resource), ...extra];
    for (const r of all) {
      if (r?.resourceType === 'ValueSet' && r.url) valueSets.set(r.url, r);
      if (r?.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r);
    }
    return (index = { valueSets, codeSystems });
  };
  const cache = new Map<string, Expansion | { error: string }>();

  function expand(url: string, depth = 0): Expansion | { error: string } {
    const bare = url.split('|')[0];
    const hit = cache.get(bare);
    if (hit) return hit;
    if (depth > 8) return { error: `value set ${bare} imports too deeply` };
    const { valueSets, codeSystems } = load();
    const vs = valueSets.get(bare);
    if (!vs) return { error: `value set ${bare} is not known to this server` };
    const codes = new Map<string, Set<string>>();
    const apply = (part: any, add: boolean): string | undefined => {
      const sets: Array<Map<string, Set<string>>> = [];
      if (part.system) {
        const found = systemCodes(part, codeSystems.get(part.system));
        if (typeof found === 'string') return found;
        sets.push(new Map([[part.system, found]]));
      }
      for (const imported of part.valueSet ?? []) {
        const sub = expand(imported, depth + 1);
        if ('error' in sub) return sub.error;
        sets.push(new Map(sub.map((s) => [s.system, new Set(s.codes)])));
      }
      // Within one include, the system and the imported value sets intersect.
      const [first, ...rest] = sets;
      if (!first) return undefined;
      for (const [system, set] of first) {
        const kept = [...set].filter((c) => rest.every((m) => m.get(system)?.has(c)));
        if (!codes.has(system)) codes.set(system, new Set());
        for (const c of kept) (add ? codes.get(system)!.add(c) : codes.get(system)!.delete(c));
      }
      return undefined;
    };
    for (const inc of vs.compose?.include ?? []) {
      const err = apply(inc, true);
      if (err) return remember(bare, { error: err });
    }
    for (const exc of vs.compose?.exclude ?? []) {
      const err = apply(exc, false);
      if (err) return remember(bare, { error: err });
    }
    if (!vs.compose && Array.isArray(vs.expansion?.contains)) {
      for (const c of flatten(vs.expansion.contains)) {
        if (!codes.has(c.system)) codes.set(c.system, new Set());
        codes.get(c.system)!.add(c.code);
      }
    }
    const total = [...codes.values()].reduce((n, s) => n + s.size, 0);
    if (total > MAX_EXPANSION) return remember(bare, { error: `value set ${bare} has more than ${MAX_EXPANSION} codes` });
    return remember(bare, [...codes].filter(([, s]) => s.size > 0).map(([system, s]) => ({ system, codes: [...s].sort() })));
  }

  function remember(url: string, e: Expansion | { error: string }) {
    cache.set(url, e);
    return e;
  }

  return { expand: (url) => expand(url) };
}

function flatten(contains: any[]): Array<{ system: string; code: string }> {
  return contains.flatMap((c) => [
    ...(c.system && c.code ? [{ system: c.system, code: c.code }] : []),
    ...(Array.isArray(c.contains) ? flatten(c.contains) : []),
  ]);
}

function systemCodes(part: any, cs: any): Set<string> | string {
  if (Array.isArray(part.concept)) return new Set(part.concept.map((c: Concept) => c.code));
  if (!cs || !Array.isArray(cs.concept) || (cs.content && cs.content !== 'complete')) {
    return `code system ${part.system} is not available here in full`;
  }
  const filters: any[] = part.filter ?? [];
  let roots: Concept[] = cs.concept;
  for (const f of filters) {
    const target = find(cs.concept, f.value);
    if (f.property !== 'concept' || !target) return `filter ${f.property} ${f.op} ${f.value} on ${part.system} is not supported`;
    if (f.op === 'is-a') roots = [target];
    else if (f.op === 'descendent-of') {
      roots = target.concept ?? [];
    } else if (f.op === '=') return new Set([target.code]);
    else return `filter op ${f.op} is not supported`;
  }
  const out = new Set<string>();
  const walk = (cs2: Concept[]) => {
    for (const c of cs2) {
      out.add(c.code);
      if (c.concept) walk(c.concept);
    }
  };
  walk(roots);
  return out;
}

function find(concepts: Concept[], code: string): Concept | undefined {
  for (const c of concepts) {
    if (c.code === code) return c;
    const sub = c.concept && find(c.concept, code);
    if (sub) return sub;
  }
  return undefined;
}

/** ValueSet and CodeSystem resources of conformance/value-sets/ (if the folder exists). */
export function loadConformanceValueSets(dir: string | undefined): Array<Record<string, any>> {
  if (!dir || !existsSync(dir)) return [];
  const out: Array<Record<string, any>> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const items = json.resourceType === 'Bundle' ? (json.entry ?? []).map((e: any) => e.resource) : [json];
    for (const r of items) if (r?.resourceType === 'ValueSet' || r?.resourceType === 'CodeSystem') out.push(r);
  }
  return out;
}
