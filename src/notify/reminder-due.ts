import type { CurrentRecord } from '../store/store.js';
import { noticeRecord, onceId, TEXTS, type RecordDeps } from './notice.js';

/**
 * The notification that prevention reminders fell due: one for the reminders the prevention job
 * adds to a patient's agenda together, committed in the same commit as them. Its id is computed
 * from the patient and the reminders, and a reminder is created once (its id is deterministic too):
 * each reminder is announced by exactly one notification, however often the job runs or resumes.
 * It says how many, never which: a rule's title (a screening, a vaccine) is health data.
 */
export function remindersDueNotice(patient: string, reminderIds: string[], deps: RecordDeps): CurrentRecord {
  const about = [...reminderIds].sort().map((id) => `CommunicationRequest/${id}`);
  return noticeRecord(
    { kind: 'reminder-due', patient, recipient: patient, about, text: TEXTS.remindersDue(about.length), id: onceId('reminder-due', patient, ...about) },
    deps,
  );
}
