import type { SubscriptionConfig } from '../config.js';
import type { Job, JobLog } from '../jobs/scheduler.js';
import type { SearchRegistry } from '../search/registry.js';
import type { Store } from '../store/store.js';
import { createSender } from './deliver.js';
import { createDispatcher } from './dispatch.js';
import { prune } from './queue.js';

export interface SubscriptionJobDeps {
  store: Store;
  registry: SearchRegistry;
  baseUrl: string;
  config: SubscriptionConfig;
  log: JobLog;
}

export const SUBSCRIPTION_JOB = 'subscriptions';
/** Websocket events are for the sockets bound now: kept a minute for the servers to read them. */
const WS_MAX_AGE_MS = 60_000;
const PRUNE_EVERY = 30;

/**
 * Subscriptions as a scheduled job (src/jobs/scheduler.ts): every second, under its lease, one
 * process of all those on the store follows the change feed, queues what matches, and sends what
 * is due. A pass that stops midway is taken up by the next one, here or elsewhere.
 */
export function subscriptionJob(deps: SubscriptionJobDeps): Job {
  const dispatcher = createDispatcher({ store: deps.store, registry: deps.registry, baseUrl: deps.baseUrl, lagMs: deps.config.lagMs, log: deps.log });
  const sender = createSender({
    store: deps.store, registry: deps.registry, baseUrl: deps.baseUrl, allowedHosts: deps.config.allowedHosts,
    maxAttempts: deps.config.maxAttempts, retryMs: deps.config.retryMs, timeoutMs: deps.config.timeoutMs, log: deps.log,
  });
  let wsAfter: string | undefined;
  let runs = 0;
  return {
    name: SUBSCRIPTION_JOB,
    cron: '* * * * * *',
    async run(ctx) {
      const queued = await dispatcher.dispatch(ctx.now(), ctx.signal);
      const sent = await sender.send(ctx.now(), ctx.signal);
      // Leftovers are cleared while there is traffic, else now and then: an idle pass stays a few reads.
      if (queued > 0 || sent > 0 || runs++ % PRUNE_EVERY === 0) {
        const since = await dispatcher.since();
        if (since) wsAfter = await prune(deps.store, since, ctx.now().getTime(), WS_MAX_AGE_MS, wsAfter);
      }
      return { queued, sent };
    },
  };
}
