import type { Issue } from '../errors.js';
import { isObject } from './paths.js';

const MAX_DEPTH = 64;
const NARRATIVE_LINK = /\s(?:src|href)\s*=\s*["']#([^"']+)["']/g;
const REF_1 = 'Constraint ref-1 failed: SHALL have a contained resource if a local reference is provided';

/**
 * Contained resources and local references (`#id`), checked over one resource with its contained
 * ones (http://hl7.org/fhir/R4/references.html#contained): each contained resource has an id and
 * is referred to from the resource (dom-3: a string `#id` anywhere, or it refers to its container
 * with `#`), and each local reference names a contained resource. Resources a Bundle or
 * Parameters holds are checked on their own.
 */
export function localReferenceIssues(resource: Record<string, any>, expression: string): Issue[] {
  const issues: Issue[] = [];
  const contained: unknown[] = Array.isArray(resource.contained) ? resource.contained : [];
  const ids = new Set<string>();
  contained.forEach((c, i) => {
    if (!isObject(c) || typeof c.resourceType !== 'string') return;
    if (typeof c.id !== 'string' || c.id === '') {
      issues.push(issue(`${expression}.contained[${i}]`, 'A contained resource needs an id, by which the resource refers to it (dom-3)'));
    } else ids.add(c.id);
  });
  const holdsResources = resource.resourceType === 'Bundle' || resource.resourceType === 'Parameters';
  const strings = new Set<string>();
  const references: Array<{ value: string; at: string }> = [];
  // The path is kept as a stack and written out only for a reference found: most elements have none.
  const path: Array<string | number> = [];
  const here = () => expression + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
  const walk = (node: unknown, depth: number, top: boolean): void => {
    if (depth > MAX_DEPTH) return;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        walk(node[i], depth + 1, top);
        path.pop();
      }
      return;
    }
    if (!isObject(node)) return;
    for (const key in node) {
      if (top && holdsResources && (key === 'resource' || key === 'outcome')) continue;
      const value = node[key];
      if (typeof value === 'string') {
        // A narrative's images and links refer to contained resources too (the HL7 validator counts them for dom-3).
        if (key === 'div') for (const m of value.matchAll(NARRATIVE_LINK)) strings.add(`#${m[1]}`);
        if (value.startsWith('#')) {
          strings.add(value);
          if (key === 'reference') references.push({ value, at: here() });
        }
      } else if (typeof value === 'object' && value !== null) {
        path.push(key);
        walk(value, depth + 1, top && key !== 'contained');
        path.pop();
      }
    }
  };
  walk(resource, 0, true);
  for (const { value, at } of references) {
    if (value !== '#' && !ids.has(value.slice(1))) {
      // Worded as ref-1, which the invariants check on the Reference elements a resource has directly: one issue, not two.
      issues.push({ ...issue(at, REF_1), code: 'invariant' });
    }
  }
  contained.forEach((c, i) => {
    if (!isObject(c) || typeof c.id !== 'string' || c.id === '' || strings.has(`#${c.id}`)) return;
    if (refersToContainer(c)) return;
    issues.push(issue(`${expression}.contained[${i}]`, `Contained resource '${c.id}' is not referred to from the resource (dom-3): refer to it as '#${c.id}'`));
  });
  return issues;
}

function refersToContainer(node: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(node)) return node.some((item) => refersToContainer(item, depth + 1));
  if (!isObject(node)) return false;
  return Object.values(node).some((v) => v === '#' || (typeof v === 'object' && refersToContainer(v, depth + 1)));
}

function issue(expression: string, diagnostics: string): Issue {
  return { severity: 'error', code: 'invalid', diagnostics, expression: [expression] };
}
