import { definitions } from '../fhir/definitions.js';

/** What the R4 JSON schema says of one element: its JSON key, whether it repeats, its type. */
export interface ElementInfo {
  key: string;
  array: boolean;
  /** Schema definition name (`CodeableConcept`, `DocumentReference_Content`, `code`), when known. */
  type?: string;
}

type SchemaDef = { properties?: Record<string, SchemaProp> };
type SchemaProp = { $ref?: string; type?: string; items?: { $ref?: string } };

const refName = (ref: string | undefined) => ref?.slice(ref.lastIndexOf('/') + 1);

function defs(): Record<string, SchemaDef> {
  return definitions.schema().definitions as Record<string, SchemaDef>;
}

/**
 * The element `name` of the element reached by `steps` from the root of `doc` (or of a value of
 * schema type `startType`). A choice element is found from the value's type suffix
 * (`value` + `Boolean` -> `valueBoolean`). Undefined when the schema has no such element.
 */
export function elementOf(
  doc: Record<string, any> | undefined,
  steps: Array<{ key: string; index: number | null }>,
  name: string,
  suffix?: string,
  startType?: string,
): ElementInfo | undefined {
  const all = defs();
  let type = startType ?? (doc?.resourceType as string | undefined);
  let data: any = doc;
  for (const step of steps) {
    const prop = type ? all[type]?.properties?.[step.key] : undefined;
    data = data?.[step.key];
    if (step.index !== null) data = data?.[step.index];
    type = refName(prop?.$ref ?? prop?.items?.$ref);
    // A contained resource: its own type, from its JSON.
    if (type === 'ResourceList') type = typeof data?.resourceType === 'string' ? data.resourceType : undefined;
    if (!type) return undefined;
  }
  const props = type ? all[type]?.properties : undefined;
  if (!props) return undefined;
  const key = Object.hasOwn(props, name) ? name : suffix && Object.hasOwn(props, name + suffix) ? name + suffix : undefined;
  if (!key) return undefined;
  const prop = props[key];
  const t = refName(prop.$ref ?? prop.items?.$ref) ?? (typeof prop.type === 'string' && prop.type !== 'array' ? prop.type : undefined);
  return { key, array: prop.type === 'array', ...(t ? { type: t } : {}) };
}
