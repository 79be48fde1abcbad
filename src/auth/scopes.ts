/**
 * SMART App Launch resource scopes (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
 * v2 scopes are kept as they are; v1 scopes are mapped to v2 (read -> rs, write -> cud, * -> cruds).
 * Anything else (openid, fhirUser, launch/patient, offline_access, malformed scopes) is ignored:
 * an ignored scope grants nothing.
 */

export type Permission = 'c' | 'r' | 'u' | 'd' | 's';
export type ScopeContext = 'patient' | 'user' | 'system';

export interface Scope {
  context: ScopeContext;
  /** '*' or a resource type. */
  type: string;
  perms: ReadonlySet<Permission>;
  /**
   * v2 granular restriction, the text after '?' (e.g. 'category=laboratory'). Not enforced yet:
   * src/access/permissions.ts lets a scope with a query grant nothing, so a granular scope never
   * widens access to the whole type.
   */
  query?: string;
}

const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]+)(?:\?(.+))?$/;
// SMART v2 requires the letters in this order; 'rc' or 'rr' is not a scope.
const V2_PERMS = /^c?r?u?d?s?$/;
const V1_PERMS: Record<string, Permission[]> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ['c', 'r', 'u', 'd', 's'],
};

export function parseScope(text: string): Scope | undefined {
  const m = SCOPE.exec(text);
  if (!m) return undefined;
  const [, context, type, letters, query] = m as unknown as [string, ScopeContext, string, string, string | undefined];
  if (Object.hasOwn(V1_PERMS, letters)) {
    if (query !== undefined) return undefined; // v1 has no granular form
    return { context, type, perms: new Set(V1_PERMS[letters]) };
  }
  if (!V2_PERMS.test(letters) || letters === '') return undefined;
  const scope: Scope = { context, type, perms: new Set(letters.split('') as Permission[]) };
  if (query !== undefined) scope.query = query;
  return scope;
}

/** Parses a space-separated scope claim; scopes that are not resource scopes are dropped. */
export function parseScopes(raw: string): Scope[] {
  const scopes: Scope[] = [];
  for (const text of raw.split(/\s+/)) {
    const scope = text ? parseScope(text) : undefined;
    if (scope) scopes.push(scope);
  }
  return scopes;
}

/** Canonical v2 text of a scope, e.g. 'patient/Observation.rs'. */
export function formatScope(scope: Scope): string {
  const letters = (['c', 'r', 'u', 'd', 's'] as const).filter((p) => scope.perms.has(p)).join('');
  return `${scope.context}/${scope.type}.${letters}${scope.query !== undefined ? `?${scope.query}` : ''}`;
}
