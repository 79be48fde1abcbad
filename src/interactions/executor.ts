import { FhirError, fhirError } from '../errors.js';
import { isServedType } from '../fhir/resource-types.js';
import type { Principal } from '../auth/authenticator.js';
import { authorize, compartmentFilter, type AccessGrant } from '../access/permissions.js';
import { actorClauses, DIRECTORY, NOTHING } from '../access/clauses.js';
import type { AccessFacts } from '../access/facts.js';
import { createFactsCache } from '../access/facts-cache.js';
import { mayReadDocuments, namedPatients } from '../access/named.js';
import { SearchBudgetExceeded, type SearchBudget, type Store } from '../store/store.js';
import type { SearchRegistry } from '../search/registry.js';
import type { Validator } from '../validation/validator.js';
import { checkAuditWrite } from '../audit/append-only.js';
import { createAuditor, type Auditor } from '../audit/auditor.js';
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
  /** CARNET_AUDIT: record an AuditEvent for every request (default true). */
  audit?: boolean;
  /** Told when the access history fails away from any request (the counts of refused requests, see src/audit/unauthenticated.ts). */
  onAuditError?: (err: unknown) => void;
  /** Hosts a Subscription's rest-hook may name (CARNET_SUBSCRIPTION_ALLOWED_HOSTS). */
  subscriptionHosts?: readonly string[];
}

export interface Executor {
  /** `budget`: the search budget of an enclosing request (a batch's), shared; a new one otherwise. */
  execute(req: FhirRequest, principal: Principal, requestId: string, log: Log, budget?: SearchBudget): Promise<FhirResult>;
  /**
   * Checks and authorizes a request without running it: its handler and its context (for the
   * entries of a transaction, which share the facts gathered and the budget of the transaction).
   */
  prepare(req: FhirRequest, principal: Principal, requestId: string, log: Log, facts: AccessFacts, budget?: SearchBudget): { handler: InteractionHandler; ctx: Context };
  /** The access history's recorder (src/audit/). */
  readonly auditor: Auditor;
}

/** The answer to a request whose searches examined more than the budget allows. */
export function tooCostly(e: SearchBudgetExceeded): FhirError {
  return fhirError(
    'too-costly',
    `This request's searches would examine more than ${e.limit} resources (CARNET_SEARCH_BUDGET); narrow the search, e.g. to a patient, a code or a date range`,
  );
}

/**
 * The access clauses per resource type for one request: the request's own grant for its type; for
 * other types a query reaches (includes, chains, _has), the caller's read grant on that type; then
 * what the actor may see of patients' records (src/access/clauses.ts). Decided once per type and
 * kept for the request.
 */
function accessFor(
  principal: Principal,
  grant: AccessGrant,
  requestType: string | undefined,
  facts: AccessFacts,
  inCompartment: (type: string) => boolean,
): (type: string) => Record<string, unknown>[] {
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
      const clause = g ? (DIRECTORY.has(type) ? undefined : compartmentFilter(g, type)) : NOTHING;
      clauses = [...(clause ? [clause] : []), ...(g ? actorClauses(facts, type, inCompartment(type)) : [])];
      decided.set(type, clauses);
    }
    return clauses;
  };
}

/**
 * The access clauses of a caller acting outside a request (a background export job, which runs with
 * its requester's access): per type, their read grant on it and what the facts let them see.
 */
export function accessOutsideRequest(principal: Principal, facts: AccessFacts, registry: SearchRegistry): (type: string) => Record<string, unknown>[] {
  const inCompartment = (type: string) => type === 'Patient' || registry.compartmentParams(type).length > 0;
  return accessFor(principal, { contexts: new Set() }, undefined, facts, inCompartment);
}

/**
 * Applies the cross-cutting rules once for every interaction: the type is served, the caller's
 * scopes grant the interaction, and the access decision becomes query clauses in the context.
 */
export function createExecutor(deps: ExecutorDeps): Executor {
  const inCompartment = (type: string) => type === 'Patient' || deps.registry.compartmentParams(type).length > 0;
  const context = (principal: Principal, grant: AccessGrant, requestType: string | undefined, requestId: string, log: Log, facts: AccessFacts, budget: SearchBudget): Context => ({
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
    facts,
    accessClauses: accessFor(principal, grant, requestType, facts, inCompartment),
    budget,
    subscriptions: { allowedHosts: deps.subscriptionHosts ?? [] },
  });

  /** The cross-cutting checks that need no store: the type is served, the scopes grant the interaction. */
  const check = (req: FhirRequest, principal: Principal): { handler: InteractionHandler; grant: AccessGrant } => {
    const handler = deps.handlers.get(req.interaction);
    if (!handler) throw fhirError('method-not-allowed', `The ${req.interaction} interaction is not supported`);
    if (req.type !== undefined && !isServedType(req.type)) {
      throw fhirError('type-not-supported', `Resource type "${req.type}" is not served by this server`);
    }
    if (handler.traits.needsType && req.type === undefined) throw fhirError('bad-request', `${req.interaction} needs a resource type`);
    checkAuditWrite(req, principal);
    return { handler, grant: authorize(principal, req.type ?? '*', req.interaction) };
  };
  const newBudget = (): SearchBudget => ({ limit: deps.searchBudget, examined: 0 });
  const factsCache = createFactsCache(deps.store);
  const auditor = createAuditor({ store: deps.store, registry: deps.registry, now: deps.now, baseUrl: deps.baseUrl, enabled: deps.audit ?? true, onError: deps.onAuditError });

  return {
    auditor,
    prepare(req, principal, requestId, log, facts, budget) {
      const { handler, grant } = check(req, principal);
      return { handler, ctx: context(principal, grant, req.type, requestId, log, facts, budget ?? newBudget()) };
    },
    async execute(req, principal, requestId, log, budget) {
      let facts: AccessFacts | undefined;
      return auditor.around(req, principal, requestId, log, () => facts, async () => {
        const { handler, grant } = check(req, principal);
        facts = await factsCache.gather(principal, deps.now(), () => namedPatients(req, deps.store), { documents: mayReadDocuments(req) });
        try {
          return await handler.handle(req, context(principal, grant, req.type, requestId, log, facts, budget ?? newBudget()));
        } catch (e) {
          throw e instanceof SearchBudgetExceeded ? tooCostly(e) : e;
        }
      });
    },
  };
}
