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
 * with every element. One walk, without recursion; a path is spelled only for the element
 * refused. Returns the number of values.
 */
export function checkSizeLimits(resource: unknown, limits: SizeLimits, root: string): number {
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
  return elements;

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

/**
 * Whether a JSON text holds more than `limit` values (object members and array items, counted as
 * checkSizeLimits counts them), read from the text without parsing it: a body far past the limit
 * (a 3.4 MB Patient of 100,000 names) is refused before JSON.parse and the walks after it, which
 * cost the event loop tens of milliseconds. Strings are skipped whole (indexOf), so long ones cost
 * little. A text shorter than twice the limit cannot hold that many (each value takes a character
 * and a separator) and is not read.
 */
export function holdsMoreValuesThan(text: string, limit: number): boolean {
  if (text.length < 2 * limit) return false;
  let values = 0;
  // After `{` or `[`: the container is empty unless a value follows before its end.
  let opened = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      if (opened) (values++, (opened = false));
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && isEscaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return false; // malformed: JSON.parse says so
      i = end;
    } else if (c === 0x2c /* , */) {
      if (++values > limit) return true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (opened) values++;
      opened = true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      opened = false;
    } else if (opened && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      values++;
      opened = false;
    }
    if (values > limit) return true;
  }
  return false;
}

/** Whether the quote at `at` is escaped: preceded by an odd number of backslashes. */
function isEscaped(text: string, at: number): boolean {
  let n = 0;
  for (let j = at - 1; j >= 0 && text.charCodeAt(j) === 0x5c; j--) n++;
  return n % 2 === 1;
}
