import type { AccessFacts } from '../access/facts.js';
import { patientEntity, SYSTEMS, type Entity } from '../audit/event.js';
import { MAX_NAMED_PATIENTS, type ExportJob, type ExportLevel } from './job.js';

/** The id system of Bulk Data export jobs in AuditEvents (the id of the status URL). */
export const EXPORT_JOB_SYSTEM = 'urn:carnet:bulk-export';

/**
 * What an AuditEvent of an export's traffic names beside what the request names: the job, and,
 * with `coverage`, the patients whose records it covers (patients undefined: every patient, none
 * listed, and the event says so). At most MAX_NAMED_PATIENTS patients; the description says when
 * there are more.
 */
export function exportEntities(id: string, what: string, coverage?: { patients: string[] | undefined; more?: boolean }): Entity[] {
  const named = (coverage?.patients ?? []).slice(0, MAX_NAMED_PATIENTS);
  let covers = '';
  if (coverage?.patients === undefined && coverage) covers = '; covers every patient';
  else if (coverage?.more || (coverage?.patients?.length ?? 0) > named.length) covers = `; covers more than ${named.length} patients, the first ${named.length} named`;
  else if (coverage) covers = `; covers ${named.length} patient${named.length === 1 ? '' : 's'}`;
  return [
    {
      what: { identifier: { system: EXPORT_JOB_SYSTEM, value: id } },
      type: { system: SYSTEMS.entityType, code: '2', display: 'System Object' },
      name: 'Bulk Data export',
      description: `${what}${covers}`,
    },
    ...named.map(patientEntity),
  ];
}

/** The entities of a request about an existing job; `named`: with the patients its files hold. */
export const jobEntities = (job: ExportJob, what: string, named = true): Entity[] =>
  exportEntities(job.id, what, named ? { patients: job.patients, more: job.morePatients } : undefined);

/**
 * The patients a kick-off reaches, known before the job reads anything: a Group's members, the
 * caller's own record (a patient, a minor's representative), a professional's patients (médecin
 * traitant, authorized, emergency). Undefined for a system client's patient or system level export:
 * every patient. The job's later events name the patients found in its files instead.
 */
export function kickOffPatients(level: ExportLevel, facts: AccessFacts, members: string[] | undefined): string[] | undefined {
  if (level === 'group') return members ?? [];
  const actor = facts.actor;
  if (actor.kind === 'system') return undefined;
  if (level === 'system') return [];
  if (actor.kind === 'patient' || actor.kind === 'representative') return [actor.patient];
  if (actor.kind !== 'professional') return [];
  const blocked = new Set(facts.blocked);
  return [...new Set([...facts.gp, ...facts.permitted, ...facts.emergency])].filter((p) => !blocked.has(p));
}
