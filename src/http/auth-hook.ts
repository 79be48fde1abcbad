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
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0];
    if (isPublic(path)) return;
    principals.set(req, await authenticator.authenticate(req.headers.authorization));
  });
}

export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  // Unreachable for a route behind the hook; a loud failure beats anonymous access.
  if (!p) throw new Error('request reached a data route without an authenticated principal');
  return p;
}
