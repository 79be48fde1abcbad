import { fhirError } from '../errors.js';
import type { OperationHandler } from '../operations/types.js';
import type { InteractionHandler } from './types.js';

/** Dispatches `$name` requests to the registered operations. */
export function operationInteraction(operations: OperationHandler[]): InteractionHandler {
  const byName = new Map(operations.map((op) => [op.name, op]));
  return {
    name: 'operation',
    traits: { readOnly: false, needsType: false },
    async handle(req, ctx) {
      const op = req.operation !== undefined ? byName.get(req.operation) : undefined;
      if (!op) throw fhirError('not-found', `Operation $${req.operation} is not supported`);
      const level = req.id !== undefined ? 'instance' : req.type !== undefined ? 'type' : 'system';
      if (!op.definition[level]) throw fhirError('bad-request', `$${op.name} is not available at ${level} level`);
      return op.handle(req, ctx);
    },
  };
}
