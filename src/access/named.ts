import type { FhirRequest } from '../interactions/types.js';
import type { Store } from '../store/store.js';

const PATIENT_PARAMS = new Set(['patient', 'subject', 'patient:Patient', 'subject:Patient']);
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const BY_ID = new Set(['read', 'vread', 'history-instance', 'update', 'patch', 'delete']);

function patientRef(value: string, param: string): string | undefined {
  const v = value.trim();
  if (/^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(v)) return v;
  // A bare id names a Patient for `patient`, not for `subject` (which may name a Group...).
  return param.startsWith('patient') && ID.test(v) ? `Patient/${v}` : undefined;
}

/**
 * The patients a request is about, when it says so: a compartment, a patient or subject search
 * parameter, the Patient or the record it reads or writes. Undefined when
 * the request does not name them (a search across patients). A hint that narrows what the access
 * facts read, never what they allow: the clauses still name every patient they admit.
 */
export async function namedPatients(req: FhirRequest, store: Store): Promise<string[] | undefined> {
  if (req.compartment?.type === 'Patient') return [`Patient/${req.compartment.id}`];
  if (req.type === 'Patient' && req.id !== undefined) return [`Patient/${req.id}`];
  if (req.type !== undefined && req.id !== undefined && BY_ID.has(req.interaction)) {
    const record = await store.read(req.type, req.id);
    return record ? record.comp : [];
  }
  if (req.interaction !== 'search-type') return undefined;
  const named: string[] = [];
  for (const [param, raw] of Object.entries(req.query)) {
    if (!PATIENT_PARAMS.has(param)) continue;
    for (const value of (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(','))) {
      const ref = patientRef(value, param);
      // One value naming something else (a chain, a Group) and the request names no patients after all.
      if (!ref) return undefined;
      named.push(ref);
    }
  }
  return named.length > 0 ? [...new Set(named)] : undefined;
}
