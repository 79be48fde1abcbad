/**
 * The sections of an International Patient Summary (HL7 IPS, http://hl7.org/fhir/uv/ips/) that a
 * carnet record can fill, in the IPS order, each with the search that fills it. `required`
 * sections appear even when empty, saying so (emptyReason and narrative), as IPS requires; the
 * others only when they have entries.
 */
export interface SectionSpec {
  title: string;
  /** LOINC code of the section. */
  code: string;
  display: string;
  required: boolean;
  /** The type whose records fill it, and the search (carnet's search syntax) that selects them; none for a section carnet has no type for. */
  type?: string;
  query?: Record<string, string | string[]>;
  /** What the narrative says when the section is empty. */
  none: string;
}

/** Most entries per section: a summary, not the whole record (that is $everything). */
export const SECTION_LIMIT = 100;

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

export const SECTIONS: SectionSpec[] = [
  {
    title: 'Allergies and Intolerances', code: '48765-2', display: 'Allergies and adverse reactions Document', required: true,
    type: 'AllergyIntolerance',
    query: { 'verification-status:not': ['entered-in-error', 'refuted'], _sort: '-date' },
    none: 'No allergy or intolerance is recorded in this record.',
  },
  {
    title: 'Problem List', code: '11450-4', display: 'Problem list - Reported', required: true,
    type: 'Condition',
    query: { 'clinical-status:not': ['inactive', 'remission', 'resolved'], 'verification-status:not': ['entered-in-error', 'refuted'], _sort: '-onset-date' },
    none: 'No current problem is recorded in this record.',
  },
  {
    // carnet serves no MedicationStatement nor MedicationRequest: the section is always empty.
    title: 'Medication Summary', code: '10160-0', display: 'History of Medication use Narrative', required: true,
    none: 'No medication is recorded in this record: carnet does not hold medication statements or prescriptions.',
  },
  {
    title: 'Immunizations', code: '11369-6', display: 'History of Immunization Narrative', required: false,
    type: 'Immunization', query: { status: 'completed', _sort: '-date' },
    none: 'No immunization is recorded in this record.',
  },
  {
    title: 'Results', code: '30954-2', display: 'Relevant diagnostic tests/laboratory data Narrative', required: false,
    type: 'Observation',
    query: { category: `${CATEGORY}|laboratory,${CATEGORY}|imaging`, 'status:not': ['entered-in-error', 'cancelled'], _sort: '-date' },
    none: 'No result is recorded in this record.',
  },
  {
    title: 'Vital Signs', code: '8716-3', display: 'Vital signs', required: false,
    type: 'Observation',
    query: { category: `${CATEGORY}|vital-signs`, 'status:not': ['entered-in-error', 'cancelled'], _sort: '-date' },
    none: 'No vital sign is recorded in this record.',
  },
  {
    title: 'Advance Directives', code: '42348-3', display: 'Advance directives', required: false,
    type: 'Consent',
    query: { scope: 'http://terminology.hl7.org/CodeSystem/consentscope|adr', status: 'active', _sort: '-date' },
    none: 'No advance directive is recorded in this record.',
  },
];
