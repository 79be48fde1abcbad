import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ACCESS_TYPES } from './access/facts-cache.js';
import { ACCESS_DERIVATION } from './access/lookup.js';
import { loadAuthServer } from './auth/auth-server.js';
import { loadJwks } from './auth/jwks.js';
import { createAuthenticator } from './auth/authenticator.js';
import { ensureLocalIssuer } from './auth/local-issuer.js';
import type { Config } from './config.js';
import { SERVED_TYPES } from './fhir/resource-types.js';
import { createHttpServer } from './http/server.js';
import { buildCapabilityStatement, buildSmartConfiguration } from './interactions/capabilities.js';
import { createExecutor } from './interactions/executor.js';
import type { Auditor } from './audit/auditor.js';
import { createScheduler, type Scheduler } from './jobs/scheduler.js';
import { auditRetentionJob } from './audit/retention.js';
import { embargoNoticeJob } from './notify/embargo-job.js';
import { handlers } from './interactions/registry.js';
import { operations } from './operations/registry.js';
import { exportOperation } from './operations/export.js';
import { createExportRunner, type ExportRunnerDeps } from './export/runner.js';
import { packageVersion } from './paths.js';
import { PREVENTION_JOB, preventionJob } from './prevention/job.js';
import { preventionPlan } from './prevention/plan-operation.js';
import { loadRules } from './prevention/rules.js';
import { preventionRun, preventionStatus } from './prevention/run-operation.js';
import { indexResource } from './search/extract.js';
import { createSearchRegistry, type SearchRegistry } from './search/registry.js';
import { searchDataOf } from './search/extract.js';
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
  /** Tests hold Bulk Data export jobs midway with it. */
  exportHooks?: Pick<ExportRunnerDeps, 'beforeFile'>;
}

export interface App {
  http: FastifyInstance;
  store: Store;
  /** The scheduled jobs; src/main.ts starts their timers (CARNET_JOBS), tests run them with runNow. */
  scheduler: Scheduler;
  /** The access history's recorder (its journal flushes the chains' heads at close; tests flush them). */
  auditor: Auditor;
  /**
   * Compiles the validators of the served types one at a time, yielding between them, so the first
   * write of each type does not pay for it. src/main.ts runs it before listening.
   */
  warmUp(): Promise<void>;
  /** Stops accepting, finishes in-flight requests, closes the store. */
  close(): Promise<void>;
}

/**
 * The store as the server opens it. With the registry, the embedded engine derives the access
 * history's search data when it reads an event rather than keeping it (Store.derivesSearchData).
 */
