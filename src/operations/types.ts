import type { Context, FhirRequest, FhirResult } from '../interactions/types.js';

/** A $operation: its OperationDefinition (JSON beside it) and its handler. */
export interface OperationHandler {
  name: string;
  definition: Record<string, unknown> & { url: string; resource?: string[]; system: boolean; type: boolean; instance: boolean };
  /** Whether it changes data (decides the scope letter it needs). */
  affectsState: boolean;
  handle(req: FhirRequest, ctx: Context): Promise<FhirResult>;
}
