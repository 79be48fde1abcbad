import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadAuthServer } from './auth/auth-server.js';
import { loadJwks } from './auth/jwks.js';
import { createAuthenticator } from './auth/authenticator.js';
import { ensureLocalIssuer } from './auth/local-issuer.js';
import type { Config } from './config.js';
import { SERVED_TYPES } from './fhir/resource-types.js';
import { createHttpServer } from './http/server.js';
import { buildCapabilityStatement, buildSmartConfiguration } from './interactions/capabilities.js';
import { createExecutor } from './interactions/executor.js';
import { createScheduler, type Scheduler } from './jobs/scheduler.js';
import { handlers } from './interactions/registry.js';
import { operations } from './operations/registry.js';
import { packageVersion } from './paths.js';
import { indexResource } from './search/extract.js';
import { createSearchRegistry } from './search/registry.js';
import { createLmdbStore } from './store/lmdb/lmdb-store.js';
import { createMongoStore } from './store/mongo/mongo-store.js';
import type { Store } from './store/store.js';
import { createValidator } from './validation/validator.js';
import { subscriptionJob } from './subscriptions/job.js';


export interface AppDeps {
  config: Config;
  logger: Logger;
  /** The clock; tests inject one. */
  now?: () => Date;
}

export interface App {
  http: FastifyInstance;
  store: Store;
  /** The scheduled jobs; src/main.ts starts their timers (CARNET_JOBS), tests run them with runNow. */
  scheduler: Scheduler;
  /**
   * Compiles the validators of the served types one at a time, yielding between them, so the first
   * write of each type does not pay for it. src/main.ts runs it before listening.
   */
  warmUp(): Promise<void>;
  /** Stops accepting, finishes in-flight requests, closes the store. */
  close(): Promise<void>;
}

export async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.mongodbUri) {
    return createMongoStore({ uri: config.mongodbUri, db: config.mongodbDb });
  }
  mkdirSync(config.dataDir, { recursive: true });
  logger.debug({ dataDir: config.dataDir }, 'opening the embedded store');
  return createLmdbStore({ path: join(config.dataDir, 'store'), log: (message) => logger.info(message) });
}

/**
 * What opening the server does to its data directory and store, done once ahead of several workers
 * (see src/main.ts): the store's layout is brought up to date and the development issuer created.
 */
export async function prepareData(config: Config, logger: Logger): Promise<void> {
  const store = await openStore(config, logger);
  await store.close();
  if (!config.authJwks) {
    mkdirSync(config.dataDir, { recursive: true });
    await ensureLocalIssuer(config.dataDir);
  }
}

async function openAuthenticator(config: Config, logger: Logger) {
  if (config.authJwks) {
    return {
      authenticator: createAuthenticator({
        jwks: await loadJwks(config.authJwks), issuer: config.authIssuer!, audience: config.authAudience!, onKeysError: (message) => logger.warn(message),
      }),
      issuer: config.authIssuer!,
      authServer: await loadAuthServer({
        issuer: config.authIssuer!, discoveryUrl: config.authDiscovery, authorizationEndpoint: config.authAuthorizationEndpoint, tokenEndpoint: config.authTokenEndpoint,
      }),
    };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const local = await ensureLocalIssuer(config.dataDir);
  logger.warn('CARNET_AUTH_JWKS is not set: running with a local development token issuer (npm run token). Do not use this in production.');
  const unknownKeyHint = 'This server runs the local development issuer: a token from npm run token works only against a server started with the same CARNET_DATA_DIR (the key pair lives there)';
  return { authenticator: createAuthenticator({ jwks: { kind: 'local', jwks: local.jwks }, issuer: local.issuer, audience: local.audience, unknownKeyHint }), issuer: local.issuer, authServer: undefined };
}

export async function createApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const store = await openStore(config, logger);
  try {
    logger.info({ engine: store.info.engine, atomicCommit: store.info.atomicCommit }, store.info.atomicity);
    const { authenticator, issuer, authServer } = await openAuthenticator(config, logger);
    const registry = createSearchRegistry();
    const validator = createValidator();
    // eslint-disable-next-line prefer-const -- the Bundle handlers reach the executor that holds them
    let executor: ReturnType<typeof createExecutor>;
    const handlerMap = handlers(operations, () => executor, { maxBundleEntries: config.maxBundleEntries });
    executor = createExecutor({
      store, registry, validator, now, baseUrl: config.baseUrl, defaultCount: config.defaultCount, maxCount: config.maxCount, limits: { binaryBytes: config.binaryLimit, maxStringLength: config.maxStringLength, maxArrayItems: config.maxArrayItems, maxElements: config.maxElements }, searchBudget: config.searchBudget, handlers: handlerMap, audit: config.audit, subscriptionHosts: config.subscriptions.allowedHosts,
    });
    const capabilityStatement = buildCapabilityStatement({
      baseUrl: config.baseUrl, version: packageVersion(), registry, interactions: new Set(handlerMap.keys()), operations, store: store.info, now: now(),
      supportedProfiles: (type) => validator.profilesOf(type),
      cors: config.corsOrigins.length > 0,
    });
    const smart = buildSmartConfiguration({ issuer, authServer });
    const scheduler = createScheduler({ store, now, log: logger });
    scheduler.add(subscriptionJob({ store, registry, baseUrl: config.baseUrl, config: config.subscriptions, log: logger }));
    const http = createHttpServer({
      logger, bodyLimit: config.bodyLimit, maxDepth: config.maxDepth, authenticator, executor, store,
      capabilities: () => capabilityStatement, smartConfiguration: () => smart,
      corsOrigins: config.corsOrigins, maxConnections: config.maxConnections, requestTimeoutMs: config.requestTimeoutMs,
    });
    let closed = false;
    return {
      http,
      store,
      scheduler,
      async warmUp() {
        for (const type of SERVED_TYPES) {
          await new Promise((resolve) => setImmediate(resolve));
          if (closed) return;
          validator.prepare(type);
          // The first extraction of a type loads what its search parameters need (bindings, value sets).
          indexResource({ resourceType: type }, registry, { baseUrl: config.baseUrl });
        }
      },
      async close() {
        closed = true;
        await scheduler.stop();
        await http.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
