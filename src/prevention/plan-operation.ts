import { fhirError } from '../errors.js';
import { readVisible } from '../interactions/records.js';
import type { OperationHandler } from '../operations/types.js';
import { addDays, isCalendarDate, parisDay } from './dates.js';
import { operationDefinition } from './definitions.js';
import { plan } from './engine.js';
import { readRecord } from './record.js';
import { reminderId, reminderKey } from './reminder.js';
import type { Rule } from './rules.js';

function dateParam(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length !== 1 || !isCalendarDate(values[0])) throw fhirError('bad-request', 'date must be one calendar date YYYY-MM-DD', 'date');
  return values[0];
}

/**
 * GET Patient/{id}/$prevention-plan[?date=YYYY-MM-DD]: one action per rule that applies to the
 * patient. Whoever may not see the patient gets the 404 of an unknown one; the record is read
 * through the caller's access clauses, so the plan shows nothing the caller could not read.
 */
export function preventionPlan(rules: Rule[]): OperationHandler {
  return {
    name: 'prevention-plan',
    definition: operationDefinition('Patient-prevention-plan.json'),
    affectsState: false,
    async handle(req, ctx) {
      if (req.type !== 'Patient' || req.id === undefined) throw fhirError('bad-request', '$prevention-plan is an operation on one Patient: GET Patient/{id}/$prevention-plan');
      const today = dateParam(req.query.date) ?? parisDay(ctx.now());
      const patient = await readVisible(ctx, 'Patient', req.id);
      const record = await readRecord(ctx.store, patient.resource!, ctx.accessClauses, ctx.budget);
      const reminders = new Set(record.reminders.map((r) => r.id));
      const actions = plan(rules, record, today).map((a) => {
        const reminder = reminderId(reminderKey(a.rule.code, req.id!, a.window));
        return {
          name: 'action',
          part: [
            { name: 'rule', valueCode: a.rule.code },
            { name: 'title', valueString: a.rule.title },
            { name: 'status', valueCode: a.status },
            { name: 'window', valuePeriod: { start: a.window.start, end: addDays(a.window.end, -1) } },
            { name: 'source', valueUri: a.rule.source },
            ...(reminders.has(reminder) ? [{ name: 'reminder', valueReference: { reference: `CommunicationRequest/${reminder}` } }] : []),
          ],
        };
      });
      return { status: 200, body: { resourceType: 'Parameters', parameter: [{ name: 'date', valueDate: today }, ...actions] } };
    },
  };
}
