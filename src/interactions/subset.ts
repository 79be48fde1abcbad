import { definitions } from '../fhir/definitions.js';
import type { Resource } from '../fhir/resource-types.js';

/** The tag FHIR puts on a resource returned incomplete (http://hl7.org/fhir/R4/search.html#summary). */
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

interface TypeElements {
  summary: Set<string>;
  mandatory: Set<string>;
}

const byType = new Map<string, TypeElements>();

/** Top-level element names of a type that are in its summary, and those that are mandatory. */
function elementsOf(type: string): TypeElements {
  let found = byType.get(type);
  if (found) return found;
  const sd = definitions.resourceProfiles().entry?.find((e) => e.resource?.resourceType === 'StructureDefinition' && e.resource.id === type)?.resource;
  found = { summary: new Set(), mandatory: new Set() };
  for (const el of sd?.snapshot?.element ?? []) {
    const parts = String(el.path).split('.');
    if (parts.length !== 2) continue;
    const name = parts[1].replace('[x]', '');
    if (el.isSummary) found.summary.add(name);
    if (el.min > 0) found.mandatory.add(name);
  }
  byType.set(type, found);
  return found;
}

/** Keeps the named top-level elements (choice elements by their stem: `value` keeps valueQuantity). */
function keep(resource: Resource, names: Set<string>): Resource {
  const out: Resource = { resourceType: resource.resourceType };
  for (const [key, value] of Object.entries(resource)) {
    const stem = key.replace(/^_/, '').replace(/[A-Z].*$/, '');
    if (key === 'resourceType') continue;
    if (names.has(key.replace(/^_/, '')) || names.has(stem)) out[key] = value;
  }
  return out;
}

function tagged(resource: Resource): Resource {
  const tags = resource.meta?.tag ?? [];
  return { ...resource, meta: { ...(resource.meta ?? {}), tag: [...tags, SUBSETTED] } };
}

/** Applies _summary and _elements to a resource returned by a search. */
export function subset(resource: Resource, summary: string | undefined, elements: string[] | undefined): Resource {
  const type = resource.resourceType;
  if (summary === 'true') {
    return tagged(keep(resource, new Set(['id', 'meta', ...elementsOf(type).summary])));
  }
  if (summary === 'text') {
    return tagged(keep(resource, new Set(['id', 'meta', 'text', ...elementsOf(type).mandatory])));
  }
  if (summary === 'data') {
    if (!('text' in resource)) return resource;
    const { text: _text, ...rest } = resource;
    return tagged(rest as Resource);
  }
  if (elements && elements.length > 0) {
    return tagged(keep(resource, new Set(['id', 'meta', ...elementsOf(type).mandatory, ...elements])));
  }
  return resource;
}
