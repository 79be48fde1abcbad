import { FhirError, fhirError } from '../errors.js';
import { isServedType } from '../fhir/resource-types.js';
import type { Principal } from '../auth/authenticator.js';
import { authorize, compartmentFilter, type AccessGrant } from '../access/permissions.js';
import { SearchBudgetExceeded, type SearchBudget, type Store } from '../store/store.js';
import type { SearchRegistry } from '../search/registry.js';
import type { Validator } from '../validation/validator.js';
import type { Context, Log, FhirRequest, FhirResult, InteractionHandler } from './types.js';

export interface ExecutorDeps {
  store: Store;
  registry: SearchRegistry;
  validator: Validator;
  now: () => Date;
  baseUrl: string;
  defaultCount: number;
  maxCount: number;
  limits: { binaryBytes: number; maxStringLength: number; maxArrayItems: number; maxElements: number };
  /** Records one request's searches may examine together (CARNET_SEARCH_BUDGET). */
  searchBudget: number;
  handlers: Map<string, InteractionHandler>;
}

export interface Executor {
  /** `budget`: the search budget of an enclosing request (a batch's), shared; a new one otherwise. */
  execute(req: FhirRequest, principal: Principal, requestId: string, log: Log, budget?: SearchBudget): Promise<FhirResult>;
  /** Checks and authorizes a request without running it: its handler and its context (for transactions). */
  prepare(req: FhirRequest, principal: Principal, requestId: string, log: Log, budget?: SearchBudget): { handler: InteractionHandler; ctx: Context };
}

/** The answer to a request whose searches examined more than the budget allows. */
export function tooCostly(e: SearchBudgetExceeded): FhirError {
  return fhirError(
    'too-costly',
    `This request's searches would examine more than ${e.limit} resources (CARNET_SEARCH_BUDGET); narrow the search, e.g. to a patient, a code or a date range`,
  );
}

/** Matches no record: what a caller may not read of a type. */
const NOTHING = { id: { $in: [] } };

/**
 * The access clauses per resource type for one request: the request's own grant for its type; for
 * other types a query reaches (includes, chains, _has), the caller's read grant on that type,
 * decided once per type and kept for the request.
 */
function accessFor(principal: Principal, grant: AccessGrant, requestType: string | undefined): (type: string) => Record<string, unknown>[] {
  const decided = new Map<string, Record<string, unknown>[]>();
  return (type) => {
    let clauses = decided.get(type);
    if (!clauses) {
      let g: AccessGrant | undefined = grant;
      if (type !== requestType) {
        try {
          g = authorize(principal, type, 'search-type');
        } catch {
          g = undefined;
        }
      }
      const clause = g ? compartmentFilter(g, type) : NOTHING;
      clauses = clause ? [clause] : [];
      decided.set(type, clauses);
    }
    return clauses;
  };
}

/**
 * Applies the cross-cutting rules once for every interaction: the type is served, the caller's
 * scopes grant the interaction, and the access decision becomes query clauses in the context.
 */
export function createExecutor(deps: ExecutorDeps): Executor {
  const context = (principal: Principal, grant: AccessGrant, requestType: string | undefined, requestId: string, log: Log, budget: SearchBudget): Context => ({
    store: deps.store,
    registry: deps.registry,
    validator: deps.validator,
    now: deps.now,
    baseUrl: deps.baseUrl,
    defaultCount: deps.defaultCount,
    maxCount: deps.maxCount,
    limits: deps.limits,
    requestId,
    log,
    principal,
    grant,
    accessClauses: accessFor(principal, grant, requestType),
    budget,
  });

  const prepare: Executor['prepare'] = (req, principal, requestId, log, budget) => {
    const handler = deps.handlers.get(req.interaction);
    if (!handler) throw fhirError('method-not-allowed', `The ${req.interaction} interaction is not supported`);
    if (req.type !== undefined && !isServedType(req.type)) {
      throw fhirError('type-not-supported', `Resource type "${req.type}" is not served by this server`);
    }
    if (handler.traits.needsType && req.type === undefined) throw fhirError('bad-request', `${req.interaction} needs a resource type`);
    const grant = authorize(principal, req.type ?? '*', req.interaction);
    return { handler, ctx: context(principal, grant, req.type, requestId, log, budget ?? { limit: deps.searchBudget, examined: 0 }) };
  };

  return {
    prepare,
    async execute(req, principal, requestId, log, budget) {
      const { handler, ctx } = prepare(req, principal, requestId, log, budget);
      try {
        return await handler.handle(req, ctx);
      } catch (e) {
        throw e instanceof SearchBudgetExceeded ? tooCostly(e) : e;
      }
    },
  };
}
