import type { Resource } from '../fhir/resource-types.js';

/**
 * The Consent shapes carnet enforces (see the README, "Who sees what"): a Consent of a patient with
 * status active, whose provisions permit or deny professionals (provision.actor), mask resources
 * (provision.data) or oppose emergency access (provision.purpose BTG). Nested provisions are read
 * as provisions of their own, each with its own type (or its parent's when it has none).
 */
export interface Provision {
  type: 'permit' | 'deny';
  actors: string[];
  data: string[];
  purposes: string[];
}

export interface ConsentFacts {
  /** 'Patient/<id>' */
  patient?: string;
  provisions: Provision[];
}

const V3_ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

function refs(list: unknown, key: 'reference'): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((x) => {
    const r = (x as { reference?: { reference?: unknown } })?.[key]?.reference;
    return typeof r === 'string' ? [r] : [];
  });
}

function purposes(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((c) => {
    const coding = c as { system?: unknown; code?: unknown };
    return typeof coding?.code === 'string' && (coding.system === undefined || coding.system === V3_ACT_REASON) ? [coding.code] : [];
  });
}

function walk(provision: unknown, inherited: Provision['type'], out: Provision[], depth: number): void {
  if (!provision || typeof provision !== 'object' || depth > 8) return;
  const p = provision as { type?: unknown; actor?: unknown; data?: unknown; purpose?: unknown; provision?: unknown };
  const type = p.type === 'permit' || p.type === 'deny' ? p.type : inherited;
  out.push({ type, actors: refs(p.actor, 'reference'), data: refs(p.data, 'reference'), purposes: purposes(p.purpose) });
  if (Array.isArray(p.provision)) for (const nested of p.provision) walk(nested, type, out, depth + 1);
}

/** What an active Consent says; undefined for any other status (inactive, rejected...: revoked). */
export function readConsent(consent: Resource): ConsentFacts | undefined {
  if (consent.status !== 'active') return undefined;
  const patient = (consent.patient as { reference?: unknown } | undefined)?.reference;
  const provisions: Provision[] = [];
  // A provision without a type permits (R4: the base policy applies; carnet reads a bare provision as a permit).
  walk(consent.provision, 'permit', provisions, 0);
  return { ...(typeof patient === 'string' ? { patient } : {}), provisions };
}
