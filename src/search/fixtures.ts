import type { Resource } from '../fhir/resource-types.js';

/** Realistic resources for the search tests (shapes after the French DMP / Mon espace santé flows). */
export const helene: Resource = {
  resourceType: 'Patient',
  id: 'helene',
  meta: { lastUpdated: '2026-03-10T08:00:00.000Z', tag: [{ system: 'https://carnet.example/tags', code: 'imported' }] },
  identifier: [
    {
      system: 'urn:oid:1.2.250.1.213.1.4.8',
      value: '2800375123456',
      type: { coding: [{ system: 'http://interopsante.org/CodeSystem/v2-0203', code: 'INS-NIR' }] },
    },
  ],
  name: [{ use: 'official', family: 'Lefèvre', given: ['Hélène', 'Marie'] }],
  gender: 'female',
  birthDate: '1980-03-14',
  telecom: [{ system: 'email', value: 'helene@example.fr' }],
  address: [{ line: ['12  rue des Œillets'], city: 'Saint-Étienne', postalCode: '42000', country: 'FR' }],
  generalPractitioner: [{ reference: 'Practitioner/dr-martin' }],
};

export const paul: Resource = {
  resourceType: 'Patient',
  id: 'paul',
  meta: { lastUpdated: '2026-05-01T09:30:00.000Z' },
  name: [{ family: 'Martin', given: ['Paul'] }],
  gender: 'male',
  birthDate: '2019',
  deceasedDateTime: '2026-04-02T10:00:00+02:00',
};

export const glucose: Resource = {
  resourceType: 'Observation',
  id: 'glucose',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose [Mass/volume] in Blood' }], text: 'Glycémie' },
  subject: { reference: 'Patient/helene' },
  effectivePeriod: { start: '2026-03-01T08:00:00+01:00', end: '2026-03-01T08:30:00+01:00' },
  valueQuantity: { value: 0.95, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
  performer: [{ reference: `https://carnet.example/fhir/Practitioner/dr-martin` }],
};

export const bloodPressure: Resource = {
  resourceType: 'Observation',
  id: 'bp',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
  subject: { reference: 'Patient/paul' },
  effectiveDateTime: '2026-03-15',
  component: [
    { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
    { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
  ],
};

export const report: Resource = {
  resourceType: 'DocumentReference',
  id: 'cr-bio',
  meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] },
  masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.999.1.2.3' },
  status: 'current',
  type: { coding: [{ system: 'http://loinc.org', code: '11502-2', display: 'CR d\'examens biologiques' }] },
  category: [{ coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.1', code: 'BIO', display: 'Biologie' }] }],
  subject: { reference: 'Patient/helene' },
  author: [{ reference: 'Practitioner/dr-martin' }, { reference: 'Organization/labo-42' }],
  date: '2026-03-02T10:15:00+01:00',
  description: 'Compte rendu de biologie',
  content: [
    {
      attachment: { contentType: 'application/pdf', language: 'fr-FR', url: 'Binary/cr-bio-pdf', creation: '2026-03-01T18:00:00+01:00' },
      format: { system: 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode', code: 'urn:ihe:lab:xd-lab:2008' },
    },
  ],
  context: {
    period: { start: '2026-03-01', end: '2026-03-02' },
    practiceSetting: { coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.9', code: 'BIOLOGIE' }] },
    encounter: [{ reference: 'Encounter/e1' }],
  },
};

export const allergy: Resource = {
  resourceType: 'AllergyIntolerance',
  id: 'peanut',
  patient: { reference: 'Patient/helene' },
  recorder: { reference: 'Patient/helene' },
  code: { coding: [{ system: 'http://snomed.info/sct', code: '91935009', display: 'Allergy to peanut' }] },
  recordedDate: '2025',
};

export const appointment: Resource = {
  resourceType: 'Appointment',
  id: 'rdv',
  status: 'booked',
  start: '2026-07-01T09:00:00Z',
  participant: [
    { actor: { reference: 'Patient/paul' }, status: 'accepted' },
    { actor: { reference: 'Practitioner/dr-martin' }, status: 'accepted' },
  ],
};

export const ALL: Resource[] = [helene, paul, glucose, bloodPressure, report, allergy, appointment];
