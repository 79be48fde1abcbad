import type { FhirRequest } from '../interactions/types.js';
import type { Store } from '../store/store.js';

const PATIENT_PARAMS = new Set(['patient', 'subject', 'patient:Patient', 'subject:Patient']);
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const BY_ID = new Set(['read', 'vread', 'history-instance', 'update', 'patch', 'delete']);
const WRITES_WITH_BODY = new Set(['create', 'transaction', 'batch']);
const PATIENT_IN_REFERENCE = /(?:^|\/)(Patient\/[A-Za-z0-9\-.]{1,64})$/;

/**
 * Every Patient a body refers to (a resource, or all the resources of a Bundle): a record belongs
 * to a patient's compartment only through such a reference. Undefined when a reference cannot be
 * read without resolving it (a conditional or a urn:uuid reference): the facts are then read for
 * every patient.
 */
function patientsReferredBy(body: unknown): string[] | undefined {
  const found = new Set<string>();
  let unresolved = false;
  const walk = (value: unknown, key: string, depth: number): void => {
    if (unresolved || depth > 64) return;
    if (typeof value === 'string') {
      if (key !== 'reference') return;
      const m = PATIENT_IN_REFERENCE.exec(value);
      if (m) found.add(m[1]);
      else if (value.startsWith('urn:') || value.includes('?')) unresolved = true;
      return;
    }
    if (Array.isArray(value)) for (const v of value) walk(v, key, depth + 1);
    // A Binary joins the compartments of what its securityContext names, a reference to no Patient.
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) k === 'securityContext' ? (unresolved = true) : walk(v, k, depth + 1);
  };
  walk(body, '', 0);
  return unresolved ? undefined : [...found];
}

function patientRef(value: string, param: string): string | undefined {
  const v = value.trim();
  if (/^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(v)) return v;
  // A bare id names a Patient for `patient`, not for `subject` (which may name a Group...).
  return param.startsWith('patient') && ID.test(v) ? `Patient/${v}` : undefined;
}

/**
 * The patients a request is about, when it says so: a compartment, a patient or subject search
 * parameter, the Patient or the record it reads or writes, the patients a created resource (or a
 * Bundle) refers to. Undefined when
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
  if (WRITES_WITH_BODY.has(req.interaction) && req.body !== undefined) return patientsReferredBy(req.body);
  if (req.interaction !== 'search-type') return undefined;
  return searchNames(req.query);
}

/** The patients a search's parameters name (each search asks twice: for its access facts and its AuditEvent). */
const searched = new WeakMap<FhirRequest['query'], string[] | undefined>();

function searchNames(query: FhirRequest['query']): string[] | undefined {
  if (searched.has(query)) return searched.get(query);
  let named: string[] | undefined;
  for (const param of PATIENT_PARAMS) {
    const raw = query[param];
    if (raw === undefined) continue;
    for (const value of Array.isArray(raw) ? raw.flatMap((v) => v.split(',')) : raw.split(',')) {
      const ref = patientRef(value, param);
      // One value naming something else (a chain, a Group) and the request names no patients after all.
      if (!ref) {
        searched.set(query, undefined);
        return undefined;
      }
      if (!(named ??= []).includes(ref)) named.push(ref);
    }
  }
  searched.set(query, named);
  return named;
}

/** Types whose visibility a document shared by message changes: the document, and its bytes. */
const DOCUMENT_TYPES = new Set(['DocumentReference', 'Binary']);

/**
 * Whether a request may read a DocumentReference: one of its types, a request over several types
 * (a Bundle, a system search or history), an operation, or includes. When it cannot, the documents shared by
 * message need not be gathered (leaving them out could only hide, never show).
 */
export function mayReadDocuments(req: FhirRequest): boolean {
  if (req.type === undefined || DOCUMENT_TYPES.has(req.type) || req.interaction === 'operation') return true;
  return Object.keys(req.query ?? {}).some((k) => k.startsWith('_include') || k.startsWith('_revinclude') || k.startsWith('_has'));
}
