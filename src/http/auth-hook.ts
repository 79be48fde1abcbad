import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RefusalRecorder } from '../audit/unauthenticated.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { FhirError, fhirError } from '../errors.js';
import { attempted } from './attempted.js';

const principals = new WeakMap<FastifyRequest, Principal>();

/** Paths served without a token: nothing in them is health data. */
const PUBLIC = new Set(['/fhir/metadata', '/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration', '/health', '/ready']);

export function isPublic(path: string): boolean {
  return PUBLIC.has(path);
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Every other request needs a valid bearer token, checked before the body is read. A request
 * refused for want of one (401) is recorded by `refusals` before its answer leaves.
 */
export function registerAuthHook(app: FastifyInstance, authenticator: Authenticator, refusals?: RefusalRecorder): void {
  const refuse = (req: FastifyRequest, err: FhirError, done: (err?: Error) => void) => {
    if (!refusals) return done(err);
    const path = req.url.split('?')[0]!;
    const userAgent = header(req, 'user-agent');
    // Through a promise: whatever fails in recording answers 503, and the request never hangs.
    Promise.resolve()
      .then(() => refusals.record({
        // A socket already gone has no address.
        address: req.ip ?? 'unknown', ...(userAgent ? { userAgent } : {}), path, ...attempted(req), reason: err.issues[0]?.diagnostics ?? err.message, requestId: req.id,
      }))
      .then(
        () => done(err),
        (e: unknown) => {
          req.log.error({ err: e }, 'the access history could not be recorded');
          done(fhirError('unavailable', 'The access history could not be recorded; try again'));
        },
      );
  };
  app.addHook('onRequest', (req, _reply, done) => {
    const path = req.url.split('?')[0];
    if (isPublic(path)) return done();
    // A token verified before needs no promise (the common case: a client's every request).
    const known = authenticator.verified(req.headers.authorization);
    if (known) {
      principals.set(req, known);
      return done();
    }
    authenticator.authenticate(req.headers.authorization).then(
      (principal) => {
        principals.set(req, principal);
        done();
      },
      (err: Error) => (err instanceof FhirError && err.status === 401 ? refuse(req, err, done) : done(err)),
    );
  });
}

export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  // Unreachable for a route behind the hook; a loud failure beats anonymous access.
  if (!p) throw new Error('request reached a data route without an authenticated principal');
  return p;
}
