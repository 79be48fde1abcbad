/** A JSON value inside a resource, with its FHIRPath-like expression (`Patient.contact[0]`). */
export interface Located {
  value: any;
  expression: string;
}

/** The values of element `key` under `parent`; a repeating element yields one entry per item. */
export function children(parent: Located, key: string): Located[] {
  const value = parent.value?.[key];
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    const out: Located[] = [];
    value.forEach((item, i) => {
      if (item !== null) out.push({ value: item, expression: `${parent.expression}.${key}[${i}]` });
    });
    return out;
  }
  return [{ value, expression: `${parent.expression}.${key}` }];
}

/** The objects reached from `from` through `keys` (e.g. content, attachment), arrays flattened. */
export function descend(from: Located, keys: readonly string[]): Located[] {
  let level = [from];
  for (const key of keys) {
    const next: Located[] = [];
    for (const node of level) for (const child of children(node, key)) if (isObject(child.value)) next.push(child);
    level = next;
    if (level.length === 0) break;
  }
  return level;
}

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How many values element `name` has in `node`. A primitive counts when present as `name` or only
 * as `_name` (an extension, e.g. data-absent-reason). `value[x]` counts any of its JSON names,
 * `choiceKeys` when the types are known, else any `valueXxx` key.
 */
export function countElement(node: Record<string, any>, name: string, choiceKeys?: readonly string[]): number {
  if (!name.endsWith('[x]')) return countKey(node, name);
  const prefix = name.slice(0, -3);
  const keys = choiceKeys ?? Object.keys(node).filter((k) => isChoiceKey(k, prefix));
  let n = 0;
  for (const key of keys) n += countKey(node, key);
  return n;
}

/** The JSON names a choice element takes in `node` (`valueQuantity`, ...). */
export function choiceKeysIn(node: Record<string, any>, prefix: string): string[] {
  return Object.keys(node).filter((k) => isChoiceKey(k, prefix));
}

function isChoiceKey(key: string, prefix: string): boolean {
  return key.length > prefix.length && key.startsWith(prefix) && /[A-Z]/.test(key[prefix.length]!);
}

function countKey(node: Record<string, any>, key: string): number {
  return Math.max(size(node[key]), size(node[`_${key}`]));
}

function size(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return Array.isArray(value) ? value.length : 1;
}

/** `valueQuantity` for choice `value[x]` and type `Quantity`. */
export function choiceKey(name: string, typeCode: string): string {
  return name.slice(0, -3) + typeCode[0]!.toUpperCase() + typeCode.slice(1);
}
