import { createHash } from 'node:crypto';
import type { Resource } from '../fhir/resource-types.js';
import { add, addDays, dayOf } from './dates.js';
import type { Action } from './engine.js';
import { doneEvents, REMINDER_RULE_SYSTEM, reminderRule, reminderWindow, type PatientRecord } from './events.js';
import type { Rule } from './rules.js';

export const REMINDER_IDENTIFIER_SYSTEM = 'urn:carnet:prevention:reminder';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/communication-category';

/** What makes a reminder one of a kind: its rule, its patient and its window. */
export function reminderKey(rule: string, patientId: string, window: { start: string; end: string }): string {
  return `${rule}|Patient/${patientId}|${window.start}|${window.end}`;
}

/**
 * The id of the reminder with this key: the same on every run and every server, so a reminder is
 * created once (a create expects the id absent), and one the patient dismissed or deleted is never
 * made again.
 */
export function reminderId(key: string): string {
  return `prevention-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** The reminder of a due action: a CommunicationRequest to the patient, about the patient, for the action's window. */
export function buildReminder(action: Action, patientId: string, authoredOn: string): Resource {
  const key = reminderKey(action.rule.code, patientId, action.window);
  const patient = { reference: `Patient/${patientId}` };
  return {
    resourceType: 'CommunicationRequest',
    id: reminderId(key),
    identifier: [{ system: REMINDER_IDENTIFIER_SYSTEM, value: key }],
    status: 'active',
    category: [{ coding: [{ system: CATEGORY, code: 'reminder', display: 'Reminder' }] }],
    reasonCode: [{ coding: [{ system: REMINDER_RULE_SYSTEM, code: action.rule.code, display: action.rule.title }], text: action.rule.title }],
    subject: patient,
    recipient: [patient],
    payload: [{ contentString: action.rule.text }],
    // FHIR periods include their end day; windows here exclude it.
    occurrencePeriod: { start: action.window.start, end: addDays(action.window.end, -1) },
    authoredOn,
  };
}

/** Whether the record shows done what an active reminder asked: the action is done, or something counting for it from the window's first day. */
function fulfilled(reminder: Resource, rule: Rule, action: Action | undefined, record: PatientRecord): boolean {
  if (action?.status === 'done') return true;
  const start = reminderWindow(reminder).start;
  const birth = dayOf(record.birthDate);
  if (!start || !birth) return false;
  const from = rule.countFrom ? add(birth, rule.countFrom) : start;
  return doneEvents(rule, record, from > start ? from : start).length > 0;
}

/**
 * Why a reminder was closed without being done: its window passed and the reminder of a later
 * window of its rule took its place. R4 has no "lapsed" request status; `revoked` ("terminated
 * prior to the full completion of the intended actions", RequestStatus) says it, and this
 * statusReason tells it apart from the patient's dismissal (`revoked` without it).
 */
export const LAPSED_REASON_SYSTEM = 'urn:carnet:prevention:status-reason';
export const LAPSED_REASON = {
  coding: [{ system: LAPSED_REASON_SYSTEM, code: 'lapsed', display: 'Lapsed' }],
  text: 'Période passée : le rappel de la période suivante le remplace.',
};

/** Whether a reminder was closed because its window passed (not dismissed by the patient). */
export function isLapsed(r: Resource): boolean {
  const codings = (r.statusReason as { coding?: Array<{ system?: string; code?: string }> } | undefined)?.coding ?? [];
  return r.status === 'revoked' && codings.some((c) => c.system === LAPSED_REASON_SYSTEM && c.code === 'lapsed');
}

export interface Reconciled {
  /** New reminders (their deterministic ids may already exist: the writer creates only absent ones). */
  create: Resource[];
  /** Active reminders the record now shows done, as they become: completed. */
  complete: Resource[];
  /** Active reminders of a past window that a later window's reminder replaces, as they become: revoked, lapsed. */
  close: Resource[];
}

export interface ReconcileFor {
  patientId: string;
  /** The calendar day of the run (YYYY-MM-DD). */
  today: string;
  /** The instant written as a new reminder's authoredOn. */
  authoredOn: string;
}

/**
 * What a run changes for one patient: a reminder for each due or overdue action that has none yet;
 * each active reminder whose action the record shows done becomes completed; each other active
 * reminder whose window has passed while a reminder of a later window of its rule exists (or is
 * created now) is closed as lapsed, so the agenda holds one live reminder per rule. A reminder the
 * patient revoked (dismissed) is left as it is.
 */
export function reconcile(actions: Action[], rules: Map<string, Rule>, record: PatientRecord, on: ReconcileFor): Reconciled {
  const existing = new Set(record.reminders.map((r) => r.id));
  const create = actions
    .filter((a) => a.status === 'due' || a.status === 'overdue')
    .map((a) => buildReminder(a, on.patientId, on.authoredOn))
    .filter((r) => !existing.has(r.id));
  const complete: Resource[] = [];
  const close: Resource[] = [];
  const byRule = new Map(actions.map((a) => [a.rule.code, a]));
  // The latest window start of each rule's reminders, whatever their status.
  const latest = new Map<string, string>();
  for (const r of [...record.reminders, ...create]) {
    const code = reminderRule(r);
    const start = reminderWindow(r).start;
    if (code && start && start > (latest.get(code) ?? '')) latest.set(code, start);
  }
  for (const reminder of record.reminders) {
    const code = reminderRule(reminder);
    const rule = code && rules.get(code);
    if (reminder.status !== 'active' || !rule) continue;
    if (fulfilled(reminder, rule, byRule.get(code), record)) {
      complete.push({ ...reminder, status: 'completed' });
      continue;
    }
    const { start, end } = reminderWindow(reminder);
    // occurrencePeriod.end is the window's last day.
    if (start && end && end < on.today && (latest.get(code) ?? '') > start) close.push({ ...reminder, status: 'revoked', statusReason: LAPSED_REASON });
  }
  return { create, complete, close };
}
