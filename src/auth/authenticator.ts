import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, type JWTVerifyResult } from 'jose';
import { FhirError } from '../errors.js';
import { FileKeySet } from './file-key-set.js';
import { checkJwksUrl, publicJwks, type JWKSource } from './jwks.js';
import { principalFromClaims, type Principal } from './principal.js';
import { VerifiedTokenCache } from './verified-cache.js';

export type { FhirUser, FhirUserType, Principal } from './principal.js';
export type { JWKSource } from './jwks.js';

export interface AuthenticatorOptions {
  jwks: JWKSource;
  issuer: string;
  audience: string;
  /** Accepted clock skew for exp/nbf/iat, in seconds (default 30). */
  clockToleranceSec?: number;
  /** Appended to the 401 of a token that no trusted key signed (the local issuer says where its key lives). */
  unknownKeyHint?: string;
  /** Told when a JWKS file that changed cannot be read (the keys in use are kept). */
  onKeysError?: (message: string) => void;
  /** How often a JWKS file is checked for changes besides on an unknown kid, ms (default 30 s). */
  keysCheckIntervalMs?: number;
  /** The clock of that check (tests inject one). */
  now?: () => number;
}

export interface Authenticator {
  /** The principal of a token already verified and not expired, without verifying again; else undefined. */
  verified(authorizationHeader: string | undefined): Principal | undefined;
  /** Verifies `Authorization: Bearer <jwt>`; throws FhirError 'unauthenticated' (401), or 'unavailable' (503) when remote keys cannot be fetched. */
  authenticate(authorizationHeader: string | undefined): Promise<Principal>;
}

// Asymmetric only: 'none' and HS* are refused, so a token cannot be minted with a shared or empty secret.
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-_.~+/]+=*)[ \t]*$/i;
const COMPACT_JWT = /^[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*$/;
// RFC 9068 section 2.1 types access tokens "at+jwt"; plain "JWT" or none is what most issuers send.
// Media types are case-insensitive and may carry the "application/" prefix (RFC 7515 section 4.1.9).
const ACCESS_TOKEN_TYP = /^(application\/)?(jwt|at\+jwt)$/i;

function unauthenticated(reason: string): FhirError {
  return new FhirError('unauthenticated', reason);
}

/** Token from the header, per RFC 6750 section 2.1 (the scheme is case-insensitive, RFC 7235). */
function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw unauthenticated('Missing bearer token (Authorization header)');
  if (!/^Bearer(\s|$)/i.test(header.trimStart())) throw unauthenticated('Authorization scheme must be Bearer');
  const m = BEARER.exec(header.trim());
  if (!m) throw unauthenticated('Missing or malformed bearer token');
  const token = m[1]!;
  if (!COMPACT_JWT.test(token)) throw unauthenticated('Access token is malformed: not a signed JWT');
  return token;
}

