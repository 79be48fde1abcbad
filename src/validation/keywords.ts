import type { ErrorObject, KeywordDefinition } from 'ajv';
import { r4ResourceTypes } from './fhir-schema.js';

type KeywordErrors = Array<Partial<ErrorObject>>;

/** A choice element (`onset[x]`) takes one type: `onsetDateTime` and `onsetString` together are invalid. */
export const FHIR_CHOICES: KeywordDefinition = {
  keyword: 'fhirChoices',
  type: 'object',
  schemaType: 'array',
  errors: true,
  validate: function check(groups: string[][], data: Record<string, unknown>) {
    const errors: KeywordErrors = [];
    for (const keys of groups) {
      const present = keys.filter((k) => Object.hasOwn(data, k) || Object.hasOwn(data, `_${k}`));
      if (present.length > 1) errors.push({ keyword: 'fhirChoices', message: 'more than one type', params: { present } });
    }
    (check as { errors?: KeywordErrors }).errors = errors;
    return errors.length === 0;
  },
};

const ID = '[A-Za-z0-9\\-.]{1,64}';
const RELATIVE = new RegExp(`^([A-Z][A-Za-z]+)/${ID}(/_history/${ID})?$`);
/** A conditional reference, resolved by a transaction (http://hl7.org/fhir/R4/http.html#trules). */
const CONDITIONAL = /^([A-Z][A-Za-z]+)\?\S+$/;
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/;
const LOCAL = new RegExp(`^#(${ID})?$`);

let types: Set<string> | undefined;

/**
 * Why `Reference.reference` is not a literal reference (http://hl7.org/fhir/R4/references.html#literal):
 * `Type/id[/_history/vid]` with a known type and a valid id, an absolute URL or URN, `#id`, or
 * a conditional `Type?criteria`.
 */
export function referenceProblem(value: string): string | undefined {
  if (LOCAL.test(value) || ABSOLUTE.test(value)) return undefined;
  const m = RELATIVE.exec(value) ?? CONDITIONAL.exec(value);
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  if (!m) return `Reference '${shown}' is not a literal reference: expected Type/id, an absolute URL or #id`;
  if (!(types ??= r4ResourceTypes()).has(m[1]!)) return `Reference '${shown}' names '${m[1]}', which is not a FHIR resource type`;
  return undefined;
}

export const FHIR_REFERENCE: KeywordDefinition = {
  keyword: 'fhirReference',
  type: 'object',
  schemaType: 'boolean',
  errors: true,
  validate: function check(_enabled: boolean, data: Record<string, unknown>) {
    const problem = typeof data.reference === 'string' ? referenceProblem(data.reference) : undefined;
    (check as { errors?: KeywordErrors }).errors = problem ? [{ keyword: 'fhirReference', message: problem, params: {} }] : [];
    return problem === undefined;
  },
};
