import r4 from 'fhirpath/fhir-context/r4';

/** Decides on the JSON that an invariant holds, for its usual shapes; undefined means: ask fhirpath.js. */
export type Shortcut = (node: Record<string, unknown>) => true | undefined;

interface Model {
  choiceTypePaths: Record<string, string[] | undefined>;
  pathsDefinedElsewhere: Record<string, string | undefined>;
  path2Type: Record<string, string | undefined>;
}

const model = r4 as unknown as Model;

const NAME = '([a-z][A-Za-z0-9]*)';
const ABSENT = `${NAME}\\.(?:empty\\(\\)|hasValue\\(\\)\\.not\\(\\))`;
const PRESENT = `${NAME}\\.exists\\(\\)`;

/**
 * The shapes of the R4 invariants on data types (and a few elements) that appear on almost every
 * resource: qty-3, att-1, cpt-2 (`a.empty() or b.exists()`), exp-1, ext-1 (`a.exists() != b.exists()`),
 * per-1 and rng-2 (held when either bound is absent), ref-1 (held without a reference or with one that
 * is not `#...`).
 * Each cost one fhirpath.js evaluation (about 10 us) per element. Only "holds" is decided here; a
 * possible violation, and any shape not listed, goes to fhirpath.js, which words the issue.
 * shortcuts.test.ts checks each against fhirpath.js on random elements.
 */
const SHAPES: Array<{ re: RegExp; holds: (has: (name: string) => boolean, names: string[], node: Record<string, unknown>) => boolean }> = [
  { re: new RegExp(`^${ABSENT} or ${PRESENT}$`), holds: (has, [a, b]) => !has(a!) || has(b!) },
  { re: new RegExp(`^${ABSENT} or ${ABSENT}$`), holds: (has, [a, b]) => !has(a!) || !has(b!) },
  { re: new RegExp(`^${PRESENT} or ${PRESENT}$`), holds: (has, [a, b]) => has(a!) || has(b!) },
  { re: new RegExp(`^${PRESENT} != ${PRESENT}$`), holds: (has, [a, b]) => has(a!) !== has(b!) },
  // The comparison is only reached when both bounds are there.
  { re: new RegExp(`^${ABSENT} or ${ABSENT} or \\(\\1 <= \\2\\)$`), holds: (has, [a, b]) => !has(a!) || !has(b!) },
  {
    re: /^(reference)\.startsWith\('#'\)\.not\(\) or \(reference\.substring\(1\)\.trace\('url'\) in %rootResource\.contained\.id\.trace\('ids'\)\)$/,
    holds: (has, _names, node) =>
      node._reference === undefined && (typeof node.reference === 'string' ? !node.reference.startsWith('#') : !has('reference')),
  },
];

/** The shortcut of an invariant written against `base` (a data type or an element path), if its shape is known. */
export function shortcutFor(expression: string, base: string | undefined): Shortcut | undefined {
  if (!base) return undefined;
  for (const shape of SHAPES) {
    const m = shape.re.exec(expression);
    if (!m) continue;
    const names = m.slice(1);
    const members = names.map((name) => membersOf(base, name));
    if (members.some((k) => k === undefined)) return undefined;
    const byName = new Map(names.map((name, i) => [name, members[i]!]));
    return (node) => {
      const found = new Map<string, boolean>();
      for (const [name, keys] of byName) {
        const e = exists(node, keys);
        if (e === undefined) return undefined;
        found.set(name, e);
      }
      return shape.holds((name) => found.get(name)!, names, node) ? true : undefined;
    };
  }
  return undefined;
}

/** The JSON keys element `name` of `base` takes: itself, or one per choice type in fhirpath.js's order. */
function membersOf(base: string, name: string): string[] | undefined {
  let path = `${base}.${name}`;
  path = model.pathsDefinedElsewhere[path] ?? path;
  const choices = model.choiceTypePaths[path];
  if (choices) return choices.map((t) => name + t);
  return model.path2Type[path] === undefined ? undefined : [name];
}

/**
 * Whether fhirpath.js finds the element on `node` (util.makeChildResNodes): the first of its keys
 * present as itself or as `_key` decides. undefined for an array beside its `_key`, whose count
 * fhirpath.js takes from both.
 */
function exists(node: Record<string, unknown>, keys: string[]): boolean | undefined {
  for (const key of keys) {
    const value = node[key];
    const extension = node[`_${key}`];
    if (value === undefined && extension === undefined) continue;
    if (Array.isArray(value)) return extension === undefined || extension === null ? value.length > 0 : undefined;
    if (value !== undefined && value !== null) return true;
    if (Array.isArray(extension)) return extension.length > 0;
    return extension !== undefined && extension !== null;
  }
  return false;
}
