import type { OperationHandler } from '../operations/types.js';
import { batchInteraction } from './batch.js';
import type { Executor } from './executor.js';
import { transactionInteraction } from './transaction.js';
import { create } from './create.js';
import { del } from './delete.js';
import { history } from './history.js';
import { operationInteraction } from './operation.js';
import { patch } from './patch.js';
import { read } from './read.js';
import { search, searchSystem } from './search.js';
import type { InteractionHandler } from './types.js';
import { update } from './update.js';
import { vread } from './vread.js';

/** Every interaction carnet serves, by name. The CapabilityStatement is generated from this map. */
export function handlers(operations: OperationHandler[], getExecutor: () => Executor, limits: { maxBundleEntries: number }): Map<string, InteractionHandler> {
  const map = new Map<string, InteractionHandler>();
  for (const h of [read, vread, create, update, patch, del, search, searchSystem]) map.set(h.name, h);
  for (const name of ['history-system', 'history-type', 'history-instance']) map.set(name, history);
  map.set('operation', operationInteraction(operations));
  map.set('transaction', transactionInteraction(getExecutor, limits.maxBundleEntries));
  map.set('batch', batchInteraction(getExecutor, limits.maxBundleEntries));
  return map;
}
