import { isServedType, type Resource } from '../fhir/resource-types.js';
import { namedPatients } from '../access/named.js';
import type { FhirRequest, FhirResult } from '../interactions/types.js';
import type { SearchRegistry } from '../search/registry.js';
import { compartmentsOf } from '../search/extract.js';
import type { Store } from '../store/store.js';
import { patientEntity, queryEntity, SYSTEMS, type Entity } from './event.js';
import { describe } from './names.js';

/** At most this many resources (of a search: its first results) and patients per event; the query says the rest. */
const MAX_ENTITIES = 50;
const MAX_PATIENTS = 50;
/** A search's query is kept up to this length (a POSTed form may be far longer). */
const MAX_QUERY = 4096;

export interface TouchedDeps {
  store: Store;
  registry: SearchRegistry;
  baseUrl: string;
}

interface Ref {
  type: string;
  id: string;
  version?: string;
  resource?: Resource;
}

const INSTANCE = new Set(['read', 'vread', 'history-instance', 'update', 'patch', 'delete', 'create', 'operation']);
const LISTS = new Set(['search-type', 'search-system', 'history-type', 'history-system']);
const REF = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;

function refOf(location: string | undefined, resource: Resource | undefined): Ref | undefined {
  const m = location ? REF.exec(location) : null;
  if (m) return { type: m[1], id: m[2], version: m[3], resource };
  if (resource?.id && resource.resourceType !== 'Bundle' && resource.resourceType !== 'OperationOutcome') return { type: resource.resourceType, id: resource.id, resource };
  return undefined;
}

function queryString(query: FhirRequest['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const value of Array.isArray(v) ? v : [v]) params.append(k, value);
  return params.toString();
}

// Keys in code-unit order, as the event's (event.ts).
const resourceEntity = (ref: Ref, resource: Resource | undefined, withVersion: boolean): Entity => ({
  ...describe(resource),
  role: { code: '4', display: 'Domain Resource', system: SYSTEMS.objectRole },
  type: { code: ref.type, system: SYSTEMS.resourceTypes },
  what: { reference: `${ref.type}/${ref.id}${withVersion && ref.version ? `/_history/${ref.version}` : ''}` },
});

/**
 * What a request touched, for its AuditEvent: the resources (read, written, found) and the patients
 * whose records they belong to. Read from the store at system level, so that an attempt on a
 * resource the caller may not see still lands in its patient's access history.
 */
export async function touched(deps: TouchedDeps, req: FhirRequest, result: FhirResult | undefined): Promise<Entity[]> {
  const entities: Entity[] = [];
  const patients = new Set<string>();
  const addPatients = (comp: readonly string[]) => {
    for (const p of comp) if (patients.size < MAX_PATIENTS) patients.add(p);
  };
  // A resource named by reference: its current record gives its compartments (a Binary's too) and its name.
  const stored = async (ref: Ref) => {
    if (!isServedType(ref.type)) return entities.push(resourceEntity(ref, undefined, false));
    const record = await deps.store.read(ref.type, ref.id);
    if (record) addPatients(ref.type === 'Patient' ? [`Patient/${ref.id}`, ...record.comp] : record.comp);
    entities.push(resourceEntity(ref, ref.resource ?? record?.resource, req.interaction === 'vread'));
  };
  const body = result?.body as (Resource & { entry?: Array<{ resource?: Resource; search?: { mode?: string }; response?: { location?: string } }> }) | undefined;

  if (req.interaction === 'transaction' || req.interaction === 'batch') {
    for (const e of (body?.entry ?? []).slice(0, MAX_ENTITIES)) {
      const ref = refOf(e.response?.location, e.resource);
      if (ref) await stored(ref);
    }
  } else if (LISTS.has(req.interaction)) {
    const query = queryString(req.query);
    entities.push(queryEntity(req.type, query.length > MAX_QUERY ? query.slice(0, MAX_QUERY) : query));
    if (query.length > MAX_QUERY) entities[entities.length - 1].description = `query truncated to its first ${MAX_QUERY} characters`;
    if (req.compartment?.type === 'Patient') addPatients([`Patient/${req.compartment.id}`]);
    addPatients((await namedPatients(req, deps.store)) ?? []);
    // The first results of the page: enough to name who was looked at without indexing a page of a thousand again.
    for (const e of (body?.entry ?? []).slice(0, MAX_ENTITIES)) {
      const r = e.resource;
      if (!r?.id || e.search?.mode === 'outcome' || r.resourceType === 'OperationOutcome') continue;
      const ref: Ref = { type: r.resourceType, id: r.id, version: (r.meta as { versionId?: string } | undefined)?.versionId };
      // Reading one's access history is recorded, but does not list the events read again.
      if (r.resourceType !== 'AuditEvent') entities.push(resourceEntity(ref, r, req.interaction.startsWith('history')));
      if (r.resourceType === 'Patient') addPatients([`Patient/${r.id}`]);
      else if (r.resourceType !== 'Binary') addPatients(result?.compartments?.get(`${r.resourceType}/${r.id}`) ?? compartmentsOf(r, deps.registry, { baseUrl: deps.baseUrl }));
    }
  } else if (INSTANCE.has(req.interaction) && req.type) {
    const ref: Ref | undefined = req.id ? { type: req.type, id: req.id, version: req.versionId } : refOf(result?.location, body);
    if (ref) await stored({ ...ref, resource: ref.resource ?? (body?.resourceType === ref.type ? body : undefined) });
    else entities.push({ type: { system: SYSTEMS.resourceTypes, code: req.type } });
  }
  // A Patient touched as a resource is that patient's entity: once, with the Patient role.
  for (const e of entities) if (e.what?.reference && patients.delete(e.what.reference)) e.role = patientEntity(e.what.reference).role;
  return [...entities, ...[...patients].map(patientEntity)];
}
