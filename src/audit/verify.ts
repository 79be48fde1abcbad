import { fhirError } from '../errors.js';
import type { OperationHandler } from '../operations/types.js';
import type { Store } from '../store/store.js';
import { cutPrefix, GLOBAL, GLOBAL_TAG, headPrefix, verifyChains, type Position } from './chain.js';
import definition from './verify.json' with { type: 'json' };

/** A patient's events read at once to verify them. */
const MAX_EVENTS = 1_000_000;

/** Chains a patient has at most (two per server start that served them): read at once. */
const MAX_CHAINS = 100_000;

/** Heads or cuts of one patient's chains, by chain id. */
const positions = async (store: Store, prefix: string): Promise<Map<string, Position>> =>
  new Map((await store.listState(prefix, { limit: MAX_CHAINS })).map((e) => [e.key.slice(prefix.length), e.value as Position] as const));

/** The events of the global chains, by their tag (indexed as any tag). */
const GLOBAL_EVENTS = { idx: { $elemMatch: { p: '_tag', s: GLOBAL_TAG.system, c: GLOBAL_TAG.code } } };

/**
 * GET AuditEvent/$verify?patient=x: the patient's hash chains, checked (system clients only);
 * without `patient`, the global chains (the events filed under no patient: refused requests, 401).
 */
export const verify: OperationHandler = {
  name: 'verify',
  definition,
  affectsState: false,
  async handle(req, ctx) {
    if (ctx.facts.actor.kind !== 'system') throw fhirError('forbidden', '$verify is for system clients');
    const raw = req.query.patient;
    const value = Array.isArray(raw) ? raw[0] : raw;
    const m = typeof value === 'string' ? /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value.trim()) : null;
    if (value !== undefined && !m) throw fhirError('bad-request', '$verify takes patient=Patient/<id>, or nothing for the global chains', 'patient');
    const patient = m ? `Patient/${m[1]}` : GLOBAL;
    // Heads before the events (a head is written after its events), cuts after them (a cut is
    // written before its events go): so a verification running beside commits and retention sees
    // no break that is not there.
    const heads = await positions(ctx.store, headPrefix(patient));
    const { records } = await ctx.store.search({ types: ['AuditEvent'], filter: m ? { comp: patient } : GLOBAL_EVENTS, sort: [], offset: 0, limit: MAX_EVENTS, count: false });
    const cuts = await positions(ctx.store, cutPrefix(patient));
    const v = verifyChains(patient, records.flatMap((r) => (r.resource ? [r.resource] : [])), { heads, cuts });
    return {
      status: 200,
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'result', valueBoolean: v.ok },
          { name: 'checked', valueInteger: v.checked },
          ...(v.broken
            ? [{
                name: 'break',
                part: [
                  ...(v.broken.event ? [{ name: 'event', valueReference: { reference: v.broken.event } }] : []),
                  { name: 'chain', valueString: v.broken.chain },
                  { name: 'reason', valueString: v.broken.reason },
                ],
              }]
            : []),
        ],
      },
    };
  },
};
