import { randomBytes } from 'node:crypto';

/**
 * FHIR decimals keep their precision (http://hl7.org/fhir/R4/json.html#primitive: `1.0` is not
 * `1`), but JavaScript numbers do not, and Node 20's JSON.parse gives no access to a number's
 * source text. So a request body is parsed as usual (everything inside carnet, search included,
 * sees plain numbers) and the text of each number that JSON.stringify would write differently
 * (`1.0`, `1E-22`, `66.899999999999991`) is kept in its resource's meta, as the Binary blob is:
 * a meta.extension that both engines store like any other element. Answers are written with
 * those texts spliced back and the extension removed.
 */
export const DECIMALS_EXTENSION = 'urn:carnet:fhir:decimal-text';

type Path = Array<string | number>;
type Json = Record<string, any>;

/** The JSON number tokens, strings skipped (written as an unrolled loop so long strings cost little). */
const STRING_OR_NUMBER = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function needsText(token: string): boolean {
  return String(Number(token)) !== token;
}

/**
 * Records, in the resources of a freshly parsed body, the source text of their numbers that
 * would not be written back as sent; removes any such record a client sent itself.
 */
export function keepDecimalText(text: string, value: unknown): void {
  if (text.includes(DECIMALS_EXTENSION)) forEachResource(value, (r) => setMarker(r, undefined));
  if (!hasInexactNumber(text)) return;
  const byResource = new Map<Json, Array<[Path, string]>>();
  for (const [path, token] of inexactNumbers(text)) {
    const owner = ownerOf(value, path);
    if (!owner) continue;
    let list = byResource.get(owner.resource);
    if (!list) byResource.set(owner.resource, (list = []));
    list.push([path.slice(owner.depth), token]);
  }
  for (const [resource, list] of byResource) setMarker(resource, JSON.stringify(list));
}

function hasInexactNumber(text: string): boolean {
  STRING_OR_NUMBER.lastIndex = 0;
  for (let m = STRING_OR_NUMBER.exec(text); m; m = STRING_OR_NUMBER.exec(text)) {
    if (m[0][0] !== '"' && needsText(m[0])) return true;
  }
  return false;
}

/** Numbers needing their text, with their paths: a walk of the JSON text that follows keys and indexes. */
function* inexactNumbers(text: string): Generator<[Path, string]> {
  const TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[{}[\],:]|true|false|null/g;
  const path: Path = [];
  /** For each open container: an object (awaiting a key or a value) or an array (its next index). */
  const open: Array<{ array: boolean; index: number; key?: string; expectKey: boolean }> = [];
  const valueDone = () => {
    const top = open.at(-1);
    if (top) path.pop();
  };
  const valueStarts = () => {
    const top = open.at(-1);
    if (!top) return;
    path.push(top.array ? top.index++ : top.key!);
  };
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    const t = m[0];
    const top = open.at(-1);
    if (t === ',' || t === ':') {
      if (t === ',' && top && !top.array) top.expectKey = true;
      continue;
    }
    if (top && !top.array && top.expectKey) {
      if (t === '}') {
        open.pop();
        valueDone();
        continue;
      }
      top.key = t.includes('\\') ? (JSON.parse(t) as string) : t.slice(1, -1);
      top.expectKey = false;
      continue;
    }
    if (t === '}' || t === ']') {
      open.pop();
      valueDone();
      continue;
    }
    valueStarts();
    if (t === '{' || t === '[') {
      open.push({ array: t === '[', index: 0, expectKey: t === '{' });
      continue;
    }
    if (t[0] !== '"' && t !== 'true' && t !== 'false' && t !== 'null' && needsText(t)) yield [[...path], t];
    valueDone();
  }
}

const isResource = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Json).resourceType === 'string';

/** The resource a path belongs to: the innermost one on it, contained resources belonging to their container. */
function ownerOf(root: unknown, path: Path): { resource: Json; depth: number } | undefined {
  let owner = isResource(root) ? { resource: root, depth: 0 } : undefined;
  let node: any = root;
  for (let i = 0; i < path.length - 1; i++) {
    node = node?.[path[i]!];
    if (isResource(node) && path[i - 1] !== 'contained') owner = { resource: node, depth: i + 1 };
  }
  return owner;
}

