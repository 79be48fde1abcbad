import { FhirError } from '../errors.js';
import { pace } from '../pace.js';
import { bundle, type BundleEntry } from './bundle.js';
import { errorEntry, parseEntry, responseEntry } from './bundle-entries.js';
import type { Executor } from './executor.js';
import { checkBundle } from './transaction.js';
import type { InteractionHandler } from './types.js';

/**
 * A batch: each entry on its own, in order, with its own status; one failure stops no other. The
 * entries share the batch's search budget: once their searches together have examined the
 * budget's records, each further search entry answers 400 too-costly (its own response), while
 * reads and writes go on.
 */
export function batchInteraction(getExecutor: () => Executor, maxEntries: number): InteractionHandler {
  return {
    name: 'batch',
    traits: { readOnly: false, needsType: false },
    async handle(req, ctx) {
      const executor = getExecutor();
      const entries = checkBundle(req.body, 'batch', maxEntries);
      const out: BundleEntry[] = [];
      // An entry that awaits nothing but the store may never hand the event loop back: between
      // entries, other requests get their turn every few milliseconds.
      const slice = pace(1);
      for (let i = 0; i < entries.length; i++) {
        if (slice.due()) await slice.pause();
        try {
          const p = parseEntry(entries[i], i, ctx.baseUrl, req);
          const result = await executor.execute(p.req, ctx.principal, ctx.requestId, ctx.log, ctx.budget);
          out.push(responseEntry(result, ctx.baseUrl));
        } catch (e) {
          if (!(e instanceof FhirError)) ctx.log.error({ err: e, entry: i }, 'batch entry failed');
          out.push(errorEntry(e, ctx.requestId));
        }
      }
      return { status: 200, body: bundle('batch-response', out, { now: ctx.now() }) };
    },
  };
}
