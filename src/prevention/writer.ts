import type { Journal } from '../audit/journal.js';
import type { Principal } from '../auth/principal.js';
import { FhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import { buildRecord } from '../interactions/records.js';
import type { Context } from '../interactions/types.js';
import { validateNow } from '../interactions/write-checks.js';
import type { JobLog } from '../jobs/scheduler.js';
import { remindersDueNotice } from '../notify/reminder-due.js';
import type { SearchRegistry } from '../search/registry.js';
import { StoreConflict, type CurrentRecord, type Store, type Write } from '../store/store.js';
import { jobEvent, SCHEDULER_SUBJECT } from './audit.js';
import { reminderRule } from './events.js';
import type { Reconciled } from './reminder.js';

export interface WriterDeps {
  store: Store;
  registry: SearchRegistry;
  baseUrl: string;
  /** The validator and size limits of the server's create and update. */
  validation: Pick<Context, 'validator' | 'limits'>;
  /** The access history's journal; none with CARNET_AUDIT=off. */
  journal?: Journal;
}

/** One patient's changes of a run. */
export interface PatientChanges extends Reconciled {
  patientId: string;
}

export interface Written {
  created: number;
  completed: number;
  closed: number;
  /** Reminders left unwritten because they do not validate (each logged). */
  invalid: number;
}

type Change = 'created' | 'completed' | 'closed';

/** Writes that land together or not at all: reminders created with their notification, or one reminder changed. */
interface Unit {
  patient: string;
  change: Change;
  reminders: CurrentRecord[];
  writes: Write[];
  /** The same writes as smaller units, tried when the unit conflicts (one of its reminders exists already). */
  split?: () => Unit[];
}

/** The writer recorded on the reminders the scheduler writes. */
const WRITER: Principal = { subject: SCHEDULER_SUBJECT, scopes: [], scope: '' };

/** Commits the units in one commit; when one conflicts, each alone (split when it can be), dropping those that conflict. */
async function commitUnits(store: Store, units: Unit[]): Promise<Unit[]> {
  if (units.length === 0) return [];
  try {
    await store.commit(units.flatMap((u) => u.writes));
    return units;
  } catch (e) {
    if (!(e instanceof StoreConflict)) throw e;
  }
  if (units.length === 1) return units[0].split ? commitUnits(store, units[0].split()) : [];
  const done: Unit[] = [];
  for (const u of units) done.push(...(await commitUnits(store, [u])));
  return done;
}

/**
 * Writes one batch of a run: each reminder validated as a client's create or update would be (one
 * that does not validate is logged and left out, the rest goes on); the reminders created for a
 * patient with the notification that they fell due, in the same commit; then, once committed, the
 * AuditEvents of what was written, in the access history's journal. A crash between the commit and
 * the events loses the events, as for a request (README, "Access history").
 */
export async function writeBatch(deps: WriterDeps, changes: PatientChanges[], ctx: { now: () => Date; log: JobLog; runId: string }): Promise<Written> {
  const recordCtx = { now: ctx.now, registry: deps.registry, baseUrl: deps.baseUrl, principal: WRITER };
  let invalid = 0;
  const valid = (resource: Resource, patient: string): boolean => {
    try {
      validateNow(resource, deps.validation);
      return true;
    } catch (e) {
      if (!(e instanceof FhirError)) throw e;
      invalid++;
      const issue = e.issues.find((i) => i.severity === 'error' || i.severity === 'fatal');
      ctx.log.error({ job: 'prevention', patient, rule: reminderRule(resource), reminder: resource.id, issue: e.message, expression: issue?.expression }, 'prevention run: a reminder does not validate and was not written');
      return false;
    }
  };
  const createUnit = (patient: string, reminders: CurrentRecord[]): Unit => {
    const notice = remindersDueNotice(patient, reminders.map((r) => r.id), recordCtx);
    return {
      patient, change: 'created', reminders,
      writes: [...reminders, notice].map((record) => ({ record, expect: { kind: 'absent' as const } })),
      ...(reminders.length > 1 ? { split: () => reminders.map((r) => createUnit(patient, [r])) } : {}),
    };
  };

  const units: Unit[] = [];
  for (const c of changes) {
    const patient = `Patient/${c.patientId}`;
    // A past window's reminder is closed only when the later one is there: not when that one was left out.
    const unwritten = new Set<string | undefined>();
    const created: CurrentRecord[] = [];
    for (const r of c.create) {
      if (valid(r, patient)) created.push(buildRecord(r, 'CommunicationRequest', r.id as string, undefined, recordCtx));
      else unwritten.add(reminderRule(r));
    }
    if (created.length > 0) units.push(createUnit(patient, created));
    const changed: Array<[Resource, Change]> = [
      ...c.complete.map((r): [Resource, Change] => [r, 'completed']),
      ...c.close.filter((r) => !unwritten.has(reminderRule(r))).map((r): [Resource, Change] => [r, 'closed']),
    ];
    for (const [r, change] of changed) {
      // The reminder as it is now (the patient may have changed it since the record was read): only an active one moves.
      const current = await deps.store.read('CommunicationRequest', r.id as string);
      if (!current?.resource || current.deleted || current.resource.status !== 'active') continue;
      const next: Resource = { ...current.resource, status: r.status, ...(r.statusReason ? { statusReason: r.statusReason } : {}) };
      if (!valid(next, patient)) continue;
      const record = buildRecord(next, 'CommunicationRequest', current.id, current, recordCtx);
      units.push({ patient, change, reminders: [record], writes: [{ record, expect: { kind: 'version', versionId: current.versionId } }] });
    }
  }

  const written = await commitUnits(deps.store, units);
  if (deps.journal && written.length > 0) {
    // One event per patient for the reminders created, one for those changed.
    const groups = new Map<string, { patient: string; interaction: 'create' | 'update'; reminders: CurrentRecord[] }>();
    for (const u of written) {
      const interaction = u.change === 'created' ? 'create' : 'update';
      const key = `${u.patient}|${interaction}`;
      const g = groups.get(key) ?? { patient: u.patient, interaction, reminders: [] };
      g.reminders.push(...u.reminders);
      groups.set(key, g);
    }
    await deps.journal.append([...groups.values()].map((g) => jobEvent(g.interaction, g.patient, g.reminders, ctx.runId, recordCtx)));
  }
  const count = (change: Change) => written.filter((u) => u.change === change).reduce((n, u) => n + u.reminders.length, 0);
  return { created: count('created'), completed: count('completed'), closed: count('closed'), invalid };
}
