import { fhirError } from '../errors.js';
import { isServedType } from '../fhir/resource-types.js';
import { parseSearch } from '../search/parse.js';
import type { SearchRegistry } from '../search/registry.js';

/**
 * The kick-off parameters of Bulk Data $export (https://hl7.org/fhir/uv/bulkdata/export.html),
 * from the query of a GET or the Parameters body of a POST, checked before any job exists: a bad
 * parameter is a 400 and nothing is started.
 */
export interface ExportParams {
  /** Types asked for (_type); undefined: every type the level exports. */
  types?: string[];
  /** _since as a stored lastUpdated (ISO instant, UTC, milliseconds). */
  since?: string;
  /** _typeFilter per type: the search queries (URL query strings), any of which a resource may match. */
  typeFilters: Record<string, string[]>;
  /** _elements: per type ('*' for every type), the top-level elements kept. */
  elements?: Record<string, string[]>;
}

export const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);

/** Search result parameters make no sense inside a _typeFilter: the export decides paging and shape. */
const RESULT_PARAMS = new Set(['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_contained', '_containedType', '_offset', '_page', '_format', '_pretty']);
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const ELEMENT = /^[a-z][A-Za-z0-9]{0,63}$/;
const KNOWN = new Set(['_outputFormat', '_since', '_type', '_elements', '_typeFilter', 'includeAssociatedData', 'patient', '_format', '_pretty']);

type Raw = Record<string, string[]>;

interface ParametersBody {
  resourceType?: string;
  parameter?: Array<{ name?: string; [value: string]: unknown }>;
}

/** The parameters as lists of strings: the query's, or a Parameters body's value[x] (POST). */
export function rawParams(query: Record<string, string | string[]>, body: unknown): Raw {
  const raw: Raw = {};
  for (const [k, v] of Object.entries(query)) raw[k] = Array.isArray(v) ? v : [v];
  if (body === undefined) return raw;
  const p = body as ParametersBody;
  if (p?.resourceType !== 'Parameters') throw fhirError('bad-request', 'A POST $export takes a Parameters resource as its body');
  for (const param of p.parameter ?? []) {
    if (typeof param.name !== 'string') throw fhirError('bad-request', 'Each parameter of the Parameters body needs a name');
    const key = Object.keys(param).find((k) => k.startsWith('value'));
    const value = key ? param[key] : undefined;
    // `patient` is a Reference: its reference names a Patient.
    const text = typeof value === 'string' ? value : (value as { reference?: unknown } | undefined)?.reference;
    if (typeof text !== 'string') throw fhirError('bad-request', `Parameter ${param.name} needs a value`, param.name);
    (raw[param.name] ??= []).push(text);
  }
  return raw;
}

const list = (values: string[] | undefined): string[] => (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);

/** Checks every parameter; `exportable` is the types the level exports. Throws a 400 naming the parameter. */
export function parseExportParams(raw: Raw, exportable: readonly string[], registry: SearchRegistry, baseUrl: string): ExportParams {
  for (const name of Object.keys(raw)) {
    if (!KNOWN.has(name)) throw fhirError('bad-request', `$export does not take the parameter ${name}`, name);
  }
  const format = raw._outputFormat?.[0];
  if (format !== undefined && !OUTPUT_FORMATS.has(format)) {
    throw fhirError('bad-request', `_outputFormat ${format} is not supported; use application/fhir+ndjson`, '_outputFormat');
  }
  if (raw.includeAssociatedData?.length) {
    // Its values (LatestProvenanceResources, RelevantProvenanceResources) name Provenance, which carnet does not serve.
    throw fhirError('bad-request', 'includeAssociatedData is not supported: carnet serves no Provenance resources', 'includeAssociatedData');
  }
  if (raw.patient?.length) throw fhirError('bad-request', 'The patient parameter is not supported; export a Group of patients instead', 'patient');

  const out: ExportParams = { typeFilters: {} };
  const allowed = new Set(exportable);
  const types = list(raw._type);
  for (const t of types) {
    if (!isServedType(t)) throw fhirError('bad-request', `_type: ${t} is not a resource type this server serves`, '_type');
    if (!allowed.has(t)) throw fhirError('bad-request', `_type: ${t} is not exported at this level`, '_type');
  }
  if (types.length > 0) out.types = [...new Set(types)];

  const since = raw._since?.[0];
  if (since !== undefined) {
    if (!INSTANT.test(since) || Number.isNaN(Date.parse(since))) throw fhirError('bad-request', `_since must be a FHIR instant (e.g. 2026-01-01T00:00:00Z), got "${since}"`, '_since');
    out.since = new Date(since).toISOString();
  }

  for (const entry of list(raw._elements)) {
    const [type, element] = entry.includes('.') ? entry.split('.', 2) : ['*', entry];
    if ((type !== '*' && !isServedType(type)) || !ELEMENT.test(element ?? '')) {
      throw fhirError('bad-request', `_elements: "${entry}" is neither an element name nor Type.element`, '_elements');
    }
    ((out.elements ??= {})[type] ??= []).push(element);
  }

  for (const filter of list(raw._typeFilter)) {
    const m = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(filter);
    if (!m) throw fhirError('bad-request', `_typeFilter: "${filter}" is not a search query of the form Type?parameters`, '_typeFilter');
    const [, type, query] = m;
    if (!isServedType(type) || !allowed.has(type)) throw fhirError('bad-request', `_typeFilter: ${type} is not exported at this level`, '_typeFilter');
    if (out.types && !out.types.includes(type)) throw fhirError('bad-request', `_typeFilter: ${type} is not among the types of _type`, '_typeFilter');
    const params = new URLSearchParams(query);
    for (const name of params.keys()) {
      if (RESULT_PARAMS.has(name)) throw fhirError('bad-request', `_typeFilter: ${name} is a result parameter, not a filter`, '_typeFilter');
    }
    // Parsed now so that an unknown parameter or a bad value is a 400 at kick-off; compiled again when the job runs.
    parseSearch(type, searchQuery(query), registry, { strict: true, baseUrl });
    (out.typeFilters[type] ??= []).push(query);
  }
  return out;
}

/** A _typeFilter query string as the search parser takes it. */
export function searchQuery(query: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(query)) (out[k] ??= []).push(v);
  return out;
}
