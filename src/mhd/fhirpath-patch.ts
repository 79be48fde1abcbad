import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { fhirError, type FhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import { elementOf, type ElementInfo } from './schema-elements.js';

/**
 * FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource whose `operation`
 * parameters each add, insert, delete, replace or move one element. fhirpath.js finds the
 * elements; each found node knows its property name and index in its parent, which gives the JSON
 * location to change. Operations apply in order to a copy; the original is never touched.
 */

interface Part {
  name?: string;
  part?: Part[];
  resource?: unknown;
  [key: string]: unknown;
}

interface PatchValue {
  value: unknown;
  /** The FHIR type suffix of value[x] (`Code` for valueCode), for choice elements. */
  suffix?: string;
  /** Parts of a complex value, built once the target element's type is known. */
  parts?: Part[];
}

interface Operation {
  type: string;
  path: string;
  name?: string;
  value?: PatchValue;
  index?: number;
  source?: number;
  destination?: number;
  /** Parameters.parameter[n], for messages. */
  where: string;
}

/** One step from a parent to a child in the resource JSON. */
interface Step {
  key: string;
  index: number | null;
}

interface Node {
  data: unknown;
  propName: string | null;
  index: number | null;
  fhirNodeDataType: string | null;
  parentResNode: Node | null;
}

const TYPES = new Set(['add', 'insert', 'delete', 'replace', 'move']);

/** Whether a PATCH body is a FHIRPath Patch rather than a JSON Patch. */
export function isFhirPathPatch(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { resourceType?: unknown }).resourceType === 'Parameters';
}

export function applyFhirPathPatch(resource: Resource, body: unknown): Resource {
  const ops = parseOperations(body);
  let doc = structuredClone(resource) as Record<string, any>;
  for (const op of ops) doc = applyOperation(doc, op);
  return doc as Resource;
}

function invalid(message: string, where: string): FhirError {
  return fhirError('invalid-resource', `FHIRPath Patch ${where}: ${message}`, where);
}

function parseOperations(body: unknown): Operation[] {
  if (!isFhirPathPatch(body)) throw fhirError('bad-request', 'A FHIRPath Patch body must be a Parameters resource');
  const params = (body as { parameter?: Part[] }).parameter;
  if (!Array.isArray(params) || params.length === 0) throw fhirError('bad-request', 'A FHIRPath Patch needs at least one operation parameter', 'Parameters.parameter');
  return params.map((p, i) => {
    const where = `Parameters.parameter[${i}]`;
    if (p?.name !== 'operation' || !Array.isArray(p.part)) throw invalid("each parameter must be named 'operation' and have parts", where);
    const part = (name: string) => p.part!.find((x) => x?.name === name);
    const type = part('type')?.valueCode;
    const path = part('path')?.valueString;
    if (typeof type !== 'string' || !TYPES.has(type)) throw invalid(`type must be one of ${[...TYPES].join(', ')}, got ${JSON.stringify(type)}`, `${where}.part('type')`);
    if (typeof path !== 'string' || path.trim() === '') throw invalid('path is required', `${where}.part('path')`);
    const int = (name: string) => {
      const v = part(name)?.valueInteger;
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) throw invalid(`${name} must be a non-negative integer`, `${where}.part('${name}')`);
      return v as number | undefined;
    };
    const name = part('name')?.valueString;
    const valuePart = part('value');
    const op: Operation = { type, path, where, index: int('index'), source: int('source'), destination: int('destination') };
    if (typeof name === 'string') op.name = name;
    if (valuePart) op.value = patchValue(valuePart);
    const need = (cond: boolean, what: string) => {
      if (!cond) throw invalid(`a ${type} operation needs ${what}`, where);
    };
    if (type === 'add') need(op.name !== undefined && op.value !== undefined, 'name and value');
    if (type === 'insert') need(op.index !== undefined && op.value !== undefined, 'index and value');
    if (type === 'replace') need(op.value !== undefined, 'value');
    if (type === 'move') need(op.source !== undefined && op.destination !== undefined, 'source and destination');
    return op;
  });
}

