/** The access model, as the CapabilityStatement states it (the README's "Who sees what" says the same at length). */
export const ACCESS_MODEL = [
  'Bearer JWT verified against the configured JWKS (issuer, audience and expiry checked). Scopes (SMART v2, v1 accepted) are enforced per resource type and interaction;',
  'what a user sees of a patient record is then decided per request and enforced inside every query (totals and pages count only what the caller may see; what is hidden answers 404 as if absent).',
  'System clients (system/ scopes, no fhirUser): the power of their scopes. Patient (fhirUser Patient/x): their record, except DocumentReferences labelled INVISIBLE_PATIENT (TRE_A07) until the author removes the label or a month after DocumentReference.date.',
  'Legal representative (fhirUser RelatedPerson/y, active, relationship a v3 RoleCode parent or GUARD, patient under 18): acts for the patient, except documents labelled INVISIBLE_REPRESENTANTS_LEGAUX.',
  "Professional (fhirUser Practitioner/z or PractitionerRole of z): reads x's record when x's active Consent (scope patient-privacy, provision.type permit, provision.actor z or a role of z) authorizes them or x's Patient.generalPractitioner names them;",
  'an active Consent deny naming them blocks them (médecin traitant included); a provision with a period holds within it only; documents labelled MASQUE_PS or named in a deny provision.data are hidden from professionals except their author and the médecin traitant; an author always sees what they wrote.',
  'Emergency access: purpose_of_use BTG reads the patient the request names (launch patient, compartment, patient parameter or the resource read) unless x has an active Consent deny with provision.purpose BTG; never what a block or mask hides.',
  'A professional records the patient\'s authorization as an attested Consent: provision.type permit, every provision.actor themselves, no data, purpose or nested provision, verification[].verified true; Consent.patient may be given by identifier (INS) alone.',
  'Messages (Communication, CommunicationRequest): their sender and recipients only. AuditEvent: the patient and representatives only. Binary: the access of its securityContext. Type and system history: system clients only. Update as create (PUT to a new id): system clients only.',
].join(' ');
