/**
 * One error type for everything a client can be told, built from one registry of codes.
 * Each code fixes the HTTP status and the FHIR issue code (http://hl7.org/fhir/R4/valueset-issue-type.html),
 * so nothing downstream guesses a status from a message.
 */
export const ERROR_CODES = {
  'bad-request': { status: 400, issue: 'invalid' },
  'bad-json': { status: 400, issue: 'structure' },
  'bad-search': { status: 400, issue: 'invalid' },
  'too-costly': { status: 400, issue: 'too-costly' },
  'unauthenticated': { status: 401, issue: 'login' },
  'forbidden': { status: 403, issue: 'forbidden' },
  'not-found': { status: 404, issue: 'not-found' },
  'type-not-supported': { status: 404, issue: 'not-supported' },
  'method-not-allowed': { status: 405, issue: 'not-supported' },
  'not-acceptable': { status: 406, issue: 'not-supported' },
  'conflict': { status: 409, issue: 'conflict' },
  'gone': { status: 410, issue: 'deleted' },
  'precondition-failed': { status: 412, issue: 'conflict' },
  'multiple-matches': { status: 412, issue: 'multiple-matches' },
  'too-large': { status: 413, issue: 'too-costly' },
  'unsupported-media-type': { status: 415, issue: 'not-supported' },
  'invalid-resource': { status: 422, issue: 'invalid' },
  'too-many-requests': { status: 429, issue: 'throttled' },
  'internal': { status: 500, issue: 'exception' },
  'unavailable': { status: 503, issue: 'transient' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface Issue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: string;
  diagnostics: string;
  expression?: string[];
}

export class FhirError extends Error {
  readonly status: number;
  readonly issues: Issue[];

  constructor(readonly code: ErrorCode, message: string, opts: { expression?: string; issues?: Issue[] } = {}) {
    super(message);
    this.name = 'FhirError';
    const def = ERROR_CODES[code];
    this.status = def.status;
    this.issues = opts.issues?.length
      ? opts.issues
      : [{ severity: 'error', code: def.issue, diagnostics: message, ...(opts.expression ? { expression: [opts.expression] } : {}) }];
  }
}

export function fhirError(code: ErrorCode, message: string, expression?: string): FhirError {
  return new FhirError(code, message, { expression });
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Issue[];
}

export function operationOutcome(issues: Issue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

/** The OperationOutcome a client sees for any thrown value. A 5xx names only the request id. */
export function toOutcome(err: unknown, requestId: string): { status: number; outcome: OperationOutcome } {
  if (err instanceof FhirError) return { status: err.status, outcome: operationOutcome(err.issues) };
  return {
    status: 500,
    outcome: operationOutcome([
      { severity: 'fatal', code: 'exception', diagnostics: `Internal error; request id ${requestId}` },
    ]),
  };
}

export function informational(message: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', diagnostics: message }]);
}
