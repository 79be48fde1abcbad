import type { Issue } from '../errors.js';
import { isMediaType } from './media-type.js';
import { isObject } from './paths.js';

/** A resource inside another one, validated on its own with its expression as prefix. */
/** FHIR R4 resources nest a dozen levels at most; this only bounds recursion on hostile input. */
const MAX_DEPTH = 64;

export interface Embedded {
  resource: Record<string, any>;
  expression: string;
  /** Contained resources share the container's %rootResource; Bundle entries do not. */
  contained: boolean;
}

/**
 * One pass over the JSON for the rules the schema cannot express: no empty objects or arrays
 * (ele-1, http://hl7.org/fhir/R4/json.html), nulls in primitive arrays only where the `_name`
 * twin has a value, media types in `contentType`, and the embedded resources to validate separately.
 */
export function walkStructure(resource: Record<string, any>, rootExpression: string): { issues: Issue[]; embedded: Embedded[] } {
  const issues: Issue[] = [];
  const embedded: Embedded[] = [];
  const holdsResources = resource.resourceType === 'Bundle' || resource.resourceType === 'Parameters';

  const walk = (node: Record<string, any>, expression: string, depth: number): void => {
    if (depth > MAX_DEPTH) {
      issues.push(structure(expression, `Elements nested deeper than ${MAX_DEPTH} levels`));
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      const at = `${expression}.${key}`;
      if (key === 'contained' || (holdsResources && (key === 'resource' || key === 'outcome'))) {
        for (const [item, itemAt] of items(value, at)) {
          if (isObject(item) && typeof item.resourceType === 'string') {
            embedded.push({ resource: item, expression: itemAt, contained: key === 'contained' });
          }
        }
        continue;
      }
      if (Array.isArray(value)) {
        if (value.length === 0) issues.push(structure(at, `Element '${key}' is an empty array: omit it instead`));
        checkNulls(node, key, value, expression, issues);
        value.forEach((item, i) => {
          if (isObject(item)) visitObject(item, `${at}[${i}]`, key, depth);
          else if (item === '') issues.push(emptyString(`${at}[${i}]`, key));
        });
      } else if (isObject(value)) {
        visitObject(value, at, key, depth);
      } else if (value === '') {
        issues.push(emptyString(at, key));
      } else if (key === 'contentType' && typeof value === 'string' && !isMediaType(value)) {
        // Every R4 element named contentType (Attachment, Binary, TestScript) holds a MIME type.
        issues.push({ severity: 'error', code: 'value', diagnostics: `Element 'contentType' is not a media type (type/subtype, RFC 9110): ${JSON.stringify(value.slice(0, 100))}`, expression: [at] });
      }
    }
  };

  const visitObject = (value: Record<string, any>, at: string, key: string, depth: number): void => {
    const keys = Object.keys(value);
    if (keys.length === 0 || (keys.length === 1 && keys[0] === 'id')) {
      issues.push(structure(at, `Element '${key}' has neither a value nor children (ele-1)`));
      return;
    }
    walk(value, at, depth + 1);
  };

  walk(resource, rootExpression, 0);
  return { issues, embedded };
}

function items(value: unknown, at: string): Array<[unknown, string]> {
  return Array.isArray(value) ? value.map((v, i) => [v, `${at}[${i}]`]) : [[value, at]];
}

/** `given: [null, "B"]` is valid only with `_given: [{...}, ...]` carrying the first value. */
function checkNulls(node: Record<string, any>, key: string, value: unknown[], expression: string, issues: Issue[]): void {
  const twinKey = key.startsWith('_') ? key.slice(1) : `_${key}`;
  const twin = node[twinKey];
  value.forEach((item, i) => {
    if (item !== null) return;
    const other = Array.isArray(twin) ? twin[i] : undefined;
    if (other === undefined || other === null) {
      const name = key.startsWith('_') ? key.slice(1) : key;
      issues.push(structure(`${expression}.${name}[${i}]`, `Element '${name}' has a null at index ${i} with nothing in '${twinKey}' at that index`));
    }
  });
}

/** Same text as the schema's pattern error on '' (ajv-issues.ts), so the two deduplicate. */
export function emptyString(expression: string, name: string): Issue {
  return { severity: 'error', code: 'value', diagnostics: `Element '${name}' is an empty string: omit it instead`, expression: [expression] };
}

function structure(expression: string, diagnostics: string): Issue {
  return { severity: 'error', code: 'structure', diagnostics, expression: [expression] };
}
