import { Query } from 'mingo';
import { actorClauses, NOTHING } from '../access/clauses.js';
import { gatherFacts, type AccessFacts } from '../access/facts.js';
import { authorize, compartmentFilter } from '../access/permissions.js';
import { parseFhirUser, type Principal } from '../auth/principal.js';
import { parseScopes } from '../auth/scopes.js';
import type { SearchRegistry } from '../search/registry.js';
import { indexResource } from '../search/extract.js';
import type { CurrentRecord, Store, VersionRecord } from '../store/store.js';

/** Writes carnet makes itself (a Subscription set to `error`): never an owner. */
export const SERVER_WRITER = 'client:carnet-subscriptions';

/**
 * The principal a Subscription acts as: its owner, the writer of its current version, with the
 * read scopes of their kind. The scopes of the token that wrote it were checked against the
 * criteria's type when it was written (check.ts); what the owner may see is then decided as for
 * any request of theirs, from the facts of the moment (Consents, médecin traitant...).
 */
export function ownerPrincipal(writer: string | undefined): Principal | undefined {
  if (!writer || writer === SERVER_WRITER) return undefined;
  if (writer.startsWith('client:')) {
    const scope = 'system/*.rs';
    return { subject: writer.slice('client:'.length), scope, scopes: parseScopes(scope) };
  }
  const fhirUser = parseFhirUser(writer);
  if (!fhirUser) return undefined;
  if (fhirUser.type === 'Patient') {
    const scope = 'patient/*.rs';
    return { subject: writer, fhirUser, scope, scopes: parseScopes(scope), patient: fhirUser.id };
  }
  const scope = 'user/*.rs';
  return { subject: writer, fhirUser, scope, scopes: parseScopes(scope) };
}

export type RecordTest = (record: CurrentRecord) => boolean;

/**
 * What one owner may see, as a test per type, from facts gathered once (per dispatch pass): the
 * same clauses the executor adds to that owner's searches.
 */
export async function ownerAccess(store: Store, registry: SearchRegistry, principal: Principal, now: Date): Promise<(type: string) => RecordTest> {
  const facts: AccessFacts = await gatherFacts(store, principal, now, async () => undefined);
  const inCompartment = (type: string) => type === 'Patient' || registry.compartmentParams(type).length > 0;
  const tests = new Map<string, RecordTest>();
  return (type) => {
    let test = tests.get(type);
    if (!test) {
      let clauses: Record<string, unknown>[];
      try {
        const grant = authorize(principal, type, 'search-type');
        const confined = compartmentFilter(grant, type);
        clauses = [...(confined ? [confined] : []), ...actorClauses(facts, type, inCompartment(type))];
      } catch {
        clauses = [NOTHING];
      }
      const query = clauses.length === 0 ? undefined : new Query({ $and: clauses });
      test = query ? (record) => query.test(record as unknown as Record<string, unknown>) : () => true;
      tests.set(type, test);
    }
    return test;
  };
}

/**
 * A version as a record with search data, as access clauses test it: the current record when it
 * is the current version, else the version's own search data recomputed, with the resource's
 * writers (as src/interactions/records.ts versionVisible does). Undefined when gone.
 */
export async function versionRecord(store: Store, registry: SearchRegistry, baseUrl: string, v: VersionRecord): Promise<CurrentRecord | undefined> {
  const current = await store.read(v.type, v.id);
  if (!current || !v.resource) return undefined;
  if (current.versionId === v.versionId) return current;
  const { idx, comp } = indexResource(v.resource, registry, { baseUrl });
  return { ...v, idx, comp, ...(current.by ? { by: current.by } : {}) };
}
