import type { AccessFacts } from './facts.js';
import { EMBARGO_MS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX, MASQUE_PS, labelEntry } from './labels.js';

type Filter = Record<string, unknown>;

/** Matches no record. */
export const NOTHING: Filter = { id: { $in: [] } };

/**
 * Types whose records only their writers (and system clients) see, whoever their patient is. A Group
 * names patients (a cohort to export): being one of its members does not make it one's record, and
 * it would tell a member who else is in it.
 */
const WRITERS_ONLY = new Set(['Binary', 'Subscription', 'Group']);
/**
 * The directory: who the professionals and organizations are. No patient's data, so a patient-context
 * grant does not confine it to the patient's compartment (a patient app shows "by Dr Martin", the
 * pharmacy it writes to); only professionals and system clients write it (write-rules.ts).
 */
export const DIRECTORY = new Set(['Practitioner', 'PractitionerRole', 'Organization']);
/** Messages: their sender and recipients only (and system clients), whoever their subject is. */
const MESSAGES = new Set(['Communication', 'CommunicationRequest']);

const and = (...filters: Filter[]): Filter => {
  const parts = filters.filter((f) => Object.keys(f).length > 0);
  return parts.length === 0 ? {} : parts.length === 1 ? parts[0] : { $and: parts };
};
const or = (branches: Filter[]): Filter => (branches.length === 1 ? branches[0] : { $or: branches });
const oneOf = (values: string[]): unknown => (values.length === 1 ? values[0] : { $in: values });

/** Records of these patients: their compartments, or (for Patient) the patients themselves. */
function ofPatients(type: string, patients: string[]): Filter {
  if (type !== 'Patient') return { comp: oneOf(patients) };
  return { $or: [{ comp: oneOf(patients) }, { id: oneOf(patients.map((p) => p.slice('Patient/'.length))) }] };
}

function parties(type: string, refs: string[]): Filter[] {
  const who = oneOf(refs);
  return type === 'Communication' || type === 'CommunicationRequest'
    ? [{ idx: { $elemMatch: { p: 'sender', r: who } } }, { idx: { $elemMatch: { p: 'recipient', r: who } } }]
    : [];
}

/** Not under the patient's embargo: no INVISIBLE_PATIENT label, or a date a month past. */
function notEmbargoed(now: number): Filter {
  const announced = { idx: { $elemMatch: { p: 'date', st: { $lte: now - EMBARGO_MS } } } };
  return { $nor: [{ $and: [labelEntry(INVISIBLE_PATIENT), { $nor: [announced] }] }] };
}

/** Not labelled MASQUE_PS, nor named by a mask of its own patient's Consent. */
function notMasked(type: string, masked: AccessFacts['masked']): Filter {
  const byPatient = new Map<string, string[]>();
  for (const [patient, ref] of masked) {
    if (ref.startsWith(`${type}/`)) byPatient.set(patient, [...(byPatient.get(patient) ?? []), ref.slice(type.length + 1)]);
  }
  const hidden: Filter[] = type === 'DocumentReference' ? [labelEntry(MASQUE_PS)] : [];
  for (const [patient, ids] of byPatient) hidden.push({ $and: [{ comp: patient }, { id: oneOf(ids) }] });
  return hidden.length > 0 ? { $nor: hidden } : {};
}

/** The documents a patient sent the professional by message, each within that patient's record. */
function sharedDocuments(shared: NonNullable<AccessFacts['shared']>): Filter[] {
  const byPatient = new Map<string, string[]>();
  for (const [patient, ref] of shared) byPatient.set(patient, [...(byPatient.get(patient) ?? []), ref.slice('DocumentReference/'.length)]);
  return [...byPatient].map(([patient, ids]) => ({ $and: [{ comp: patient }, { id: oneOf(ids) }] }));
}

/**
 * The clauses that confine a query of `type` to what the actor may see: a pure function of the
 * facts (see ../../README.md, "Who sees what"). `inCompartment` tells whether records of the type
 * can belong to a patient; the others (Practitioner, Organization...) are directory data, left to
 * the scopes. An empty list confines nothing.
 */
export function actorClauses(facts: AccessFacts, type: string, inCompartment: boolean): Filter[] {
  const actor = facts.actor;
  if (actor.kind === 'system') return [];
  const byMe: Filter = { by: oneOf(actor.self) };
  if (WRITERS_ONLY.has(type)) return [byMe];
  if (MESSAGES.has(type)) {
    const mine =
      actor.kind === 'patient' || actor.kind === 'representative' ? [...actor.self, actor.patient]
      : actor.kind === 'professional' ? [...actor.self, ...(actor.organizations ?? [])]
      : actor.self;
    return [or([byMe, ...parties(type, [...new Set(mine)])])];
  }
  if (!inCompartment) return [];

  if (actor.kind === 'patient' || actor.kind === 'representative') {
    // An access history entry is the patient's when it is about them (an entity), not when they are
    // its agent: their attempt on someone else's hidden record belongs to that other patient.
    if (type === 'AuditEvent') return [{ comp: actor.patient }, { idx: { $elemMatch: { p: 'entity', r: actor.patient } } }];
    let visible = ofPatients(type, [actor.patient]);
    if (type === 'DocumentReference') {
      const hidden = actor.kind === 'representative' ? { $nor: [labelEntry(INVISIBLE_REPRESENTANTS_LEGAUX)] } : {};
      visible = and(visible, or([byMe, and(notEmbargoed(facts.now), hidden)]));
    }
    return [visible];
  }
  if (actor.kind === 'nobody' || type === 'AuditEvent' || type === 'Consent') {
    // Access histories are the patient's; a professional sees only the Consents they wrote.
    return [type === 'AuditEvent' ? NOTHING : byMe];
  }
  const notBlocked: Filter = facts.blocked.length > 0 ? { comp: { $nin: facts.blocked } } : {};
  const branches: Filter[] = [byMe];
  if (facts.gp.length > 0) branches.push(and(ofPatients(type, facts.gp), notBlocked));
  const reached = [...facts.permitted, ...facts.emergency];
  if (reached.length > 0) branches.push(and(ofPatients(type, reached), notBlocked, notMasked(type, facts.masked)));
  const shared = type === 'DocumentReference' ? sharedDocuments(facts.shared ?? []) : [];
  if (shared.length > 0) branches.push(and(or(shared), notBlocked));
  return [or(branches)];
}
