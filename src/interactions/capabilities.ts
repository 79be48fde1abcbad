import { ACCESS_MODEL } from '../access/describe.js';
import { REFUSALS_DOCUMENTATION } from '../audit/unauthenticated.js';
import type { AuthServer } from '../auth/auth-server.js';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import { MHD_INSTANTIATES, PATCH_FORMATS } from '../mhd/capabilities.js';
import type { OperationHandler } from '../operations/types.js';
import type { SearchRegistry } from '../search/registry.js';
import type { StoreInfo } from '../store/store.js';

export interface CapabilityDeps {
  baseUrl: string;
  version: string;
  registry: SearchRegistry;
  /** Names of the registered interaction handlers. */
  interactions: Set<string>;
  operations: OperationHandler[];
  store: StoreInfo;
  now: Date;
  /** The profiles carnet checks, per resource type (its own readings in profiles/). */
  supportedProfiles?: (type: string) => string[];
  /** Whether CORS is on (CARNET_CORS_ORIGINS). */
  cors?: boolean;
  /** Token endpoint metadata, when an external authorization server is configured. */
  authorizationServer?: { issuer: string };
}

const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;
const SYSTEM_INTERACTIONS = ['transaction', 'batch', 'search-system', 'history-system'] as const;

const BULK_DATA = 'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data';

/** FHIR forbids empty arrays: an absent element instead. */
function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/** The CapabilityStatement, generated from what is registered: nothing is listed that does not work. */
export function buildCapabilityStatement(deps: CapabilityDeps): Record<string, unknown> {
  const has = (i: string) => deps.interactions.has(i) || (i === 'history-instance' || i === 'history-type' ? deps.interactions.has('history-system') : false);
  const typeOps = deps.operations.filter((op) => op.definition.type || op.definition.instance);
  return {
    resourceType: 'CapabilityStatement',
    id: 'carnet',
    url: `${deps.baseUrl}/metadata`,
    version: deps.version,
    name: 'Carnet',
    title: 'carnet FHIR server',
    status: 'active',
    experimental: false,
    date: deps.now.toISOString(),
    publisher: 'carnet',
    description: `FHIR R4 server for personal health records. Storage: ${deps.store.engine}. ${deps.store.atomicity}`,
    kind: 'instance',
    instantiates: [...MHD_INSTANTIATES, ...(deps.operations.some((op) => op.name === 'export') ? [BULK_DATA] : [])],
    software: { name: 'carnet', version: deps.version },
    implementation: { description: 'carnet', url: deps.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: [...PATCH_FORMATS],
    rest: [
      {
        mode: 'server',
        // Where a Subscription's websocket channel is opened (R4 subscription.html#2.46.7.2).
        extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket', valueUri: `${deps.baseUrl.replace(/^http/, 'ws')}/websocket` }],
        documentation: 'Every request except metadata and .well-known/smart-configuration needs a bearer JWT (SMART App Launch scopes, v2 and v1).',
        security: {
          cors: deps.cors ?? false,
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          description: ACCESS_MODEL,
        },
        resource: SERVED_TYPES.map((type) => ({
          type,
          profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
          ...(type === 'AuditEvent' ? { documentation: REFUSALS_DOCUMENTATION } : {}),
          supportedProfile: nonEmpty(deps.supportedProfiles?.(type) ?? []),
          interaction: TYPE_INTERACTIONS.filter(has).map((code) => ({ code })),
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: true,
          conditionalRead: 'modified-since',
          conditionalUpdate: true,
          conditionalDelete: 'single',
          searchParam: has('search-type')
            ? nonEmpty(deps.registry.list(type).map((p) => ({ name: p.name, definition: p.definition, type: p.type, ...(p.documentation ? { documentation: p.documentation } : {}) })))
            : undefined,
          operation: nonEmpty(typeOps
            .filter((op) => !op.definition.resource || op.definition.resource.includes('Resource') || op.definition.resource.includes(type))
            .map((op) => ({ name: op.name, definition: op.definition.url }))),
        })),
        interaction: nonEmpty(SYSTEM_INTERACTIONS.filter(has).map((code) => ({ code }))),
        operation: nonEmpty(deps.operations.filter((op) => op.definition.system).map((op) => ({ name: op.name, definition: op.definition.url }))),
      },
    ],
  };
}

const CLIENT_AUTH: Record<string, string> = {
  private_key_jwt: 'client-confidential-asymmetric',
  client_secret_basic: 'client-confidential-symmetric',
  client_secret_post: 'client-confidential-symmetric',
  none: 'client-public',
};

/**
 * SMART configuration (https://hl7.org/fhir/smart-app-launch/conformance.html): what carnet checks
 * itself (scopes), and of the authorization server only what was configured or discovered. The
 * local development issuer has no endpoints: it advertises no grant a client could use.
 */
export function buildSmartConfiguration(deps: { issuer: string; authServer?: AuthServer; exportEndpoints?: string[] }): Record<string, unknown> {
  const a = deps.authServer ?? {};
  const grants = a.grantTypes ?? [];
  const launch = grants.includes('authorization_code');
  const clientAuth = [...new Set((a.tokenEndpointAuthMethods ?? []).map((m) => CLIENT_AUTH[m]).filter((c): c is string => Boolean(c)))];
  const config: Record<string, unknown> = {
    issuer: deps.issuer,
    jwks_uri: a.jwksUri,
    authorization_endpoint: a.authorizationEndpoint,
    token_endpoint: a.tokenEndpoint,
    registration_endpoint: a.registrationEndpoint,
    introspection_endpoint: a.introspectionEndpoint,
    revocation_endpoint: a.revocationEndpoint,
    grant_types_supported: grants,
    token_endpoint_auth_methods_supported: a.tokenEndpoint ? a.tokenEndpointAuthMethods : undefined,
    response_types_supported: launch ? a.responseTypes : undefined,
    code_challenge_methods_supported: launch ? a.codeChallengeMethods : undefined,
    scopes_supported: [...(launch ? ['openid', 'fhirUser', 'launch/patient'] : []), 'patient/*.rs', 'patient/*.cruds', 'user/*.rs', 'user/*.cruds', 'system/*.rs', 'system/*.cruds'],
    capabilities: [...(launch ? ['launch-standalone'] : []), ...(a.tokenEndpoint ? clientAuth : []), 'permission-v2', 'permission-v1', 'permission-patient', 'permission-user'],
    // Not a SMART field: where Bulk Data exports start (FHIR Bulk Data Access 2.0), for backend clients.
    bulk_data_export: deps.exportEndpoints,
  };
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
}
