import { auditEvent, patientEntity, SYSTEMS, type Agent, type Entity } from '../audit/event.js';
import type { Principal } from '../auth/principal.js';
import { buildRecord } from '../interactions/records.js';
import type { Context } from '../interactions/types.js';
import { newId } from '../interactions/write-checks.js';
import type { CurrentRecord } from '../store/store.js';
import { isLapsed } from './reminder.js';

/** The subject of the prevention job as a writer: its reminders' versions say `client:carnet-prevention`. */
export const SCHEDULER_SUBJECT = 'carnet-prevention';

/** The agent of the job's events: carnet itself, so the patient's access history reads "carnet added a reminder". */
const SCHEDULER: Agent = { who: { identifier: { system: 'urn:carnet:client', value: SCHEDULER_SUBJECT }, display: 'carnet' }, role: [{ text: 'rappels de prévention' }] };

/** The writer of the events carnet records (as src/audit/auditor.ts). */
const AUDIT_WRITER: Principal = { subject: 'carnet-audit', scopes: [], scope: '' };

/** The run that wrote, where a request's event names its request id. */
export const RUN_SYSTEM = 'urn:carnet:prevention-run';

const title = (r: CurrentRecord): string | undefined => {
  const reason = (r.resource?.reasonCode as Array<{ text?: string }> | undefined)?.[0];
  return reason?.text;
};

const reminderEntity = (r: CurrentRecord, interaction: 'create' | 'update'): Entity => {
  const name = title(r);
  const status = r.resource?.status;
  const description = interaction === 'create' ? undefined : status === 'completed' ? 'fait' : r.resource && isLapsed(r.resource) ? 'période passée' : String(status);
  return {
    what: { reference: `CommunicationRequest/${r.id}` },
    type: { system: SYSTEMS.resourceTypes, code: 'CommunicationRequest' },
    role: { system: SYSTEMS.objectRole, code: '4', display: 'Domain Resource' },
    ...(name ? { name } : {}),
    ...(description ? { description } : {}),
  };
};

/**
 * The AuditEvent of what one run did to one patient's reminders at once: created (action C), or
 * completed and closed (action U). Shaped as carnet's other events (src/audit/event.ts), with the
 * prevention job as the user agent and the run in place of a request.
 */
export function jobEvent(
  interaction: 'create' | 'update',
  patient: string,
  reminders: CurrentRecord[],
  runId: string,
  deps: Pick<Context, 'now' | 'registry' | 'baseUrl'>,
): CurrentRecord {
  const entities: Entity[] = [
    ...reminders.map((r) => reminderEntity(r, interaction)),
    patientEntity(patient),
    { what: { identifier: { system: RUN_SYSTEM, value: runId } }, type: { system: SYSTEMS.entityType, code: '4', display: 'Other' }, description: 'prevention run' },
  ];
  const resource = auditEvent({ interaction, status: 200, recorded: deps.now().toISOString(), user: SCHEDULER, entities });
  return buildRecord(resource, 'AuditEvent', newId(), undefined, { ...deps, principal: AUDIT_WRITER });
}