export async function openStore(config: Config, logger: Logger, registry?: SearchRegistry): Promise<Store> {
  if (config.mongodbUri) {
    return createMongoStore({ uri: config.mongodbUri, db: config.mongodbDb, marked: ACCESS_TYPES, derivation: ACCESS_DERIVATION });
  }
  mkdirSync(config.dataDir, { recursive: true });
  logger.debug({ dataDir: config.dataDir }, 'opening the embedded store');
  return createLmdbStore({
    path: join(config.dataDir, 'store'), log: (message) => logger.info(message), marked: ACCESS_TYPES, derivation: ACCESS_DERIVATION,
    ...(registry ? { searchData: searchDataOf(registry, { baseUrl: config.baseUrl }) } : {}),
  });
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
  const registry = createSearchRegistry();
  const store = await openStore(config, logger, registry);
  try {
    logger.info({ engine: store.info.engine, atomicCommit: store.info.atomicCommit }, store.info.atomicity);
    const { authenticator, issuer, authServer } = await openAuthenticator(config, logger);
    const validator = createValidator();
    const exportRunner = createExportRunner({
      store, registry, baseUrl: config.baseUrl, now, log: logger, ...deps.exportHooks,
      limits: { maxJobsPerClient: config.exportMaxJobs, fileBytes: config.exportFileBytes, pageSize: 1000, leaseMs: 30_000, keepMs: config.exportKeepSeconds * 1000, searchBudget: config.searchBudget },
    });
    const served: typeof operations = [...operations, exportOperation(exportRunner)];
    // eslint-disable-next-line prefer-const -- the Bundle handlers reach the executor that holds them
    let executor: ReturnType<typeof createExecutor>;
    const scheduler = createScheduler({ store, now, log: logger });
    const rules = loadRules(config.preventionRules);
    const startPrevention = () => {
      scheduler.runNow(PREVENTION_JOB).catch((err: unknown) => logger.error({ err, job: PREVENTION_JOB }, 'the prevention run failed; the next run takes it up'));
    };
    served.push(preventionPlan(rules), preventionRun(startPrevention), preventionStatus);
    const limits = { binaryBytes: config.binaryLimit, maxStringLength: config.maxStringLength, maxArrayItems: config.maxArrayItems, maxElements: config.maxElements };
    const handlerMap = handlers(served, () => executor, { maxBundleEntries: config.maxBundleEntries });
    executor = createExecutor({
      store, registry, validator, now, baseUrl: config.baseUrl, defaultCount: config.defaultCount, maxCount: config.maxCount, limits, searchBudget: config.searchBudget, handlers: handlerMap, audit: config.audit, subscriptionHosts: config.subscriptions.allowedHosts,
      onAuditError: (err) => logger.error({ err }, 'the counts of refused requests could not be recorded'),
    });
    // The job's writes are validated and audited as a client's would be.
    scheduler.add(preventionJob({
      store, registry, baseUrl: config.baseUrl, rules, batchSize: config.preventionBatch, cron: config.preventionCron,
      validation: { validator, limits }, journal: config.audit ? executor.auditor.journal : undefined,
    }));
    const capabilityStatement = buildCapabilityStatement({
      baseUrl: config.baseUrl, version: packageVersion(), registry, interactions: new Set(handlerMap.keys()), operations: served, store: store.info, now: now(),
      supportedProfiles: (type) => validator.profilesOf(type),
      cors: config.corsOrigins.length > 0,
    });
    const smart = buildSmartConfiguration({ issuer, authServer, exportEndpoints: ['/$export', '/Patient/$export', '/Group/[id]/$export'].map((p) => `${config.baseUrl}${p}`) });
    scheduler.add(auditRetentionJob({ store, policy: config.auditRetention }));
    // A job whose process died is taken up once its lease expires, by whichever process runs this first.
    scheduler.add({ name: 'export-resume', cron: '*/30 * * * * *', run: () => exportRunner.resume() });
    // Finished exports are kept CARNET_EXPORT_KEEP, then removed with their files' bytes.
    scheduler.add({ name: 'export-expire', cron: '*/5 * * * *', run: () => exportRunner.expire() });
    scheduler.add(embargoNoticeJob({ store, registry, baseUrl: config.baseUrl }));
    scheduler.add(subscriptionJob({ store, registry, baseUrl: config.baseUrl, config: config.subscriptions, log: logger }));
    const http = createHttpServer({
      logger, bodyLimit: config.bodyLimit, maxDepth: config.maxDepth, maxElements: config.maxElements, authenticator, executor, store,
      capabilities: () => capabilityStatement, smartConfiguration: () => smart,
      corsOrigins: config.corsOrigins, maxConnections: config.maxConnections, requestTimeoutMs: config.requestTimeoutMs,
      exports: { runner: exportRunner, baseUrl: config.baseUrl }, refusals: executor.auditor.refusals,
    });
    // Exports left running by a stopped process are taken up at once (their leases were released).
    exportRunner.resume().catch((err: unknown) => logger.error({ err }, 'running exports could not be taken up'));
    let closed = false;
    return {
      http,
      store,
      scheduler,
      auditor: executor.auditor,
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
        await exportRunner.stop();
        await http.close();
        // The counts of the refusals (401) of the interval under way, before the heads they move.
        await executor.auditor.refusals.flush().catch((err: unknown) => logger.error({ err }, 'the counts of refused requests could not be recorded'));
        await executor.auditor.journal.flushHeads();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
