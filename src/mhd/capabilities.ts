/**
 * The IHE MHD actor CapabilityStatements carnet implements, for CapabilityStatement.instantiates:
 * Document Recipient (ITI-65 Provide Document Bundle) and Document Responder (ITI-66 Find Lists,
 * ITI-67 Find Document References, ITI-68 Retrieve Document).
 * https://profiles.ihe.net/ITI/MHD/CapabilityStatement-IHE.MHD.DocumentRecipient.html
 */
export const MHD_INSTANTIATES = [
  'https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient',
  'https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder',
] as const;

/** Media types a PATCH body may have: JSON Patch, and FHIRPath Patch (a Parameters resource). */
export const PATCH_FORMATS = ['application/json-patch+json', 'application/fhir+json'] as const;
