import type { FastifyInstance } from 'fastify';

/**
 * What the server says about itself is public and the same for everyone: caches may keep it.
 * Everything else may be health data, or a status that must be fresh: never stored by a browser or
 * a proxy (Cache-Control: no-store).
 */
const CACHEABLE = new Set(['/fhir/metadata', '/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration']);

/** Set before routing, so errors (401, 404, 406) carry them too; a route may override them. */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (req, reply, done) => {
    // A JSON answer (or a Binary in its own type) is never sniffed into something a browser runs.
    reply.header('x-content-type-options', 'nosniff');
    if (!CACHEABLE.has(req.url.split('?')[0])) reply.header('cache-control', 'no-store');
    done();
  });
}
