/** Canonical URLs and codes of IHE MHD 4.2 and ANS PDSm 3.1.1 that carnet acts on. */

/** https://profiles.ihe.net/ITI/MHD/CodeSystem-MHDlistTypes.html */
export const MHD_LIST_TYPES = 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes';

/** Bundle profiles that make a transaction an ITI-65 Provide Document Bundle. */
export const PROVIDE_BUNDLE_PROFILES = new Set([
  'https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle',
  'https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.UnContained.Comprehensive.ProvideBundle',
  'https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.ProvideBundle',
  'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-comprehensive-provide-document-bundle',
]);

/**
 * TRE_A03 ClasseDocument: the FHIR canonical ANS uses in PDSm, and the OID form
 * (urn:oid:1.2.250.1.213.1.1.4.1) some senders still put in Coding.system. Both are accepted.
 */
export const TRE_A03_SYSTEMS = new Set([
  'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument',
  'urn:oid:1.2.250.1.213.1.1.4.1',
]);

/** TRE_A03 class of a document the patient deposits themselves ("Document déposé par le patient"). */
export const PATIENT_DOCUMENT_CLASS = '90';
