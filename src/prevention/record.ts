import type { Resource } from '../fhir/resource-types.js';
import type { SearchBudget, Store } from '../store/store.js';
import type { PatientRecord } from './events.js';

/** Most records of one type read for one patient's plan. */
const MOST = 10_000;

const TYPES = { immunizations: 'Immunization', observations: 'Observation', documents: 'DocumentReference', reminders: 'CommunicationRequest' } as const;

/**
 * The parts of a patient's record the rules read, through `clauses` (the access clauses of the
 * request, so a plan never shows what the caller may not see; none for the scheduler).
 */
export async function readRecord(
  store: Store,
  patient: Resource,
  clauses: (type: string) => Record<string, unknown>[] = () => [],
  budget?: SearchBudget,
): Promise<PatientRecord> {
  const comp = `Patient/${patient.id}`;
  const read = async (type: string): Promise<Resource[]> => {
    const extra = clauses(type);
    const filter = extra.length > 0 ? { $and: [{ comp }, ...extra] } : { comp };
    const { records } = await store.search({ types: [type], filter, sort: [], offset: 0, limit: MOST, count: false, ...(budget ? { budget } : {}) });
    return records.flatMap((r) => (r.resource ? [r.resource] : []));
  };
  let immunizations: Resource[], observations: Resource[], documents: Resource[], reminders: Resource[];
  if (clauses('Immunization').length === 0 && clauses('CommunicationRequest').length === 0) {
    // No access clauses (the scheduler, a system client): one query for the four types.
    const { records } = await store.search({ types: Object.values(TYPES), filter: { comp }, sort: [], offset: 0, limit: 4 * MOST, count: false, ...(budget ? { budget } : {}) });
    const of = (type: string) => records.flatMap((r) => (r.type === type && r.resource ? [r.resource] : []));
    [immunizations, observations, documents, reminders] = [of(TYPES.immunizations), of(TYPES.observations), of(TYPES.documents), of(TYPES.reminders)];
  } else {
    [immunizations, observations, documents, reminders] = await Promise.all([
      read(TYPES.immunizations), read(TYPES.observations), read(TYPES.documents), read(TYPES.reminders),
    ]);
  }
  return {
    birthDate: typeof patient.birthDate === 'string' ? patient.birthDate : undefined,
    gender: typeof patient.gender === 'string' ? patient.gender : undefined,
    deceased: patient.deceasedBoolean === true || typeof patient.deceasedDateTime === 'string',
    immunizations, observations, documents, reminders,
  };
}
