import { FhirError } from '../errors.js';
import type { Principal } from '../auth/principal.js';
import type { Permission, Scope, ScopeContext } from '../auth/scopes.js';

export type Interaction =
  | 'read'
  | 'vread'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'search-type'
  | 'search-system'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'capabilities'
  | 'operation'
  | 'transaction'
  | 'batch';

/** What the scopes let a caller do with one resource type. */
export interface AccessGrant {
  /** The contexts of the scopes that grant the interaction. */
  contexts: ReadonlySet<ScopeContext>;
  /**
   * 'Patient/<id>' when only patient-context scopes grant it: the caller then sees and touches only
   * that patient's compartment. Absent when a user or system scope grants it.
   */
  compartment?: string;
}

/** The principal fields access decisions read. */
export type Caller = Pick<Principal, 'scopes' | 'patient'> & Partial<Pick<Principal, 'fhirUser'>>;

/**
 * SMART v2 letters (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-fhir-resources).
 * An update that creates (PUT to a new id) still needs 'u', as SMART says.
 * 'operation' needs 'r' on its type only as an entry gate: each operation must still authorize the
 * interactions it amounts to on every type it touches ($everything is a search per type).
 * 'capabilities' needs nothing: the CapabilityStatement is public and holds no patient data.
 */
const REQUIRED: Record<Interaction, Permission | undefined> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'history-type': 's',
  'history-system': 's',
  'search-type': 's',
  'search-system': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
  capabilities: undefined,
  operation: 'r',
  // A Bundle needs nothing itself: each of its entries is authorized as its own interaction.
  transaction: undefined,
  batch: undefined,
};

export function requiredPermission(interaction: Interaction): Permission | undefined {
  return REQUIRED[interaction];
}

function grants(scope: Scope, type: string, perm: Permission): boolean {
  // A granular scope (?query) is not enforced yet, so it grants nothing rather than the whole type.
  return scope.query === undefined && (scope.type === '*' || scope.type === type) && scope.perms.has(perm);
}

/** The grant, or why there is none. */
function decide(caller: Caller, type: string, interaction: Interaction): AccessGrant | string {
  const perm = REQUIRED[interaction];
  if (perm === undefined) return { contexts: new Set() };
  const contexts = new Set<ScopeContext>();
  for (const scope of caller.scopes) if (grants(scope, type, perm)) contexts.add(scope.context);
  if (contexts.size === 0) return `Granted scopes do not allow ${interaction} (${perm}) on ${type}`;
  if (contexts.has('system')) return { contexts };
  // A user scope grants what the user may see; a patient user sees their own record (the consent
  // rules of the access layer widen this for representatives and professionals).
  if (contexts.has('user')) {
    return caller.fhirUser?.type === 'Patient' ? { contexts, compartment: `Patient/${caller.fhirUser.id}` } : { contexts };
  }
  if (!caller.patient) return `Patient scopes allow ${interaction} on ${type} only with a patient in the launch context`;
  return { contexts, compartment: `Patient/${caller.patient}` };
}

/** Throws FhirError 'forbidden' (403) when no scope grants the interaction on the type. */
export function authorize(caller: Caller, type: string, interaction: Interaction): AccessGrant {
  const grant = decide(caller, type, interaction);
  if (typeof grant === 'string') throw new FhirError('forbidden', grant);
  return grant;
}

/**
 * For interactions over several types (search-system, history-system): the granted types only.
 * Throws 'forbidden' when none is granted.
 */
export function authorizeTypes(caller: Caller, types: readonly string[], interaction: Interaction): Map<string, AccessGrant> {
  const granted = new Map<string, AccessGrant>();
  for (const type of types) {
    const grant = decide(caller, type, interaction);
    if (typeof grant !== 'string') granted.set(type, grant);
  }
  if (granted.size === 0) throw new FhirError('forbidden', `Granted scopes do not allow ${interaction} on any of the requested types`);
  return granted;
}

/**
 * The query clause (over store CurrentRecord fields) that confines a grant to its compartment, or
 * undefined when the grant is not confined. The one place where grants become query clauses.
 */
export function compartmentFilter(grant: AccessGrant, type: string): Record<string, unknown> | undefined {
  if (grant.compartment === undefined) return undefined;
  if (type !== 'Patient') return { comp: grant.compartment };
  // A Patient need not list itself among its compartments, so match it by id as well.
  const id = grant.compartment.slice('Patient/'.length);
  return { $or: [{ comp: grant.compartment }, { type: 'Patient', id }] };
}
