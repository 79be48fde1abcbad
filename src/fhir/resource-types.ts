/** The resource types carnet serves. Any other type answers 404 not-supported. */
export const SERVED_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'RelatedPerson',
  'DocumentReference',
  'Binary',
  'List',
  'AllergyIntolerance',
  'Condition',
  'FamilyMemberHistory',
  'Observation',
  'Immunization',
  'Appointment',
  'Communication',
  'CommunicationRequest',
  'Consent',
  'AuditEvent',
  'Subscription',
  // Lists of patients, for Bulk Data group-level export; not anyone's health data (src/access/clauses.ts).
  'Group',
] as const;

export type ServedType = (typeof SERVED_TYPES)[number];

const served = new Set<string>(SERVED_TYPES);

export function isServedType(type: string): type is ServedType {
  return served.has(type);
}

/** FHIR id: [A-Za-z0-9\-\.]{1,64} (http://hl7.org/fhir/R4/datatypes.html#id). */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/** A relative reference to a Patient that can exist: what puts a resource in a Patient compartment. */
export const PATIENT_REFERENCE = /^Patient\/[A-Za-z0-9\-.]{1,64}$/;

export interface Resource {
  resourceType: string;
  id?: string;
  meta?: {
    versionId?: string;
    lastUpdated?: string;
    profile?: string[];
    security?: Array<{ system?: string; code?: string; display?: string }>;
    tag?: Array<{ system?: string; code?: string; display?: string }>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}
