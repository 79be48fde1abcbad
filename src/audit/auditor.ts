import { FhirError, fhirError } from '../errors.js';
import type { Principal } from '../auth/principal.js';
import type { AccessFacts } from '../access/facts.js';
import { buildRecord } from '../interactions/records.js';
import type { FhirRequest, FhirResult, Log } from '../interactions/types.js';
import { eventId } from './event-id.js';
import { createAccessNotifier, patientsOf } from '../notify/access.js';
import type { SearchRegistry } from '../search/registry.js';
import type { Store } from '../store/store.js';
import { auditEvent, requestEntity, type Agent } from './event.js';
import { createJournal, type Journal } from './journal.js';
import { userName } from './names.js';
import { touched } from './touched.js';
import { createRefusalRecorder, type RefusalPolicy, type RefusalRecorder } from './unauthenticated.js';

export interface AuditorDeps {
  store: Store;
  registry: SearchRegistry;
  now: () => Date;
  baseUrl: string;
  /** CARNET_AUDIT: false records nothing. */
  enabled: boolean;
  /** What the 401s may write (unauthenticated.ts); REFUSAL_POLICY by default. */
  refusalPolicy?: RefusalPolicy;
  /** Told when the counts of refused requests could not be written after their interval. */
  onError?: (err: unknown) => void;
}

export interface Auditor {
  /**
   * Runs one request and makes its AuditEvent durable before its answer, or its error, leaves:
   * no answer without its trace. `facts` are the access facts the request gathered, if it got so far.
   */
  around(req: FhirRequest, principal: Principal, requestId: string, log: Log, facts: () => AccessFacts | undefined, run: () => Promise<FhirResult>): Promise<FhirResult>;
  readonly journal: Journal;
  /** The requests refused for want of a valid token (401): filed under no patient, in the global chain. */
  readonly refusals: RefusalRecorder;
}

/** The writer of the events carnet records (VersionRecord.writer `client:carnet-audit`). */
const AUDIT_WRITER: Principal = { subject: 'carnet-audit', scopes: [], scope: '' };
const PROFESSIONALS = new Set(['Practitioner', 'PractitionerRole']);

export function createAuditor(deps: AuditorDeps): Auditor {
  const journal = createJournal(deps.store);
  const notifier = createAccessNotifier(deps);
  const writer = { now: deps.now, registry: deps.registry, baseUrl: deps.baseUrl, principal: AUDIT_WRITER };
  // The embedded store derives an event's search data when it reads it: not extracted here.
  const derived = deps.store.derivesSearchData?.('AuditEvent') ?? false;
  const refusals: RefusalRecorder = deps.enabled
    ? createRefusalRecorder({ journal, now: deps.now, build: (resource) => buildRecord(resource, 'AuditEvent', eventId(), undefined, writer, derived), policy: deps.refusalPolicy, onError: deps.onError })
    : { record: async () => undefined, flush: async () => undefined };

  const userAgent = async (principal: Principal, facts: AccessFacts | undefined): Promise<Agent> => {
    const user = principal.fhirUser;
    if (!user) return { who: { identifier: { system: 'urn:carnet:client', value: principal.subject }, display: `client:${principal.subject}` } };
    const { display, role } = await userName(deps.store, user.reference);
    // The emergency is the access decision's (ctx.facts); before facts were gathered (a refusal of
    // the scopes), what the token asked for.
    const emergency = facts
      ? facts.actor.kind === 'professional' && facts.actor.emergency
      : PROFESSIONALS.has(user.type) && (principal.purposeOfUse?.includes('BTG') ?? false);
    const purposes = [...new Set([...(principal.purposeOfUse ?? []).filter((p) => p !== 'BTG'), ...(emergency ? ['BTG'] : [])])];
    return {
      who: { reference: user.reference, ...(display ? { display } : {}) },
      altId: principal.subject,
      ...(role ? { role: [{ text: role }] } : {}),
      ...(purposes.length ? { purposeOfUse: purposes } : {}),
    };
  };

  const record = async (req: FhirRequest, principal: Principal, requestId: string, facts: AccessFacts | undefined, result: FhirResult | undefined, error: unknown) => {
    // A batch's entries each have their own event; the batch itself only when it fails as a whole.
    if (req.interaction === 'batch' && result) return;
    const status = result?.status ?? (error instanceof FhirError ? error.status : 500);
    const failure = error === undefined ? undefined : error instanceof FhirError ? error.issues[0]?.diagnostics : 'internal error';
    const recorded = deps.now().toISOString();
    const [user, found] = await Promise.all([userAgent(principal, facts), touched(deps, req, result)]);
    const named = new Set(found.map((e) => e.what?.reference));
    const entities = [...found, ...(result?.auditEntities ?? []).filter((e) => !e.what?.reference || !named.has(e.what.reference))];
    const resource = auditEvent({ interaction: req.interaction, status, failure, recorded, user, entities: [...entities, requestEntity(requestId)] });
    const event = buildRecord(resource, 'AuditEvent', eventId(), undefined, writer, derived);
    // The notifications of this access (first access, emergency) commit with its event.
    await notifier.appendWith(journal, [event], { facts, status, patients: async () => patientsOf(entities), event: `AuditEvent/${event.id}` });
  };

  const recordOrFail = async (log: Log, ...args: Parameters<typeof record>) => {
    try {
      await record(...args);
    } catch (e) {
      log.error({ err: e }, 'the access history could not be recorded');
      throw fhirError('unavailable', 'The access history could not be recorded; try again');
    }
  };

  return {
    journal,
    refusals,
    async around(req, principal, requestId, log, facts, run) {
      // Without the access history, its notifications are still made (they are not for measurements).
      if (!deps.enabled) return notifier.around(journal, deps, req, log, facts, run);
      let result: FhirResult;
      try {
        result = await run();
      } catch (e) {
        await recordOrFail(log, req, principal, requestId, facts(), undefined, e);
        throw e;
      }
      await recordOrFail(log, req, principal, requestId, facts(), result, undefined);
      return result;
    },
  };
}
