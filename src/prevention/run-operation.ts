import { fhirError, operationOutcome } from '../errors.js';
import type { Context } from '../interactions/types.js';
import type { OperationHandler } from '../operations/types.js';
import { operationDefinition } from './definitions.js';
import { RUN_STATE, type RunState } from './job.js';

function systemOnly(ctx: Context, op: string): void {
  if (ctx.facts.actor.kind !== 'system') throw fhirError('forbidden', `$${op} is for system clients`);
}

/**
 * POST $prevention-run: starts a run of the prevention job without waiting for it (`start` runs it
 * under the job's lease: a run going elsewhere is not doubled) and answers 202 with where to follow it.
 */
export function preventionRun(start: () => void): OperationHandler {
  return {
    name: 'prevention-run',
    definition: operationDefinition('prevention-run.json'),
    affectsState: true,
    async handle(_req, ctx) {
      systemOnly(ctx, 'prevention-run');
      start();
      return {
        status: 202,
        location: `${ctx.baseUrl}/$prevention-status`,
        body: operationOutcome([{ severity: 'information', code: 'informational', diagnostics: `The prevention run has started; follow it at ${ctx.baseUrl}/$prevention-status` }]),
      };
    },
  };
}

/** GET $prevention-status: the current or last run, from the store's state (any server answers the same). */
export const preventionStatus: OperationHandler = {
  name: 'prevention-status',
  definition: operationDefinition('prevention-status.json'),
  affectsState: false,
  async handle(_req, ctx) {
    systemOnly(ctx, 'prevention-status');
    const state = (await ctx.store.getState(RUN_STATE))?.value as RunState | undefined;
    if (!state) return { status: 200, body: { resourceType: 'Parameters', parameter: [{ name: 'status', valueCode: 'none' }] } };
    const parameter = [
      { name: 'status', valueCode: state.status },
      { name: 'date', valueDate: state.date },
      { name: 'started', valueInstant: state.started },
      ...(state.finished ? [{ name: 'finished', valueInstant: state.finished }] : []),
      { name: 'patients', valueInteger: state.patients },
      { name: 'total', valueInteger: state.total },
      { name: 'created', valueInteger: state.created },
      { name: 'completed', valueInteger: state.completed },
      { name: 'closed', valueInteger: state.closed ?? 0 },
      { name: 'invalid', valueInteger: state.invalid ?? 0 },
      { name: 'resumed', valueInteger: state.resumed },
    ];
    return { status: 200, body: { resourceType: 'Parameters', parameter } };
  },
};
