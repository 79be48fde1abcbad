import { fhirError } from '../errors.js';
import type { OperationHandler } from '../operations/types.js';
import { verifyChains } from './chain.js';
import definition from './verify.json' with { type: 'json' };

/** A patient's events read at once to verify them. */
const MAX_EVENTS = 1_000_000;

/** GET AuditEvent/$verify?patient=x: the patient's hash chains, checked (system clients only). */
export const verify: OperationHandler = {
  name: 'verify',
  definition,
  affectsState: false,
  async handle(req, ctx) {
    if (ctx.facts.actor.kind !== 'system') throw fhirError('forbidden', '$verify is for system clients');
    const raw = req.query.patient;
    const value = Array.isArray(raw) ? raw[0] : raw;
    const m = typeof value === 'string' ? /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value.trim()) : null;
    if (!m) throw fhirError('bad-request', '$verify needs patient=Patient/<id>', 'patient');
    const patient = `Patient/${m[1]}`;
    const { records } = await ctx.store.search({ types: ['AuditEvent'], filter: { comp: patient }, sort: [], offset: 0, limit: MAX_EVENTS, count: false });
    const v = verifyChains(patient, records.flatMap((r) => (r.resource ? [r.resource] : [])));
    return {
      status: 200,
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'result', valueBoolean: v.ok },
          { name: 'checked', valueInteger: v.checked },
          ...(v.broken ? [{ name: 'break', part: [{ name: 'event', valueReference: { reference: v.broken.event } }, { name: 'reason', valueString: v.broken.reason }] }] : []),
        ],
      },
    };
  },
};
