import { createApp } from './app.js';
import { loadConfigOrExit } from './config.js';
import { createLogger } from './log.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit('carnet');
  const logger = createLogger(config.logLevel);
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
  await app.http.listen({ port: config.port, host: config.host });
  logger.info({ url: config.baseUrl, store: app.store.info.engine }, 'carnet is serving FHIR R4');
  const t0 = performance.now();
  await app.warmUp();
  logger.debug({ ms: Math.round(performance.now() - t0) }, 'validators compiled');
}

main().catch((err) => {
  process.stderr.write(`carnet: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
