import { FhirError, fhirError, type Issue } from '../errors.js';
import type { Principal } from '../auth/principal.js';
import { PATIENT_DOCUMENT_CLASS, TRE_A03_SYSTEMS } from './codes.js';

type Json = Record<string, any>;

/**
 * A patient (fhirUser Patient/x) may add documents to their own record only, as their author:
 * subject = themselves (else 403: it is someone else's record), author including themselves and
 * category TRE_A03 90 "déposé par le patient" (else 422: the document says something false about
 * who made it). Other callers are not concerned. `where` prefixes expressions (a Bundle entry).
 */
export function checkPatientDocument(resource: unknown, principal: Pick<Principal, 'fhirUser'>, baseUrl: string, where = 'DocumentReference'): void {
  const user = principal.fhirUser;
  const doc = resource as Json | undefined;
  if (user?.type !== 'Patient' || doc?.resourceType !== 'DocumentReference') return;
  const self = user.reference;
  const local = (ref: unknown) => (typeof ref === 'string' && ref.startsWith(baseUrl + '/') ? ref.slice(baseUrl.length + 1) : ref);
  if (local(doc.subject?.reference) !== self) {
    throw fhirError('forbidden', `A patient may add documents to their own record only: subject must be ${self}`, `${where}.subject`);
  }
  const issues: Issue[] = [];
  const authors: Json[] = Array.isArray(doc.author) ? doc.author : [];
  if (!authors.some((a) => local(a?.reference) === self)) {
    issues.push({ severity: 'error', code: 'business-rule', diagnostics: `A document a patient adds must list the patient (${self}) among its authors`, expression: [`${where}.author`] });
  }
  const categories: Json[] = Array.isArray(doc.category) ? doc.category : [];
  const isPatientClass = categories.some((c) => (c?.coding ?? []).some((k: Json) => TRE_A03_SYSTEMS.has(k?.system) && k.code === PATIENT_DOCUMENT_CLASS));
  if (!isPatientClass) {
    issues.push({
      severity: 'error',
      code: 'business-rule',
      diagnostics: `A document a patient adds has category TRE_A03 ${PATIENT_DOCUMENT_CLASS} (Document déposé par le patient), system https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument`,
      expression: [`${where}.category`],
    });
  }
  if (issues.length > 0) throw new FhirError('invalid-resource', issues[0].diagnostics, { issues });
}
