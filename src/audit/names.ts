import type { Resource } from '../fhir/resource-types.js';
import type { Store } from '../store/store.js';

/**
 * Human-readable names resolved when the event is written, so that reading an access history needs
 * no further reads (and shows the name the professional had at the time). System-level store
 * reads: nothing here reaches the caller.
 */

interface HumanName {
  text?: string;
  prefix?: string[];
  given?: string[];
  family?: string;
  use?: string;
}

export function personName(resource: Resource | undefined): string | undefined {
  const names = (resource?.name as HumanName[] | undefined) ?? [];
  const n = names.find((x) => x.use === 'official') ?? names.find((x) => x.use !== 'old') ?? names[0];
  if (!n) return undefined;
  if (n.text) return n.text;
  const parts = [...(n.prefix ?? []), ...(n.given ?? []), ...(n.family ? [n.family] : [])];
  return parts.length ? parts.join(' ') : undefined;
}

interface Concept {
  text?: string;
  coding?: Array<{ display?: string; code?: string }>;
}

export function conceptText(c: unknown): string | undefined {
  const concept = c as Concept | undefined;
  return concept?.text ?? concept?.coding?.find((x) => x.display)?.display ?? concept?.coding?.find((x) => x.code)?.code;
}

async function current(store: Store, reference: string | undefined): Promise<Resource | undefined> {
  const m = reference ? /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(reference) : null;
  if (!m) return undefined;
  const record = await store.read(m[1], m[2]);
  return record && !record.deleted ? record.resource : undefined;
}

/** The user's name, and for a PractitionerRole the role (its code, its specialty). */
export async function userName(store: Store, reference: string): Promise<{ display?: string; role?: string }> {
  const resource = await current(store, reference);
  if (resource?.resourceType !== 'PractitionerRole') return { display: personName(resource) };
  const practitioner = await current(store, (resource.practitioner as { reference?: string } | undefined)?.reference);
  const codes = [...((resource.code as unknown[] | undefined) ?? []), ...((resource.specialty as unknown[] | undefined) ?? [])];
  const role = codes.map(conceptText).find(Boolean);
  return { display: personName(practitioner), ...(role ? { role } : {}) };
}

/** What a person reading the history calls a resource: a document's title and type, a person's name. */
export function describe(resource: Resource | undefined): { name?: string; description?: string } {
  if (!resource) return {};
  if (resource.resourceType === 'DocumentReference') {
    const type = conceptText(resource.type);
    const title = typeof resource.description === 'string' ? resource.description : undefined;
    const name = title ?? type;
    return { ...(type && type !== name ? { description: type } : {}), ...(name ? { name } : {}) };
  }
  if (['Patient', 'Practitioner', 'RelatedPerson'].includes(resource.resourceType)) {
    const name = personName(resource);
    return name ? { name } : {};
  }
  const code = conceptText(resource.code) ?? conceptText(resource.type);
  return code ? { name: code } : {};
}
