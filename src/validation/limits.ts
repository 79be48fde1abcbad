import { fhirError } from '../errors.js';

export interface SizeLimits {
  /** Longest string, in UTF-16 code units (JavaScript's length). */
  maxStringLength: number;
  /** Most items in any one array. */
  maxArrayItems: number;
  /** Most values (objects, array items, strings, numbers, booleans) in the whole resource. */
  maxElements: number;
}

/**
 * base64Binary elements: their size is bounded by the Binary limit (CARNET_BINARY_LIMIT), and their
 * content goes to the blob store rather than to validation and the indexes.
 */
const BASE64_KEYS = new Set(['data', 'valueBase64Binary']);

/**
 * Refuses (413) a resource holding a string or an array larger than the limits, or more values in
 * all than the limit (arrays within arrays multiply: 1,000 names of 1,000 given names each), before
 * anything costly is done with it: validation, index extraction and the indexes themselves grow
 * with every element, and run without yielding. One walk, without recursion; a path is spelled
 * only for the element refused.
 */
export function checkSizeLimits(resource: unknown, limits: SizeLimits, root: string): void {
  const stack: Array<{ value: unknown; parent: number; step: string }> = [{ value: resource, parent: -1, step: root }];
  const path = (at: number, step: string): string => {
    const steps = [step];
    for (let i = at; i >= 0; i = stack[i].parent) steps.push(stack[i].step);
    return steps.reverse().join('');
  };
  // `stack` keeps every node visited (the path's ancestors), `todo` the indices left to visit.
  const todo = [0];
  let elements = 0;
  while (todo.length > 0) {
    const at = todo.pop()!;
    const value = stack[at].value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visit(value[i], at, `[${i}]`, false);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) visit(child, at, `.${key}`, BASE64_KEYS.has(key));
    }
  }

  function visit(child: unknown, parent: number, step: string, base64: boolean): void {
    if (++elements > limits.maxElements) {
      throw fhirError('too-large', `${root} holds more than ${limits.maxElements} values; this server takes at most that many in one resource`, path(parent, step));
    }
    if (typeof child === 'string') {
      if (!base64 && child.length > limits.maxStringLength) {
        throw fhirError('too-large', `${path(parent, step)} is a string of ${child.length} characters; this server takes at most ${limits.maxStringLength}`, path(parent, step));
      }
      return;
    }
    if (child === null || typeof child !== 'object') return;
    if (Array.isArray(child) && child.length > limits.maxArrayItems) {
      throw fhirError('too-large', `${path(parent, step)} has ${child.length} items; this server takes at most ${limits.maxArrayItems} in one array`, path(parent, step));
    }
    stack.push({ value: child, parent, step });
    todo.push(stack.length - 1);
  }
}
