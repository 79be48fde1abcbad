import type { Issue } from '../errors.js';
import { definitions } from '../fhir/definitions.js';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import type { Constraint, ConstraintCompiler, ConstraintEnv } from './constraints.js';
import { children, choiceKey, countElement, isObject } from './paths.js';

/**
 * The rules of the R4 StructureDefinitions the JSON schema does not carry: `min: 1` on primitives
 * and nested elements (checked only where the parent exists) and the FHIRPath invariants. Each
 * resource type gets a plan, a tree keyed by JSON names, built on first use; a check walks only
 * the parts of the resource the plan names.
 */
interface Required {
  name: string;
  min: number;
  choiceKeys?: string[];
}

interface PlanNode {
  constraints: Constraint[];
  required: Required[];
  children: Map<string, PlanNode>;
}

interface TypeRules {
  constraints: Constraint[];
  required: Required[];
}

interface ElementDefinition {
  id?: string;
  path: string;
  min?: number;
  type?: Array<{ code: string }>;
  constraint?: Array<{ key: string; severity: string; human: string; expression?: string }>;
}

interface StructureDefinition {
  id: string;
  type: string;
  kind: string;
  snapshot: { element: ElementDefinition[] };
}

/** Data types whose rules are not applied where they appear: structural or handled elsewhere. */
const NOT_DATA_TYPES = new Set(['BackboneElement', 'Element', 'Resource', 'xhtml']);

export function createElementRules(compiler: ConstraintCompiler) {
  const plans = new Map<string, PlanNode | null>();
  let resources: Map<string, StructureDefinition> | undefined;
  let typeRules: Map<string, TypeRules> | undefined;

  function resourceDefinition(type: string): StructureDefinition | undefined {
    resources ??= indexById(definitions.resourceProfiles().entry ?? [], 'resource');
    return resources.get(type);
  }

  /** Root invariants and `min: 1` children of the data types the served resources use directly. */
  function dataTypeRules(): Map<string, TypeRules> {
    if (typeRules) return typeRules;
    const used = new Set<string>();
    for (const type of SERVED_TYPES) {
      for (const el of resourceDefinition(type)?.snapshot.element ?? []) {
        for (const t of el.type ?? []) if (/^[A-Z]/.test(t.code) && !NOT_DATA_TYPES.has(t.code)) used.add(t.code);
      }
    }
    const types = indexById(definitions.typeProfiles().entry ?? [], 'complex-type');
    typeRules = new Map();
    for (const code of [...used].sort()) {
      const sd = types.get(code);
      if (!sd) continue;
      const [root, ...rest] = sd.snapshot.element;
      const constraints = errorConstraints(root!).flatMap((c) => compiler.compile(c.key, c.human, c.expression!, code, {}) ?? []);
      const required = rest.filter((el) => el.path.split('.').length === 2 && (el.min ?? 0) >= 1).map(requiredOf);
      if (constraints.length || required.length) typeRules.set(code, { constraints, required });
    }
    return typeRules;
  }

  function build(type: string): PlanNode | null {
    const sd = resourceDefinition(type);
    if (!sd) return null;
    const typesRules = dataTypeRules();
    const root = newNode();
    for (const el of sd.snapshot.element) {
      if (el.id?.includes(':')) continue;
      const segments = el.path.split('.').slice(1);
      const name = segments.at(-1);
      if (name && (el.min ?? 0) >= 1) nodeAt(root, segments.slice(0, -1)).required.push(requiredOf(el));
      const targets = !name
        ? [{ keys: [] as string[], code: type }]
        : name.endsWith('[x]')
          ? (el.type ?? []).map((t) => ({ keys: [...segments.slice(0, -1), choiceKey(name, t.code)], code: t.code }))
          : [{ keys: segments, code: el.type?.[0]?.code ?? '' }];
      for (const target of targets) {
        const checks = errorConstraints(el).flatMap((c) => {
          const base = target.keys.length ? `${type}.${target.keys.join('.')}` : undefined;
          return compiler.compile(c.key, c.human, c.expression!, base, base ? {} : { resourceType: type }) ?? [];
        });
        const fromType = typesRules.get(target.code);
        if (!checks.length && !fromType) continue;
        const node = nodeAt(root, target.keys);
        for (const c of [...checks, ...(fromType?.constraints ?? [])]) {
          if (!node.constraints.some((existing) => existing.key === c.key)) node.constraints.push(c);
        }
        for (const r of fromType?.required ?? []) {
          if (!node.required.some((existing) => existing.name === r.name)) node.required.push(r);
        }
      }
    }
    return root;
  }

  function planFor(type: string): PlanNode | null {
    let plan = plans.get(type);
    if (plan === undefined) {
      plan = build(type);
      plans.set(type, plan);
    }
    return plan;
  }

  /** Issues of one resource; `env` gives %resource and %rootResource to the invariants. */
  function check(type: string, resource: Record<string, any>, rootExpression: string, env: ConstraintEnv): Issue[] {
    const plan = planFor(type);
    const issues: Issue[] = [];
    if (!plan) return issues;
    const visit = (node: PlanNode, value: Record<string, any>, expression: string): void => {
      for (const r of node.required) {
        const count = countElement(value, r.name, r.choiceKeys);
        if (count < r.min) issues.push(missing(`${expression}.${r.name}`, r.name, r.min, count));
      }
      for (const c of node.constraints) {
        if (compiler.violated(c, value, env)) {
          issues.push({ severity: 'error', code: 'invariant', diagnostics: `Constraint ${c.key} failed: ${c.human}`, expression: [expression] });
        }
      }
      for (const [key, child] of node.children) {
        for (const located of children({ value, expression }, key)) {
          if (isObject(located.value)) visit(child, located.value, located.expression);
        }
      }
    };
    visit(plan, resource, rootExpression);
    return issues;
  }

  return { check, prepare: (type: string) => void planFor(type) };
}

export type ElementRules = ReturnType<typeof createElementRules>;

/** The message ajv gives for a missing required element, so the two deduplicate. */
export function missing(expression: string, name: string, min: number, count: number): Issue {
  const diagnostics = min === 1 ? `Missing required element '${name}'` : `Element '${name}' needs at least ${min} values, found ${count}`;
  return { severity: 'error', code: 'required', diagnostics, expression: [expression] };
}

function newNode(): PlanNode {
  return { constraints: [], required: [], children: new Map() };
}

function nodeAt(root: PlanNode, keys: readonly string[]): PlanNode {
  let node = root;
  for (const key of keys) {
    let child = node.children.get(key);
    if (!child) {
      child = newNode();
      node.children.set(key, child);
    }
    node = child;
  }
  return node;
}

function requiredOf(el: ElementDefinition): Required {
  const name = el.path.split('.').at(-1)!;
  return name.endsWith('[x]')
    ? { name, min: el.min ?? 1, choiceKeys: (el.type ?? []).map((t) => choiceKey(name, t.code)) }
    : { name, min: el.min ?? 1 };
}

/** ele-1 (a value or children) is checked structurally, for every element, in structure.ts. */
function errorConstraints(el: ElementDefinition) {
  return (el.constraint ?? []).filter((c) => c.severity === 'error' && c.key !== 'ele-1' && c.expression);
}

function indexById(entries: Array<{ resource?: any }>, kind: string): Map<string, StructureDefinition> {
  const map = new Map<string, StructureDefinition>();
  for (const { resource } of entries) {
    if (resource?.resourceType === 'StructureDefinition' && resource.kind === kind && resource.snapshot) map.set(resource.id, resource);
  }
  return map;
}
