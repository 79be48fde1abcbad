import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator, Principal } from '../auth/authenticator.js';

const principals = new WeakMap<FastifyRequest, Principal>();

/** Paths served without a token: nothing in them is health data. */
const PUBLIC = new Set(['/fhir/metadata', '/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration', '/health', '/ready']);

export function isPublic(path: string): boolean {
  return PUBLIC.has(path);
}

/** Every other request needs a valid bearer token, checked before the body is read. */
export function registerAuthHook(app: FastifyInstance, authenticator: Authenticator): void {
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
      (err: Error) => done(err),
    );
  });
}

export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  // Unreachable for a route behind the hook; a loud failure beats anonymous access.
  if (!p) throw new Error('request reached a data route without an authenticated principal');
  return p;
}
