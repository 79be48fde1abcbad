// npm run reindex: recomputes the search data of every stored resource with the current search
// parameter definitions (official R4 ones and conformance/search-parameters/). Uses the same
// configuration as the server (CARNET_DATA_DIR or MONGODB_URI); it may run while the server does.
import { openStore } from '../src/app.js';
import { loadConfigOrExit } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { reindexAll } from '../src/search/reindex.js';
import { createSearchRegistry } from '../src/search/registry.js';

async function main() {
  const config = loadConfigOrExit('reindex');
  const logger = createLogger(config.logLevel);
  const store = await openStore(config, logger);
  try {
    const t0 = performance.now();
    const result = await reindexAll(store, createSearchRegistry(), {
      baseUrl: config.baseUrl,
      progress: (type, done) => {
        if (done % 10_000 === 0) logger.info({ type, done }, 'reindexing');
      },
    });
    logger.info({ ...result, seconds: Math.round((performance.now() - t0) / 1000) }, 'reindex finished');
  } finally {
    await store.close();
  }
}

main().catch((err) => {
  process.stderr.write(`reindex failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
