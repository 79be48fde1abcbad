import { fhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord } from '../store/store.js';
import type { Actor } from './facts.js';

/**
 * Who a user may name as the author of what they write. The server records the writer from the
 * token (CurrentRecord.by, searched with `written-by`); the body's authorship elements must not
 * say otherwise, or a patient app showing "entered by Dr X" from `recorder` would show a lie.
 *
 * - `writer`: the user who writes (their fhirUser, or for a professional one of their roles);
 * - `writer-or-patient`: that, or the patient whose record it is (a professional recording what the
 *   patient states: asserter = the patient);
 * - `patient-side`: for the patient and their representatives only, the writer or the patient (a
 *   patient's own measurement names no professional as its performer); professionals name whom
 *   they need (the laboratory that performed an Observation).
 *
 * A document the patient adds lists the patient among its authors and has the TRE_A03 class
 * "déposé par le patient" (src/mhd/patient-documents.ts): it may name the professional who wrote
 * the paper the patient scanned, and says who deposited it.
 *
 * A value carried over unchanged from the version before is always accepted: the patient may
 * correct an entry a doctor wrote without becoming its recorder. System clients (integrations
 * feeding the record from hospital or practice software) are trusted with what they say.
 */
type Who = 'writer' | 'writer-or-patient' | 'patient-side';

const ELEMENTS: Record<string, Array<{ path: string[]; who: Who }>> = {
  AllergyIntolerance: [{ path: ['recorder'], who: 'writer' }, { path: ['asserter'], who: 'writer-or-patient' }],
  Condition: [{ path: ['recorder'], who: 'writer' }, { path: ['asserter'], who: 'writer-or-patient' }],
  Observation: [{ path: ['performer'], who: 'patient-side' }],
  Communication: [{ path: ['sender'], who: 'writer' }],
  CommunicationRequest: [{ path: ['requester'], who: 'writer' }, { path: ['sender'], who: 'writer' }],
};

interface Located {
  value: unknown;
  expression: string;
}

function valuesAt(resource: Resource | undefined, path: string[], type: string): Located[] {
  let found: Located[] = resource ? [{ value: resource, expression: type }] : [];
  for (const key of path) {
    const next: Located[] = [];
    for (const { value, expression } of found) {
      const v = (value as Record<string, unknown>)[key];
      if (Array.isArray(v)) v.forEach((item, i) => next.push({ value: item, expression: `${expression}.${key}[${i}]` }));
      else if (v !== undefined) next.push({ value: v, expression: `${expression}.${key}` });
    }
    found = next;
  }
  return found;
}

/** The relative `Type/id` a Reference names on this server, or undefined (contained, display only, elsewhere). */
function localReference(value: unknown, baseUrl: string): string | undefined {
  const ref = (value as { reference?: unknown } | null)?.reference;
  if (typeof ref !== 'string') return undefined;
  const relative = ref.startsWith(`${baseUrl}/`) ? ref.slice(baseUrl.length + 1) : ref;
  return /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(relative) ? relative : undefined;
}

/** Throws 403 when the body names as its author someone the writer may not name. */
export function checkAuthorship(before: CurrentRecord | undefined, after: CurrentRecord, actor: Actor, baseUrl: string): void {
  if (actor.kind === 'system' || !after.resource) return;
  const patientSide = actor.kind === 'patient' || actor.kind === 'representative';
  const previous = before && !before.deleted ? before.resource : undefined;
  for (const { path, who } of ELEMENTS[after.type] ?? []) {
    if (who === 'patient-side' && !patientSide) continue;
    // A professional also writes for the organizations of their roles (a pharmacy answering).
    const allowed = new Set([...actor.self, ...(actor.kind === 'professional' ? (actor.organizations ?? []) : [])]);
    if (who !== 'writer') for (const c of after.comp) allowed.add(c);
    if (who === 'patient-side' && actor.kind === 'representative') allowed.add(actor.patient);
    const kept = new Set(valuesAt(previous, path, after.type).map((v) => JSON.stringify(v.value)));
    for (const { value, expression } of valuesAt(after.resource, path, after.type)) {
      if (kept.has(JSON.stringify(value))) continue;
      const ref = localReference(value, baseUrl);
      if (ref && allowed.has(ref)) continue;
      const named = ref ?? (JSON.stringify(value) ?? '').slice(0, 120);
      throw fhirError(
        'forbidden',
        `${expression} names ${named}, but ${who === 'writer' ? 'it must be the user who writes' : 'it must be the user who writes or the patient'} (${actor.self[0]}): carnet records the author from the access token, searchable with written-by`,
        expression,
      );
    }
  }
  // A vaccination the patient enters comes from their memory or their vaccination booklet, not from
  // administering it: it is a reported record (FHIR Immunization.primarySource false, reportOrigin).
  if (after.type === 'Immunization' && patientSide && after.resource.primarySource === true && previous?.primarySource !== true) {
    throw fhirError('forbidden', 'A vaccination the patient or a representative enters is reported, not administered by them: primarySource must be false (say where it comes from in reportOrigin)', 'Immunization.primarySource');
  }
}