/** Turns a verification failure into a message that names the reason, never the token or its claims. */
function mapError(err: unknown, unknownKeyHint: string | undefined): FhirError {
  if (err instanceof FhirError) return err;
  if (err instanceof errors.JWTExpired) return unauthenticated('Access token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return unauthenticated(`Access token is invalid: missing "${err.claim}" claim`);
    switch (err.claim) {
      case 'iss':
        return unauthenticated('Access token is from an issuer this server does not trust');
      case 'aud':
        return unauthenticated('Access token is not intended for this server (audience)');
      case 'nbf':
        return unauthenticated('Access token is not yet valid (nbf)');
      default:
        return unauthenticated(`Access token is invalid: "${err.claim}" claim check failed`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthenticated('Access token signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey) {
    return unauthenticated(`Access token signature is invalid: no trusted key matches its kid/alg${unknownKeyHint ? `. ${unknownKeyHint}` : ''}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return unauthenticated(`Access token algorithm not accepted (accepted: ${ACCEPTED_ALGORITHMS.join(', ')})`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JWKInvalid) {
    return unauthenticated('Access token is malformed');
  }
  // JWKSTimeout, JWKSInvalid, a failed fetch: the keys are unavailable, which is not the caller's fault.
  return new FhirError('unavailable', 'Cannot obtain the keys that verify access tokens; try again later');
}

/**
 * Refuses what is signed by a trusted issuer but is not an access token: an ID token or a refresh
 * token must not open the API. Also refuses an iat in the future, which jose checks only together
 * with a maximum token age.
 */
function checkAccessToken({ payload, protectedHeader }: JWTVerifyResult, toleranceSec: number): JWTPayload {
  const typ = protectedHeader.typ;
  if (typ !== undefined && !(typeof typ === 'string' && ACCESS_TOKEN_TYP.test(typ))) {
    throw unauthenticated('The token is not an access token (its JWT typ is neither JWT nor at+jwt)');
  }
  if (payload.token_use !== undefined && payload.token_use !== 'access') {
    throw unauthenticated('The token is not an access token (its token_use claim is not "access")');
  }
  if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + toleranceSec) {
    throw unauthenticated('Access token is not yet valid (issued in the future, iat)');
  }
  return payload;
}

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const fileKeys =
    opts.jwks.kind === 'local' && opts.jwks.file
      ? new FileKeySet(publicJwks(opts.jwks.jwks, 'JWKS'), opts.jwks.file, opts.onKeysError, opts.keysCheckIntervalMs, opts.now)
      : undefined;
  // A remote set is fetched again by jose when a token names an unknown kid (at most every 30 s).
  const keys: JWTVerifyGetKey =
    fileKeys?.getKey ??
    (opts.jwks.kind === 'local' ? createLocalJWKSet(publicJwks(opts.jwks.jwks, 'JWKS')) : createRemoteJWKSet(checkJwksUrl(opts.jwks.url)));
  const toleranceSec = opts.clockToleranceSec ?? 30;
  const verifyOptions: JWTVerifyOptions = {
    issuer: opts.issuer,
    audience: opts.audience,
    algorithms: ACCEPTED_ALGORITHMS,
    requiredClaims: ['exp'],
    clockTolerance: toleranceSec,
  };

  async function verifyWithKeys(token: string): Promise<JWTVerifyResult> {
    try {
      return await jwtVerify(token, keys, verifyOptions);
    } catch (err) {
      // Several keys may match a token without kid (e.g. during key rotation): try each.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      for await (const key of err) {
        try {
          return await jwtVerify(token, key, verifyOptions);
        } catch (inner) {
          if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }

  async function verify(token: string): Promise<JWTPayload> {
    try {
      return checkAccessToken(await verifyWithKeys(token), toleranceSec);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey && fileKeys && (await fileKeys.refresh()))) throw err;
      cache.clear();
      return checkAccessToken(await verifyWithKeys(token), toleranceSec);
    }
  }

  const cache = new VerifiedTokenCache();
  return {
    verified(authorizationHeader) {
      // When the key file is due for a check, the token goes the long way (authenticate).
      if (fileKeys?.due()) return undefined;
      const m = authorizationHeader ? BEARER.exec(authorizationHeader.trim()) : null;
      return m ? cache.get(m[1]!) : undefined;
    },
    async authenticate(authorizationHeader) {
      const token = bearerToken(authorizationHeader);
      // New keys drop what was verified with the old ones: a key removed from the file stops being
      // trusted within one check interval, for tokens already seen too.
      if (fileKeys?.due() && (await fileKeys.refresh())) cache.clear();
      const known = cache.get(token);
      if (known) return known;
      let claims: JWTPayload;
      try {
        claims = await verify(token);
      } catch (err) {
        throw mapError(err, opts.unknownKeyHint);
      }
      const principal = principalFromClaims(claims);
      cache.set(token, principal, claims.exp);
      return principal;
    },
  };
}
