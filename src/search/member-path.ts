import r4 from 'fhirpath/fhir-context/r4';
import type { TypedValue } from './fhirpath.js';

/** The parts of the fhirpath.js R4 model that member navigation reads. */
export interface PathModel {
  choiceTypePaths: Record<string, string[] | undefined>;
  pathsDefinedElsewhere: Record<string, string | undefined>;
  path2Type: Record<string, string | undefined>;
  path2TypeWithoutElements: Record<string, string | undefined>;
  type2Parent: Record<string, string | undefined>;
}

/** Values of a term, or undefined when the resource has a shape only fhirpath.js may answer for. */
export type MemberPath = (resource: unknown) => TypedValue[] | undefined;

interface Node {
  data: unknown;
  /** fhirpath.js's node path: where the next member's type is looked up (`HumanName` for `Patient.name`). */
  path: string;
  /** FHIR type name as fhirpath.js gives it (`HumanName`, `date`, `System.String`). */
  type: string;
}

const NAME = '[A-Za-z][A-Za-z0-9]*';
const PATH = `([A-Z][A-Za-z0-9]*)((?:\\.${NAME})+)`;
const PLAIN = new RegExp(`^${PATH}$`);
const AS_OPERATOR = new RegExp(`^\\(\\s*${PATH}\\s+as\\s+(${NAME})\\s*\\)$`);
const AS_FUNCTION = new RegExp(`^${PATH}\\.as\\(\\s*(${NAME})\\s*\\)$`);
/** Words the FHIRPath grammar reads as operators or literals rather than member names. */
const RESERVED = new Set(['and', 'or', 'xor', 'implies', 'in', 'contains', 'div', 'mod', 'is', 'as', 'true', 'false']);

/**
 * Search parameter terms that only navigate members (`Patient.name.family`, `Observation.subject`),
 * optionally cast to a type (`(Observation.value as Quantity)`, `Condition.onset.as(Age)`), walked
 * on the JSON directly with fhirpath.js's own R4 model tables. The walk follows fhirpath.js 5.2.0's
 * member navigation (util.makeChildResNodes) and gives the same values and types; wherever
 * fhirpath.js would wrap or convert data (primitive extensions `_x`, nulls, numbers, nested
 * resources, non-object parents, paths the model does not type) it returns undefined and the caller
 * asks fhirpath.js. member-path.test.ts checks the equivalence for every served type's parameters.
 *
 * Values are the resource's own objects, where fhirpath.js gives copies: callers must not change them.
 */
export function compileMemberPath(expression: string, model: PathModel = r4 as unknown as PathModel): MemberPath | undefined {
  const m = PLAIN.exec(expression) ?? AS_OPERATOR.exec(expression) ?? AS_FUNCTION.exec(expression);
  if (!m) return undefined;
  const root = m[1]!;
  const steps = m[2]!.slice(1).split('.');
  const cast = m[3];
  if (steps.some((s) => RESERVED.has(s)) || (cast !== undefined && RESERVED.has(cast))) return undefined;

  // Per step, what a parent's path resolves to (one entry per path the step is reached from).
  const resolved = steps.map(() => new Map<string, Member[]>());
  return (resource) => {
    if (!isPlainObject(resource) || resource.resourceType !== root) return undefined;
    let nodes: Node[] = [{ data: resource, path: root, type: root }];
    for (let i = 0; i < steps.length; i++) {
      const next: Node[] = [];
      for (const node of nodes) {
        let members = resolved[i]!.get(node.path);
        if (!members) resolved[i]!.set(node.path, (members = resolve(model, node.path, steps[i]!)));
        if (!children(node.data, members, next)) return undefined;
      }
      if (next.length === 0) return [];
      nodes = next;
    }
    if (cast !== undefined) {
      // `as` needs a single value (fhirpath.js throws otherwise) and keeps it when its type is the cast type or derives from it.
      if (nodes.length > 1 || nodes[0]!.type.startsWith('System.')) return undefined;
      if (!isType(model, nodes[0]!.type, cast)) return [];
    }
    return nodes.map((n) => ({ type: n.type.replace(/^System\./, ''), value: n.data }));
  };
}

/** Where a member may be found in the JSON: its key, the key of its primitive extensions, its type and the path below it. */
interface Member {
  key: string;
  extensionKey: string;
  /** undefined when the model does not type the path: fhirpath.js then types the value by itself. */
  type: string | undefined;
  path: string;
}

/** The keys member `name` of a node at `parentPath` may have: one, or one per type of a choice element, in the model's order. */
function resolve(model: PathModel, parentPath: string, name: string): Member[] {
  let path = `${parentPath}.${name}`;
  path = model.pathsDefinedElsewhere[path] ?? path;
  const member = (key: string, p: string): Member => ({ key, extensionKey: `_${key}`, type: model.path2Type[p], path: model.path2TypeWithoutElements[p] ?? p });
  const choices = model.choiceTypePaths[path];
  if (choices) return choices.map((t) => member(name + t, path + t));
  return [member(name, name === 'extension' ? 'Extension' : path)];
}

/** Appends the children of `data` found at one of `members` (the first present, as in fhirpath.js); false when fhirpath.js must decide. */
function children(data: unknown, members: Member[], out: Node[]): boolean {
  if (!isPlainObject(data)) return false;
  for (const m of members) {
    const value = data[m.key];
    if (data[m.extensionKey] !== undefined) return false;
    if (value === undefined) continue;
    if (value === null) return true;
    if (m.type === undefined || m.type === 'integer64') return false;
    if (Array.isArray(value)) {
      for (const item of value) {
        if (!isPlainValue(item)) return false;
        out.push({ data: item, path: m.path, type: m.type });
      }
    } else {
      if (!isPlainValue(value)) return false;
      out.push({ data: value, path: m.path, type: m.type });
    }
    return true;
  }
  return true;
}

/** A value fhirpath.js keeps as it is: a string, a boolean or a JSON object that is not a resource. */
function isPlainValue(v: unknown): boolean {
  if (typeof v === 'string' || typeof v === 'boolean') return true;
  return isPlainObject(v) && !v.resourceType;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isType(model: PathModel, type: string | undefined, target: string): boolean {
  for (; type !== undefined; type = model.type2Parent[type]) if (type === target) return true;
  return false;
}
