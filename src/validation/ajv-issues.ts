import type { ErrorObject } from 'ajv';
import type { Issue } from '../errors.js';
import { emptyString } from './structure.js';

/**
 * Turns ajv's error list into issues a developer can act on: one issue per element, a FHIRPath-like
 * expression (`/content/0/attachment` -> `DocumentReference.content[0].attachment`) and a message
 * naming the element, the FHIR type and the value received.
 */
export function ajvIssues(rootExpression: string, errors: readonly ErrorObject[]): Issue[] {
  const best = new Map<string, { rank: number; issue: Issue }>();
  for (const error of errors) {
    const mapped = mapError(rootExpression, error);
    if (!mapped) continue;
    const key = `${mapped.issue.expression![0]}\u0000${mapped.rank === 0 ? mapped.issue.diagnostics : ''}`;
    const current = best.get(key);
    if (!current || mapped.rank < current.rank) best.set(key, mapped);
  }
  return [...best.values()].map((m) => m.issue);
}

/** Lower rank wins when several errors land on one element (oneOf/anyOf report every branch). */
const RANK: Record<string, number> = {
  required: 0,
  additionalProperties: 0,
  type: 1,
  enum: 2,
  const: 2,
  pattern: 3,
  minimum: 3,
  maximum: 3,
  minLength: 3,
  anyOf: 9,
  oneOf: 9,
};

function mapError(root: string, error: ErrorObject): { rank: number; issue: Issue } | undefined {
  const at = pointerToExpression(root, error.instancePath);
  const name = elementName(at);
  const rank = RANK[error.keyword] ?? 5;
  const issue = (code: string, diagnostics: string, expression = at): { rank: number; issue: Issue } => ({
    rank,
    issue: { severity: 'error', code, diagnostics, expression: [expression] },
  });
  const params = error.params as Record<string, any>;
  if (error.data === '' && error.keyword !== 'type') return { rank, issue: emptyString(at, name) };
  switch (error.keyword) {
    case 'additionalProperties':
      return issue('structure', `Unknown element '${params.additionalProperty}'`, `${at}.${params.additionalProperty}`);
    case 'required':
      return issue('required', `Missing required element '${params.missingProperty}'`, `${at}.${params.missingProperty}`);
    case 'type': {
      const expected = ([] as string[]).concat(params.type).filter((t) => t !== 'null');
      const fhirType = fhirTypeOf(error);
      const what = expected[0] === 'object' ? `a JSON object${fhirType ? ` (${fhirType})` : ''}` :
        expected[0] === 'array' ? 'a JSON array' :
        fhirType ? `a FHIR ${fhirType} (JSON ${expected.join(' or ')})` : `a JSON ${expected.join(' or ')}`;
      return issue('structure', `Element '${name}' must be ${what}, not ${describe(error.data)}`);
    }
    case 'enum':
      return issue('code-invalid', `Invalid code ${show(error.data)} for '${name}': expected one of ${(params.allowedValues as unknown[]).filter((v) => v !== null).join(', ')}`);
    case 'const':
      return issue('value', `Invalid value ${show(error.data)} for '${name}': expected ${show(params.allowedValue)}`);
    case 'pattern':
    case 'minLength': {
      const fhirType = fhirTypeOf(error);
      const hint = (fhirType && FORMAT_HINTS[fhirType]) ?? `a valid FHIR ${fhirType ?? 'value'}`;
      return issue('value', `Invalid ${fhirType ?? 'value'} ${show(error.data)} for '${name}': expected ${hint}`);
    }
    case 'minimum':
    case 'maximum': {
      const fhirType = fhirTypeOf(error) ?? 'integer';
      return issue('value', `Invalid ${fhirType} ${show(error.data)} for '${name}': must be ${error.keyword === 'minimum' ? '>=' : '<='} ${params.limit}`);
    }
    case 'fhirChoices': {
      const present = params.present as string[];
      return issue('structure', `Elements ${present.map((k) => `'${k}'`).join(' and ')} are types of one choice element: give one`, `${at}.${present[1]}`);
    }
    case 'fhirReference':
      return issue('value', error.message ?? 'Invalid reference', `${at}.reference`);
    case 'anyOf':
    case 'oneOf':
      return issue('structure', `Element '${name}' matches none of its allowed forms`);
    default:
      return issue('invalid', `Element '${name}': ${error.message ?? error.keyword}`);
  }
}

const FORMAT_HINTS: Record<string, string> = {
  date: 'YYYY, YYYY-MM or YYYY-MM-DD',
  dateTime: 'YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone (Z or +hh:mm)',
  instant: 'YYYY-MM-DDThh:mm:ss[.sss] with a time zone (Z or +hh:mm)',
  time: 'hh:mm:ss[.sss]',
  id: '1 to 64 characters among A-Z a-z 0-9 - .',
  code: 'a non-empty token without leading, trailing or repeated whitespace',
  string: 'a non-empty string without vertical tab or form feed characters',
  markdown: 'a non-empty string without vertical tab or form feed characters',
  uri: 'a non-empty URI without whitespace',
  url: 'a non-empty URL without whitespace',
  canonical: 'a non-empty canonical URL without whitespace',
  oid: 'urn:oid: followed by a dotted number',
  uuid: 'urn:uuid: followed by a lower-case UUID',
  base64Binary: 'base64 text (A-Z a-z 0-9 + / and = padding, whitespace allowed)',
  decimal: 'a decimal number',
  xhtml: 'a non-empty XHTML div',
};

/** The FHIR type the failing schema describes: `#/definitions/date/pattern` -> date. */
function fhirTypeOf(error: ErrorObject): string | undefined {
  const fromParent = (error.parentSchema as Record<string, unknown> | undefined)?.['x-fhir-type'];
  if (typeof fromParent === 'string') return fromParent;
  const m = /^#\/definitions\/([A-Za-z0-9]+)\/[A-Za-z]+$/.exec(error.schemaPath);
  return m?.[1];
}

export function pointerToExpression(root: string, pointer: string): string {
  if (!pointer) return root;
  const segments = pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = root;
  segments.forEach((seg, i) => {
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    // Extensions of a primitive (`_birthDate`) belong to the element itself in FHIRPath.
    else out += `.${seg.startsWith('_') && i < segments.length - 1 ? seg.slice(1) : seg}`;
  });
  return out;
}

function elementName(expression: string): string {
  const last = expression.replace(/(\[\d+\])+$/, '').split('.').pop() ?? expression;
  return last;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${show(value)}`;
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
