import { isServedType, type Resource } from '../../fhir/resource-types.js';

const LOCAL = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const MAX_DEPTH = 64;

/** `Type/id` when `value` names a resource of a served type on this server (relative, or under baseUrl). */
function local(value: string, baseUrl: string): string | undefined {
  const relative = value.startsWith(`${baseUrl}/`) ? value.slice(baseUrl.length + 1) : value;
  const m = LOCAL.exec(relative);
  return m && isServedType(m[1]) ? `${m[1]}/${m[2]}` : undefined;
}

/**
 * The resources of this server a resource points to, as `Type/id`: every Reference (contained
 * resources' included), and the attachment URLs that name a Binary (how documents point at their
 * content). Contained (`#id`), conditional and external references point at nothing here.
 */
export function referencesOf(resource: Resource, baseUrl: string): Set<string> {
  const found = new Set<string>();
  const walk = (value: unknown, key: string, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (typeof value === 'string') {
      if (key !== 'reference' && key !== 'url') return;
      const ref = local(value, baseUrl);
      if (ref && (key === 'reference' || ref.startsWith('Binary/'))) found.add(ref);
      return;
    }
    if (Array.isArray(value)) for (const v of value) walk(v, key, depth + 1);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k, depth + 1);
  };
  walk(resource, '', 0);
  return found;
}
