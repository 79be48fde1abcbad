import { Ajv, type ValidateFunction } from 'ajv';
import type { Issue } from '../errors.js';
import { ajvIssues } from './ajv-issues.js';
import { prepareSchema, SCHEMA_ID } from './fhir-schema.js';
import { FHIR_CHOICES, FHIR_REFERENCE } from './keywords.js';

export interface SchemaValidator {
  /** Issues of one resource against its type's schema; `rootExpression` prefixes every expression. */
  validate(type: string, resource: object, rootExpression?: string): Issue[];
  /** Types compiled so far. */
  compiled(): string[];
}

/**
 * Ajv validators per resource type, compiled on first use and cached. The first compile pays for
 * the shared data types (Reference, CodeableConcept...); later types reuse them.
 */
export function createSchemaValidator(): SchemaValidator {
  let ajv: Ajv | undefined;
  const cache = new Map<string, ValidateFunction>();

  function validatorFor(type: string): ValidateFunction {
    let fn = cache.get(type);
    if (!fn) {
      if (!ajv) {
        // verbose: errors carry the offending value and schema, used for readable messages.
        ajv = new Ajv({ strict: false, allErrors: true, verbose: true });
        ajv.addKeyword(FHIR_CHOICES);
        ajv.addKeyword(FHIR_REFERENCE);
        ajv.addSchema(prepareSchema());
      }
      fn = ajv.getSchema(`${SCHEMA_ID}#/definitions/${type}`);
      if (!fn) throw new Error(`No JSON schema for resource type ${type}`);
      cache.set(type, fn);
    }
    return fn;
  }

  return {
    validate(type, resource, rootExpression = type) {
      const fn = validatorFor(type);
      return fn(resource) ? [] : ajvIssues(rootExpression, fn.errors ?? []);
    },
    compiled: () => [...cache.keys()],
  };
}
