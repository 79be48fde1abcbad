import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationHandler } from '../operations/types.js';
import { projectRoot } from '../paths.js';

/** An OperationDefinition of conformance/operations/. */
export function operationDefinition(file: string): OperationHandler['definition'] {
  return JSON.parse(readFileSync(join(projectRoot(), 'conformance', 'operations', file), 'utf8'));
}
