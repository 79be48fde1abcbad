import { randomUUID } from 'node:crypto';
import type { Job, JobContext } from '../jobs/scheduler.js';
import type { Store } from '../store/store.js';
import { parisDay } from './dates.js';
import { plan } from './engine.js';
import { readRecord } from './record.js';
import { reconcile } from './reminder.js';
import type { Rule } from './rules.js';
import { writeBatch, type PatientChanges, type WriterDeps } from './writer.js';

export const PREVENTION_JOB = 'prevention';
/** The state of the current (or last) run, in the store's internal state: where a crashed run resumes. */
export const RUN_STATE = 'prevention:run';

export interface RunState {
  runId: string;
  /** `running` until the last batch: a run found running when none holds the lease stopped midway, and is resumed. */
  status: 'running' | 'completed';
  /** The calendar day the run evaluates, fixed at its start (a resumed run keeps it). */
  date: string;
  started: string;
  updated: string;
  finished?: string;
  /** The last patient id done: the run goes on after it. */
  cursor: string;
  patients: number;
  /** Patients on the store when the run started (for the time left). */
  total: number;
  created: number;
  completed: number;
  /** Reminders of a past window closed as lapsed (a later window's reminder replaces them). */
  closed: number;
  /** Reminders not written because they do not validate (each logged). */
  invalid: number;
  /** How many times the run was taken up after a stop. */
  resumed: number;
}

export interface PreventionJobDeps extends WriterDeps {
  rules: Rule[];
  batchSize: number;
  cron: string;
}

async function saveState(store: Store, state: RunState, rev: number): Promise<number> {
  if (!(await store.putState(RUN_STATE, state, rev))) throw new Error('the prevention run state was changed by someone else: another run holds it');
  return rev + 1;
}

/**
 * One run of the prevention calendar over every patient, in batches of patients taken in id order.
 * After each batch its reminders are written (src/prevention/writer.ts: validated, with the notification
 * that they fell due, then audited) and the cursor saved: run again after a crash, it goes
 * on from there; run twice, it finds the reminders already there (their ids are deterministic).
 * Stops at the next batch when `signal` aborts, leaving the run to be resumed.
 */
export async function runPrevention(deps: PreventionJobDeps, ctx: JobContext): Promise<RunState> {
  const { store, rules } = deps;
  const byCode = new Map(rules.map((r) => [r.code, r]));
  const entry = await store.getState(RUN_STATE);
  let rev = entry?.rev ?? 0;
  const previous = entry?.value as RunState | undefined;
  const nowIso = () => ctx.now().toISOString();
  let state: RunState;
  if (previous?.status === 'running') {
    // A run saved before `closed` and `invalid` were counted has none of them yet.
    state = { ...previous, closed: previous.closed ?? 0, invalid: previous.invalid ?? 0, resumed: previous.resumed + 1, updated: nowIso() };
    ctx.log.info({ job: PREVENTION_JOB, runId: state.runId, patients: state.patients }, 'prevention run: resuming where it stopped');
  } else {
    const { total } = await store.search({ types: ['Patient'], filter: {}, sort: [], offset: 0, limit: 0, count: true });
    state = {
      runId: randomUUID(), status: 'running', date: parisDay(ctx.now()), started: nowIso(), updated: nowIso(), cursor: '',
      patients: 0, total: total ?? 0, created: 0, completed: 0, closed: 0, invalid: 0, resumed: 0,
    };
  }
  rev = await saveState(store, state, rev);
  const t0 = Date.now();
  let doneHere = 0;

  while (!ctx.signal.aborted) {
    const filter = state.cursor ? { id: { $gt: state.cursor } } : {};
    const { records } = await store.search({ types: ['Patient'], filter, sort: [], offset: 0, limit: deps.batchSize, count: false });
    if (records.length === 0) {
      state = { ...state, status: 'completed', finished: nowIso(), updated: nowIso() };
      rev = await saveState(store, state, rev);
      ctx.log.info({ job: PREVENTION_JOB, runId: state.runId, patients: state.patients, created: state.created, completed: state.completed, closed: state.closed, invalid: state.invalid }, 'prevention run: done');
      return state;
    }
    const changes: PatientChanges[] = [];
    for (const patient of records) {
      const resource = patient.resource;
      if (!resource) continue;
      const record = await readRecord(store, resource);
      const actions = plan(rules, record, state.date);
      changes.push({ patientId: patient.id, ...reconcile(actions, byCode, record, { patientId: patient.id, today: state.date, authoredOn: nowIso() }) });
    }
    const written = await writeBatch(deps, changes, { now: ctx.now, log: ctx.log, runId: state.runId });
    state = {
      ...state,
      cursor: records[records.length - 1].id,
      patients: state.patients + records.length,
      created: state.created + written.created,
      completed: state.completed + written.completed,
      closed: state.closed + written.closed,
      invalid: state.invalid + written.invalid,
      updated: nowIso(),
    };
    rev = await saveState(store, state, rev);
    doneHere += records.length;
    const perPatientMs = (Date.now() - t0) / doneHere;
    const left = Math.max(0, state.total - state.patients);
    ctx.log.info(
      { job: PREVENTION_JOB, runId: state.runId, patients: state.patients, total: state.total, created: state.created, completed: state.completed, closed: state.closed, secondsLeft: Math.round((left * perPatientMs) / 1000) },
      'prevention run: batch done',
    );
  }
  ctx.log.info({ job: PREVENTION_JOB, runId: state.runId, patients: state.patients }, 'prevention run: stopped; the next run resumes it');
  return state;
}

/** The scheduled job: the calendar over every patient, on its cron expression (Europe/Paris). */
export function preventionJob(deps: PreventionJobDeps): Job {
  return { name: PREVENTION_JOB, cron: deps.cron, timezone: 'Europe/Paris', run: (ctx) => runPrevention(deps, ctx) };
}