function patchValue(part: Part): PatchValue {
  if (part.resource !== undefined) return { value: part.resource };
  if (Array.isArray(part.part)) return { value: undefined, parts: part.part };
  const key = Object.keys(part).find((k) => /^value[A-Z]/.test(k));
  if (!key) return { value: undefined };
  return { value: part[key], suffix: key.slice('value'.length) };
}

/** The steps from the root to a node found by fhirpath.js. */
function stepsOf(node: Node): Step[] {
  const steps: Step[] = [];
  for (let n: Node | null = node; n?.parentResNode; n = n.parentResNode) {
    steps.unshift({ key: jsonKey(n), index: n.index });
  }
  return steps;
}

/** A choice element's node is named `value`; its JSON key is `valueBoolean`. */
function jsonKey(n: Node): string {
  const name = n.propName ?? '';
  const parent = n.parentResNode!.data as Record<string, unknown> | null;
  if (parent && typeof parent === 'object' && Object.hasOwn(parent, name)) return name;
  const type = n.fhirNodeDataType ?? '';
  const typed = name + type.charAt(0).toUpperCase() + type.slice(1);
  if (parent && typeof parent === 'object' && Object.hasOwn(parent, typed)) return typed;
  const found = parent && Object.keys(parent).find((k) => k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length)));
  return found || name;
}

function select(doc: Record<string, any>, path: string, where: string): Node[] {
  try {
    return fhirpath.evaluate(doc, path, undefined, r4, { resolveInternalTypes: false }) as unknown as Node[];
  } catch (e) {
    throw invalid(`path '${path}' is not a FHIRPath expression this server can evaluate: ${(e as Error).message.split('\n')[0]}`, `${where}.part('path')`);
  }
}

/** The one element a path must designate, as the object holding it and its key (and index). */
function locateOne(doc: Record<string, any>, op: Operation): { holder: any; key: string; index: number | null; steps: Step[] } | undefined {
  const nodes = select(doc, op.path, op.where).filter((n) => n && typeof n === 'object' && 'parentResNode' in n);
  if (nodes.length === 0) return undefined;
  if (nodes.length > 1) throw invalid(`path '${op.path}' designates ${nodes.length} elements; a ${op.type} needs exactly one`, `${op.where}.part('path')`);
  const steps = stepsOf(nodes[0]);
  if (steps.length === 0) throw invalid(`path '${op.path}' designates the resource itself`, `${op.where}.part('path')`);
  const holder = walk(doc, steps.slice(0, -1));
  const last = steps.at(-1)!;
  return { holder, key: last.key, index: last.index, steps };
}

function walk(doc: Record<string, any>, steps: Step[]): any {
  let at: any = doc;
  for (const s of steps) {
    at = at[s.key];
    if (s.index !== null) at = at[s.index];
  }
  return at;
}

/** A list element named by the path's last segment, for insert and move: `a.b.list`. */
function locateList(doc: Record<string, any>, op: Operation): { holder: Record<string, any>; key: string; steps: Step[] } {
  const m = /^(.+)\.([A-Za-z][A-Za-z0-9]*)$/.exec(op.path.trim());
  if (!m) throw invalid(`${op.type} needs a path ending in the list element's name, got '${op.path}'`, `${op.where}.part('path')`);
  const parents = select(doc, m[1], op.where);
  if (parents.length !== 1) throw invalid(`'${m[1]}' designates ${parents.length} elements; a ${op.type} needs exactly one`, `${op.where}.part('path')`);
  const steps = stepsOf(parents[0]);
  const holder = walk(doc, steps);
  if (holder === null || typeof holder !== 'object') throw invalid(`'${m[1]}' is not an element with children`, `${op.where}.part('path')`);
  return { holder, key: m[2], steps };
}

