import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { fhirError } from '../errors.js';
import type { RefusalRecorder } from '../audit/unauthenticated.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Executor } from '../interactions/executor.js';
import type { Store } from '../store/store.js';
import { registerAuthHook } from './auth-hook.js';
import { checkAcceptable, registerParsers } from './content.js';
import { registerCors } from './cors.js';
import { sendError, sendJson } from './reply.js';
import { registerExportRoutes } from './export-routes.js';
import { registerFhirRoutes } from './routes.js';
import type { ExportRunner } from '../export/runner.js';
import { registerRequestLog } from './request-log.js';
import { registerSecurityHeaders } from './security-headers.js';
import { registerWebsocket } from './websocket.js';

export interface HttpDeps {
  logger: Logger;
  bodyLimit: number;
  maxDepth: number;
  /** Most values in one resource (CARNET_MAX_ELEMENTS): a body past it is refused before it is parsed. */
  maxElements?: number;
  authenticator: Authenticator;
  executor: Executor;
  store: Store;
  capabilities: () => unknown;
  smartConfiguration: () => unknown;
  /** Origins allowed to call from a browser (CORS); none by default. */
  corsOrigins?: readonly string[];
  /** Most open connections (Node's server.maxConnections); more are closed on arrival. */
  maxConnections?: number;
  /** Longest time to receive a whole request, ms (Fastify sets none by default). */
  requestTimeoutMs?: number;
  /** Bulk Data exports: their status URLs and files. */
  exports?: { runner: ExportRunner; baseUrl: string };
  /** Records the requests refused for want of a valid token (401) in the access history. */
  refusals?: RefusalRecorder;
}

export function createHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimit,
    genReqId: () => crypto.randomUUID(),
    // One line per request, written by request-log.ts instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    return503OnClosing: true,
    requestTimeout: deps.requestTimeoutMs ?? 300_000,
  }) as unknown as FastifyInstance;
  app.server.maxConnections = deps.maxConnections ?? 10_000;
  // Node enforces requestTimeout only while headersTimeout (60 s by default) is not longer.
  app.server.headersTimeout = Math.min(app.server.headersTimeout, deps.requestTimeoutMs ?? 300_000);
  registerParsers(app, deps.maxDepth, deps.maxElements);
  // First, so that every answer, refusals included, carries these headers.
  registerCors(app, deps.corsOrigins ?? []);
  registerSecurityHeaders(app);
  registerRequestLog(app);
  // Hooks on every request are callbacks, not async functions: a read costs tens of microseconds.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    try {
      checkAcceptable(req);
    } catch (e) {
      return done(e as Error);
    }
    done();
  });
  // Graceful shutdown: responses finished while closing tell keep-alive clients to go, so
  // close() does not wait for their idle connections to time out.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  registerAuthHook(app, deps.authenticator, deps.refusals);
  app.setErrorHandler((err, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) => sendError(fhirError('not-found', `Unknown path ${req.method} ${req.url.split('?')[0]}`), req, reply));

  // Probes for orchestrators, not FHIR: plain JSON.
  const probe = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body));
  app.get('/health', async (_req, reply) => probe(reply, 200, { status: 'ok' }));
  app.get('/ready', async (req, reply) => {
    try {
      await deps.store.ping();
      return probe(reply, 200, { status: 'ready', store: deps.store.info.engine });
    } catch (err) {
      req.log.warn({ err }, 'store not reachable');
      return probe(reply, 503, { status: 'unavailable', reason: 'The store is not reachable' });
    }
  });
  app.get('/fhir/metadata', async (req, reply) => sendJson(req, reply, 200, deps.capabilities()));
  for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    app.get(path, async (req, reply) => {
      reply.header('content-type', 'application/json');
      return reply.send(deps.smartConfiguration());
    });
  }
  if (deps.exports) registerExportRoutes(app, { ...deps.exports, store: deps.store, auditor: deps.executor.auditor });
  registerFhirRoutes(app, deps.executor);
  registerWebsocket(app, { authenticator: deps.authenticator, store: deps.store, refusals: deps.refusals });
  return app;
}
