import cluster from 'node:cluster';
import { createApp, prepareData } from './app.js';
import { supervise } from './cluster.js';
import { loadConfigOrExit, type Config } from './config.js';
import { createLogger } from './log.js';

async function serve(config: Config): Promise<void> {
  const root = createLogger(config.logLevel);
  // A worker's lines say which worker wrote them.
  const logger = cluster.isWorker ? root.child({ worker: cluster.worker!.id }) : root;
  const app = await createApp({ config, logger });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Compiled before listening: a request arriving during a compile would wait for it (about a second).
  const t0 = performance.now();
  await app.warmUp();
  logger.debug({ ms: Math.round(performance.now() - t0) }, 'validators compiled');
  await app.http.listen({ port: config.port, host: config.host });
  // Every worker and every server schedules the jobs; the job's lease in the store lets one run it.
  if (config.jobs) app.scheduler.start();
  logger.info({ url: config.baseUrl, store: app.store.info.engine }, 'carnet is serving FHIR R4');
}

/**
 * With CARNET_WORKERS above 1 this process becomes the supervisor of that many servers. It first
 * does once what each of them would otherwise race to do at start: bring the store to the
 * current layout and create the development token issuer.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit('carnet');
  if (config.workers <= 1 || !cluster.isPrimary) return serve(config);
  const logger = createLogger(config.logLevel);
  if (!config.mongodbUri) {
    logger.warn({ workers: config.workers }, 'several server processes write one embedded store: lmdb-js has aborted in its free-page bookkeeping this way (README: "Open problem on the embedded engine"); prefer one process, or MongoDB');
  }
  await prepareData(config, logger);
  process.exit(await supervise({ workers: config.workers, logger }));
}

main().catch((err) => {
  process.stderr.write(`carnet: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
