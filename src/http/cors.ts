import type { FastifyInstance } from 'fastify';

// What a FHIR client reads from answers, and the request headers it sends (FHIR R4 http.html).
const EXPOSED = 'Location, ETag, Content-Location, X-Progress, X-Request-Id';
const ALLOWED_HEADERS = 'Authorization, Content-Type, If-Match, If-None-Exist, If-None-Match, If-Modified-Since, Prefer, Accept, X-Security-Context';
const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';

/**
 * CORS for browser SMART apps on the configured origins (CARNET_CORS_ORIGINS). The bearer token
 * travels in a header the app sets itself, so credentials mode (cookies) is never allowed. An origin
 * not in the list gets no CORS headers, which the browser turns into a refusal; a preflight from an
 * allowed origin is answered here, before the token check, since browsers send it without one.
 */
export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  app.addHook('onRequest', (req, reply, done) => {
    // The answer depends on the Origin: a cache must not hand one origin's answer to another.
    if (!anyOrigin) reply.header('vary', 'Origin');
    const origin = req.headers.origin;
    if (origin === undefined || !(anyOrigin || allowed.has(origin))) return done();
    reply.header('access-control-allow-origin', anyOrigin ? '*' : origin);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      reply
        .header('access-control-allow-methods', METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .code(204)
        .send();
      return;
    }
    reply.header('access-control-expose-headers', EXPOSED);
    done();
  });
}