function forEachResource(value: unknown, fn: (r: Json) => void, depth = 0): void {
  if (depth > 64 || typeof value !== 'object' || value === null) return;
  if (isResource(value)) fn(value);
  for (const child of Object.values(value)) forEachResource(child, fn, depth + 1);
}

function setMarker(resource: Json, texts: string | undefined): void {
  const meta = resource.meta;
  if (texts === undefined && markerOf(resource) === undefined) return;
  const others = Array.isArray(meta?.extension) ? meta.extension.filter((e: Json) => e?.url !== DECIMALS_EXTENSION) : [];
  if (texts !== undefined) others.push({ url: DECIMALS_EXTENSION, valueString: texts });
  if (others.length) resource.meta = { ...(meta ?? {}), extension: others };
  else if (meta && 'extension' in meta) {
    const { extension: _e, ...rest } = meta;
    if (Object.keys(rest).length) resource.meta = rest;
    else delete resource.meta;
  }
}

/** Placeholders for spliced numbers: random, so no client string can pass for one. */
const PLACEHOLDER = `carnet-decimal-${randomBytes(16).toString('hex')}-`;
const PLACEHOLDERS = new RegExp(`"${PLACEHOLDER}(\\d+)"`, 'g');

/**
 * JSON text of an answer: the resources it carries (the body, a Bundle's entries) written with
 * the numbers' source texts and without the internal extension. A text is used only where the
 * number at its path still has that value (a patch or a subset may have changed the resource).
 */
export function stringifyWithDecimals(body: unknown, indent?: number): string {
  const texts: string[] = [];
  const out = withPlaceholders(body, texts, 0);
  const json = JSON.stringify(out, null, indent);
  return texts.length ? json.replace(PLACEHOLDERS, (_, i: string) => texts[Number(i)]!) : json;
}

function withPlaceholders(value: unknown, texts: string[], depth: number): unknown {
  if (!isResource(value) || depth > 8) return value;
  let out: Json = value;
  const marker = markerOf(value);
  if (marker !== undefined) {
    out = { ...value };
    setMarker(out, undefined);
    for (const [path, text] of parseMarker(marker)) out = replaceAt(out, path, 0, text, texts) as Json;
  }
  if (value.resourceType === 'Bundle' && Array.isArray(value.entry)) {
    // Search pages are the common answer: no copy unless an entry has texts to splice.
    let entries: unknown[] | undefined;
    value.entry.forEach((e: unknown, i: number) => {
      const resource = (e as Json | null)?.resource;
      const replaced = withPlaceholders(resource, texts, depth + 1);
      if (replaced === resource) return;
      entries ??= [...value.entry];
      entries[i] = { ...(e as Json), resource: replaced };
    });
    if (entries) out = { ...out, entry: entries };
  }
  return out;
}

function markerOf(resource: Json): string | undefined {
  const ext = resource.meta?.extension;
  if (!Array.isArray(ext)) return undefined;
  for (const e of ext) if (e?.url === DECIMALS_EXTENSION && typeof e.valueString === 'string') return e.valueString;
  return undefined;
}

function parseMarker(marker: string): Array<[Path, string]> {
  try {
    const list = JSON.parse(marker);
    return Array.isArray(list) ? list.filter((x) => Array.isArray(x) && Array.isArray(x[0]) && typeof x[1] === 'string' && DECIMAL.test(x[1])) : [];
  } catch {
    return [];
  }
}

/** A copy of `node` with the number at `path` replaced by a placeholder, when it equals `text`. */
function replaceAt(node: unknown, path: Path, i: number, text: string, texts: string[]): unknown {
  if (i === path.length) {
    if (typeof node !== 'number' || Number(text) !== node) return node;
    texts.push(text);
    return `${PLACEHOLDER}${texts.length - 1}`;
  }
  if (typeof node !== 'object' || node === null) return node;
  const key = path[i]!;
  if (!Object.prototype.hasOwnProperty.call(node, key)) return node;
  const child = (node as Json)[key];
  const replaced = replaceAt(child, path, i + 1, text, texts);
  if (replaced === child) return node;
  if (Array.isArray(node)) {
    const copy = [...node];
    copy[key as number] = replaced;
    return copy;
  }
  return { ...(node as Json), [key]: replaced };
}
