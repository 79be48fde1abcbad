import type { Resource } from '../fhir/resource-types.js';

/** Code systems of an AuditEvent shaped after IHE BALP (Basic Audit Log Patterns). */
export const SYSTEMS = {
  eventType: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  interaction: 'http://hl7.org/fhir/restful-interaction',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  entityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  resourceTypes: 'http://hl7.org/fhir/resource-types',
  dicom: 'http://dicom.nema.org/resources/ontology/DCM',
  /** The id the server gave the request (the X-Request-Id of its answer, and its logs). */
  requestId: 'urn:carnet:request-id',
  /** meta.tag of the AuditEvents that system clients report themselves (not recorded by carnet). */
  origin: 'urn:carnet:audit-origin',
} as const;

export const REPORTED_TAG = { system: SYSTEMS.origin, code: 'reported', display: 'Reported by an integration' };

/** FHIR interaction to AuditEvent.action (C create, R read, U update, D delete, E execute). */
const ACTIONS: Record<string, string> = {
  create: 'C', read: 'R', vread: 'R', 'history-instance': 'R', 'history-type': 'R', 'history-system': 'R',
  update: 'U', patch: 'U', delete: 'D',
};

export interface Agent {
  who: { reference?: string; display?: string; identifier?: { system?: string; value: string } };
  altId?: string;
  role?: Array<{ text: string }>;
  purposeOfUse?: string[];
  /** Where the request came from (type 2: an IP address). */
  network?: { address: string; type: string };
}

export interface Entity {
  what?: { reference?: string; identifier?: { system: string; value: string } };
  type?: { system: string; code: string; display?: string };
  role?: { system: string; code: string; display?: string };
  name?: string;
  description?: string;
  query?: string;
}

export interface EventFacts {
  /** Absent when not known (a request refused before its route said what it attempted). */
  interaction?: string;
  status: number;
  /** The first diagnostics of a failure. */
  failure?: string;
  recorded: string;
  user: Agent;
  entities: Entity[];
}

function outcome(status: number): string {
  if (status < 400) return '0';
  return status < 500 ? '4' : '8';
}

/** One AuditEvent: the user, the server, what was touched, the patients, the request. */
export function auditEvent(f: EventFacts): Resource {
  const { who, altId, role, purposeOfUse, network } = f.user;
  // Every object is built with its keys in code-unit order: the chain hashes the event's canonical
  // text (chain.ts), which is then plain JSON.stringify.
  const user = {
    ...(altId ? { altId } : {}),
    ...(network ? { network } : {}),
    ...(purposeOfUse?.length ? { purposeOfUse: purposeOfUse.map((code) => ({ coding: [{ code, ...(code === 'BTG' ? { display: 'break the glass' } : {}), system: SYSTEMS.actReason }] })) } : {}),
    requestor: true,
    ...(role?.length ? { role } : {}),
    who: inOrder(who),
  };
  const server = {
    requestor: false,
    type: { coding: [{ code: '110152', display: 'Destination Role ID', system: SYSTEMS.dicom }] },
    who: { display: 'carnet' },
  };
  return {
    resourceType: 'AuditEvent',
    type: { code: 'rest', display: 'RESTful Operation', system: SYSTEMS.eventType },
    ...(f.interaction ? { subtype: [{ code: f.interaction, system: SYSTEMS.interaction }] } : {}),
    action: (f.interaction && ACTIONS[f.interaction]) ?? 'E',
    recorded: f.recorded,
    outcome: outcome(f.status),
    ...(f.failure ? { outcomeDesc: f.failure } : {}),
    agent: [user, server],
    source: { observer: { display: 'carnet' }, type: [{ code: '4', display: 'Application Server', system: 'http://terminology.hl7.org/CodeSystem/security-source-type' }] },
    ...(f.entities.length ? { entity: f.entities } : {}),
  };
}

export const patientEntity = (patient: string): Entity => ({
  role: { code: '1', display: 'Patient', system: SYSTEMS.objectRole },
  type: { code: '1', display: 'Person', system: SYSTEMS.entityType },
  what: { reference: patient },
});

export const requestEntity = (requestId: string): Entity => ({
  description: 'request',
  type: { code: '4', display: 'Other', system: SYSTEMS.entityType },
  what: { identifier: { system: SYSTEMS.requestId, value: requestId } },
});

export const queryEntity = (type: string | undefined, query: string): Entity => ({
  // FHIR has no empty strings: a search without parameters has no query.
  ...(query ? { query: Buffer.from(query, 'utf8').toString('base64') } : {}),
  role: { code: '24', display: 'Query', system: SYSTEMS.objectRole },
  type: type ? { code: type, system: SYSTEMS.resourceTypes } : { code: '2', display: 'System Object', system: SYSTEMS.entityType },
});

/** The same members with the keys in code-unit order (an agent's `who` comes from several places). */
function inOrder<T extends object>(o: T): T {
  const keys = Object.keys(o);
  if (keys.every((k, i) => i === 0 || keys[i - 1] < k)) return o;
  return Object.fromEntries(keys.sort().map((k) => [k, (o as Record<string, unknown>)[k]])) as T;
}
