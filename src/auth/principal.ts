import { FhirError } from '../errors.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import { parseScopes, type Scope } from './scopes.js';

export type FhirUserType = 'Patient' | 'Practitioner' | 'RelatedPerson' | 'PractitionerRole' | 'Person' | (string & {});

export interface FhirUser {
  type: FhirUserType;
  id: string;
  /** Always relative ('Practitioner/123'), even when the claim was an absolute URL. */
  reference: string;
}

/** Who is calling, from a verified access token. */
export interface Principal {
  /** `sub`, or the fhirUser reference when the token has no `sub`. */
  subject: string;
  fhirUser?: FhirUser;
  scopes: Scope[];
  /** The raw scope claim, space-separated. */
  scope: string;
  /** Patient launch context: a Patient id. */
  patient?: string;
  /** From `purpose_of_use`, e.g. ['BTG'] for emergency access. */
  purposeOfUse?: string[];
}

// Relative 'Practitioner/123' or absolute 'https://x/fhir/Practitioner/123'; a version suffix is dropped.
const FHIR_USER = /(?:^|\/)([A-Z][A-Za-z]{0,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export function parseFhirUser(value: string): FhirUser | undefined {
  const m = FHIR_USER.exec(value);
  if (!m) return undefined;
  if (m.index > 0 && !/^https?:\/\//.test(value)) return undefined;
  const [, type, id] = m as unknown as [string, string, string];
  return { type, id, reference: `${type}/${id}` };
}

function invalid(reason: string): FhirError {
  return new FhirError('unauthenticated', `Access token is invalid: ${reason}`);
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  return undefined;
}

/** Maps the claims of a verified token. Claim values never appear in error messages. */
export function principalFromClaims(claims: Record<string, unknown>): Principal {
  let fhirUser: FhirUser | undefined;
  if (claims.fhirUser !== undefined) {
    fhirUser = typeof claims.fhirUser === 'string' ? parseFhirUser(claims.fhirUser) : undefined;
    if (!fhirUser) throw invalid('fhirUser claim is not a FHIR resource reference');
  }

  const subject = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : fhirUser?.reference;
  if (!subject) throw invalid('token has neither sub nor fhirUser claim');

  // Some issuers send the scopes as an array in `scp` instead of SMART's `scope` string.
  const scopeClaim = claims.scope ?? claims.scp;
  const scopeList = scopeClaim === undefined ? [] : stringList(scopeClaim);
  if (!scopeList) throw invalid('scope claim must be a string');
  const scope = scopeList.join(' ');

  const principal: Principal = { subject, scopes: parseScopes(scope), scope };
  if (fhirUser) principal.fhirUser = fhirUser;

  if (claims.patient !== undefined) {
    const raw = typeof claims.patient === 'string' ? claims.patient.replace(/^Patient\//, '') : '';
    if (!ID_PATTERN.test(raw)) throw invalid('patient claim is not a Patient id');
    principal.patient = raw;
  }

  if (claims.purpose_of_use !== undefined) {
    const values = Array.isArray(claims.purpose_of_use) ? claims.purpose_of_use : [claims.purpose_of_use];
    // A purpose may come as a code or as a Coding ({system, code}).
    const codes = values.map((v) =>
      typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'string' ? (v as { code: string }).code : undefined,
    );
    if (codes.some((c) => c === undefined || c === '')) throw invalid('purpose_of_use claim must hold codes');
    principal.purposeOfUse = codes as string[];
  }

  return principal;
}
