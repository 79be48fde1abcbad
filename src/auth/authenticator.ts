import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { FhirError } from '../errors.js';
import { checkJwksUrl, publicJwks, type JWKSource } from './jwks.js';
import { principalFromClaims, type Principal } from './principal.js';
import { VerifiedTokenCache } from './verified-cache.js';

export type { FhirUser, FhirUserType, Principal } from './principal.js';
export type { JWKSource } from './jwks.js';

export interface AuthenticatorOptions {
  jwks: JWKSource;
  issuer: string;
  audience: string;
  /** Accepted clock skew for exp/nbf, in seconds (default 30). */
  clockToleranceSec?: number;
  /** Appended to the 401 of a token that no trusted key signed (the local issuer says where its key lives). */
  unknownKeyHint?: string;
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

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const keys: JWTVerifyGetKey =
    opts.jwks.kind === 'local'
      ? createLocalJWKSet(publicJwks(opts.jwks.jwks, 'JWKS'))
      : createRemoteJWKSet(checkJwksUrl(opts.jwks.url));
  const verifyOptions: JWTVerifyOptions = {
    issuer: opts.issuer,
    audience: opts.audience,
    algorithms: ACCEPTED_ALGORITHMS,
    requiredClaims: ['exp'],
    clockTolerance: opts.clockToleranceSec ?? 30,
  };

  async function verify(token: string): Promise<JWTPayload> {
    try {
      return (await jwtVerify(token, keys, verifyOptions)).payload;
    } catch (err) {
      // Several keys may match a token without kid (e.g. during key rotation): try each.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      for await (const key of err) {
        try {
          return (await jwtVerify(token, key, verifyOptions)).payload;
        } catch (inner) {
          if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }

  const cache = new VerifiedTokenCache();
  return {
    verified(authorizationHeader) {
      const m = authorizationHeader ? BEARER.exec(authorizationHeader.trim()) : null;
      return m ? cache.get(m[1]!) : undefined;
    },
    async authenticate(authorizationHeader) {
      const token = bearerToken(authorizationHeader);
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
