import { checkJwksUrl } from './jwks.js';

/**
 * What carnet knows of the authorization server that issues its tokens, and so may publish in
 * /.well-known/smart-configuration: the operator's settings, completed by the server's own metadata
 * (RFC 8414 / OpenID discovery) read once at start. Nothing is published that was not configured.
 */
export interface AuthServer {
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  jwksUri?: string;
  registrationEndpoint?: string;
  introspectionEndpoint?: string;
  revocationEndpoint?: string;
  grantTypes?: string[];
  tokenEndpointAuthMethods?: string[];
  codeChallengeMethods?: string[];
  responseTypes?: string[];
}

export interface AuthServerSettings {
  issuer: string;
  discoveryUrl?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export async function loadAuthServer(settings: AuthServerSettings, fetchImpl: typeof fetch = fetch): Promise<AuthServer> {
  let meta: Record<string, unknown> = {};
  if (settings.discoveryUrl) {
    const url = checkJwksUrl(settings.discoveryUrl);
    let res: Response;
    try {
      res = await fetchImpl(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      throw new Error(`CARNET_AUTH_DISCOVERY: cannot read ${url.href}: ${(err as Error).message}`);
    }
    if (!res.ok) throw new Error(`CARNET_AUTH_DISCOVERY: ${url.href} answered ${res.status}`);
    try {
      meta = (await res.json()) as Record<string, unknown>;
    } catch {
      throw new Error(`CARNET_AUTH_DISCOVERY: ${url.href} is not JSON`);
    }
    // RFC 8414 section 3.3: metadata naming another issuer must not be used.
    if (meta.issuer !== settings.issuer) {
      throw new Error(`CARNET_AUTH_DISCOVERY: the document names issuer "${String(meta.issuer)}", not CARNET_AUTH_ISSUER "${settings.issuer}"`);
    }
  }
  const authorizationEndpoint = settings.authorizationEndpoint ?? str(meta.authorization_endpoint);
  const tokenEndpoint = settings.tokenEndpoint ?? str(meta.token_endpoint);
  // Without the document, the grants follow from the endpoints given.
  const implied = [...(authorizationEndpoint && tokenEndpoint ? ['authorization_code'] : [])];
  const grantTypes = (strings(meta.grant_types_supported) ?? implied).filter((g) => (g === 'authorization_code' ? authorizationEndpoint && tokenEndpoint : tokenEndpoint));
  return {
    authorizationEndpoint,
    tokenEndpoint,
    jwksUri: str(meta.jwks_uri),
    registrationEndpoint: str(meta.registration_endpoint),
    introspectionEndpoint: str(meta.introspection_endpoint),
    revocationEndpoint: str(meta.revocation_endpoint),
    grantTypes: grantTypes.length ? grantTypes : undefined,
    tokenEndpointAuthMethods: strings(meta.token_endpoint_auth_methods_supported),
    codeChallengeMethods: strings(meta.code_challenge_methods_supported),
    responseTypes: strings(meta.response_types_supported),
  };
}
