import { fhirError } from '../errors.js';

/** Resolves a conditional reference (`Patient?identifier=...`) to `Patient/<id>`. */
export type ConditionalResolver = (reference: string, where: string) => Promise<string>;

const CONDITIONAL = /^[A-Z][A-Za-z]+\?./;

/**
 * A copy of a resource with its references rewritten: Bundle fullUrls (urn:uuid:...) to the ids
 * assigned in the transaction, wherever they appear as a `reference`, or as an attachment or other
 * `url` (then as an absolute URL of this server), contained resources included; conditional
 * references resolved by search.
 */
export async function rewriteReferences(
  resource: unknown,
  assigned: Map<string, string>,
  baseUrl: string,
  resolve: ConditionalResolver,
  where: string,
): Promise<unknown> {
  const walk = async (value: unknown, path: string): Promise<unknown> => {
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (let i = 0; i < value.length; i++) out.push(await walk(value[i], `${path}[${i}]`));
      return out;
    }
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const here = `${path}.${key}`;
      if (key === 'reference' && typeof v === 'string') {
        if (assigned.has(v)) out[key] = assigned.get(v);
        else if (CONDITIONAL.test(v)) out[key] = await resolve(v, here);
        else if (v.startsWith('urn:uuid:')) throw fhirError('bad-request', `${here}: ${v} is not the fullUrl of any entry of this transaction`, here);
        else out[key] = v;
      } else if (key === 'url' && typeof v === 'string' && assigned.has(v)) {
        out[key] = `${baseUrl}/${assigned.get(v)}`;
      } else {
        out[key] = await walk(v, here);
      }
    }
    return out;
  };
  return walk(resource, where);
}
