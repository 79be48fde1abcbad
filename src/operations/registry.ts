import { verify } from '../audit/verify.js';
import { everything } from './everything/everything.js';
import { summary } from './summary/summary.js';
import type { OperationHandler } from './types.js';
import { validate } from './validate.js';

/** The $operations carnet serves. */
export const operations: OperationHandler[] = [validate, verify, everything, summary];
