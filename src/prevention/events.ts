import type { Resource } from '../fhir/resource-types.js';
import { dayOf } from './dates.js';
import type { DoneCriterion, Rule } from './rules.js';

/** The parts of a patient's record the rules read. */
export interface PatientRecord {
  birthDate?: string;
  gender?: string;
  /** Patient.deceased[x] says the patient died: nothing applies any more. */
  deceased?: boolean;
  immunizations: Resource[];
  observations: Resource[];
  documents: Resource[];
  /** CommunicationRequests: the prevention reminders among them. */
  reminders: Resource[];
}

/** Something done for a rule: its day, and the interval it sets before the next time (if its criterion says). */
export interface DoneEvent {
  date: string;
  interval?: string;
}

type Coding = { system?: string; code?: string };

export const REMINDER_RULE_SYSTEM = 'urn:carnet:prevention:rule';

const codings = (concept: unknown): Coding[] => {
  const list = (concept as { coding?: Coding[] } | undefined)?.coding;
  return Array.isArray(list) ? list : [];
};
const keyOf = (c: Coding) => `${c.system}|${c.code}`;
const anyIn = (concepts: unknown[], keys: ReadonlySet<string>) => concepts.some((cc) => codings(cc).some((c) => keys.has(keyOf(c))));

/** The rule code of a prevention reminder, or undefined for any other CommunicationRequest. */
export function reminderRule(r: Resource): string | undefined {
  for (const concept of (r.reasonCode as unknown[] | undefined) ?? []) {
    const c = codings(concept).find((x) => x.system === REMINDER_RULE_SYSTEM);
    if (c?.code) return c.code;
  }
  return undefined;
}

export function reminderWindow(r: Resource): { start?: string; end?: string } {
  const p = r.occurrencePeriod as { start?: string; end?: string } | undefined;
  return { start: dayOf(p?.start), end: dayOf(p?.end) };
}

function immunizationDay(r: Resource): string | undefined {
  // A vaccination the patient reports (primarySource false) counts like any other.
  if (r.status !== 'completed') return undefined;
  return dayOf(r.occurrenceDateTime) ?? dayOf(r.recorded);
}

function observationDay(r: Resource): string | undefined {
  if (!['final', 'amended', 'corrected'].includes(String(r.status))) return undefined;
  return dayOf(r.effectiveDateTime) ?? dayOf((r.effectivePeriod as { start?: string } | undefined)?.start) ?? dayOf(r.effectiveInstant) ?? dayOf(r.issued);
}

function documentDay(r: Resource): string | undefined {
  if (r.status !== 'current') return undefined;
  return dayOf((r.context as { period?: { start?: string } } | undefined)?.period?.start) ?? dayOf(r.date);
}

function eventsOf(criterion: DoneCriterion, rule: Rule, record: PatientRecord): string[] {
  if ('immunization' in criterion) {
    return record.immunizations.filter((r) => anyIn([r.vaccineCode], rule.vaccines)).flatMap((r) => immunizationDay(r) ?? []);
  }
  if ('observation' in criterion) {
    const keys = new Set(criterion.observation.map(keyOf));
    return record.observations.filter((r) => anyIn([r.code], keys)).flatMap((r) => observationDay(r) ?? []);
  }
  if ('documentReference' in criterion) {
    const keys = new Set(criterion.documentReference.map(keyOf));
    return record.documents.filter((r) => anyIn([r.type], keys)).flatMap((r) => documentDay(r) ?? []);
  }
  // A reminder the patient marked done counts from the start of its window.
  return record.reminders.filter((r) => r.status === 'completed' && reminderRule(r) === rule.code).flatMap((r) => reminderWindow(r).start ?? []);
}

/** What the record shows done for a rule, from `from` (a day) on, oldest first, one per day. */
export function doneEvents(rule: Rule, record: PatientRecord, from: string): DoneEvent[] {
  const byDay = new Map<string, DoneEvent>();
  for (const criterion of rule.done) {
    const interval = 'interval' in criterion ? criterion.interval : undefined;
    for (const date of eventsOf(criterion, rule, record)) {
      if (date < from) continue;
      const prev = byDay.get(date);
      // Of two things done the same day, the rule's own test (no interval of its own) sets the next time.
      if (!prev || (prev.interval !== undefined && interval === undefined)) byDay.set(date, { date, ...(interval ? { interval } : {}) });
    }
  }
  return [...byDay.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}