function applyOperation(doc: Record<string, any>, op: Operation): Record<string, any> {
  switch (op.type) {
    case 'replace': {
      const at = locateOne(doc, op);
      if (!at) throw invalid(`path '${op.path}' designates no element to replace`, `${op.where}.part('path')`);
      const info = elementOf(doc, at.steps.slice(0, -1), at.key, op.value?.suffix);
      const value = build(op, info);
      if (at.index !== null) at.holder[at.key][at.index] = value;
      else if (info && info.key !== at.key) {
        delete at.holder[at.key];
        at.holder[info.key] = value;
      } else at.holder[at.key] = value;
      return doc;
    }
    case 'delete': {
      const at = locateOne(doc, op);
      if (!at) return doc; // fhirpatch.html: deleting nothing is not an error
      if (at.index !== null) {
        at.holder[at.key].splice(at.index, 1);
        if (at.holder[at.key].length === 0) delete at.holder[at.key];
      } else delete at.holder[at.key];
      return doc;
    }
    case 'add': {
      const nodes = select(doc, op.path, op.where);
      if (nodes.length !== 1) throw invalid(`path '${op.path}' designates ${nodes.length} elements; an add needs exactly one`, `${op.where}.part('path')`);
      const steps = stepsOf(nodes[0]);
      const container = walk(doc, steps);
      if (container === null || typeof container !== 'object') throw invalid(`'${op.path}' is a primitive; add needs an element with children`, `${op.where}.part('path')`);
      const info = elementOf(doc, steps, op.name!, op.value?.suffix);
      if (!info) throw invalid(`'${op.name}' is not an element of '${op.path}'`, `${op.where}.part('name')`);
      const value = build(op, info);
      if (info.array) (container[info.key] ??= []).push(value);
      else if (container[info.key] !== undefined) throw invalid(`'${op.path}.${op.name}' already has a value; use replace`, `${op.where}.part('name')`);
      else container[info.key] = value;
      return doc;
    }
    case 'insert': {
      const at = locateList(doc, op);
      const info = elementOf(doc, at.steps, at.key, op.value?.suffix);
      if (info && !info.array) throw invalid(`'${op.path}' is not a list`, `${op.where}.part('path')`);
      const list: unknown[] = (at.holder[at.key] ??= []);
      if (op.index! > list.length) throw invalid(`index ${op.index} is past the end of the list (${list.length} items)`, `${op.where}.part('index')`);
      list.splice(op.index!, 0, build(op, info));
      return doc;
    }
    case 'move': {
      const at = locateList(doc, op);
      const list = at.holder[at.key];
      if (!Array.isArray(list)) throw invalid(`'${op.path}' is not a list`, `${op.where}.part('path')`);
      if (op.source! >= list.length || op.destination! >= list.length) throw invalid(`source and destination must be below ${list.length}`, op.where);
      const [item] = list.splice(op.source!, 1);
      list.splice(op.destination!, 0, item);
      return doc;
    }
    default:
      throw invalid(`operation type ${op.type} is not supported`, op.where);
  }
}

/** The JSON value an operation writes: value[x] as is, or a complex value built from its parts. */
function build(op: Operation, info: ElementInfo | undefined): unknown {
  const v = op.value!;
  if (!v.parts) {
    if (v.value === undefined) throw invalid('the value part has no value[x]', `${op.where}.part('value')`);
    return v.value;
  }
  if (!info?.type) throw invalid('a value given as parts needs a target element of known type', `${op.where}.part('value')`);
  return fromParts(v.parts, info.type, `${op.where}.part('value')`);
}

function fromParts(parts: Part[], type: string, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of parts) {
    if (typeof p?.name !== 'string') throw invalid('each part of a complex value needs a name', where);
    const v = patchValue(p);
    const info = elementOf(undefined, [], p.name, v.suffix, type);
    if (!info) throw invalid(`'${p.name}' is not an element of ${type}`, `${where}.part('${p.name}')`);
    const value = v.parts ? (info.type ? fromParts(v.parts, info.type, `${where}.part('${p.name}')`) : undefined) : v.value;
    if (value === undefined) throw invalid(`part '${p.name}' has no value`, `${where}.part('${p.name}')`);
    if (info.array) ((out[info.key] ??= []) as unknown[]).push(value);
    else out[info.key] = value;
  }
  return out;
}
