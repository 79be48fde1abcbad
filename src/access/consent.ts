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

/**
 * What a provision says of the professionals it names: an authorization (a permit of everything),
 * a mask (a deny of some data), an opposition to emergency access (a deny for purpose BTG), or a
 * block (any other deny). A permit limited to data or purposes grants nothing.
 */
export function meaningOf(p: Provision): 'authorization' | 'mask' | 'opposition' | 'block' | undefined {
  if (p.type === 'permit') return p.data.length === 0 && p.purposes.length === 0 ? 'authorization' : undefined;
  if (p.data.length > 0) return 'mask';
  return p.purposes.includes('BTG') ? 'opposition' : 'block';
}

const V3_ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

/** The references of a provision's actor or data list (`[].reference.reference`), strings only. */
export function refs(list: unknown, key: 'reference'): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((x) => {
    const r = (x as { reference?: { reference?: unknown } })?.[key]?.reference;
    return typeof r === 'string' ? [r] : [];
  });
}

/** The purpose codes readConsent takes: those of v3 ActReason, or of no system. */
export function purposes(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((c) => {
    const coding = c as { system?: unknown; code?: unknown };
    return typeof coding?.code === 'string' && (coding.system === undefined || coding.system === V3_ACT_REASON) ? [coding.code] : [];
  });
}

/** The earliest (or, for an end, the last) millisecond a FHIR date or dateTime names; NaN when it is none. */
function instant(value: unknown, end: boolean): number {
  if (typeof value !== 'string') return NaN;
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (!m) return Date.parse(value);
  const [y, mo, d] = [Number(m[1]), m[2] ? Number(m[2]) - 1 : undefined, m[3] ? Number(m[3]) : undefined];
  if (!end) return Date.UTC(y, mo ?? 0, d ?? 1);
  // A partial end date holds to its last moment: 2026-06 holds through June 30th.
  return (d !== undefined ? Date.UTC(y, mo!, d + 1) : mo !== undefined ? Date.UTC(y, mo + 1, 1) : Date.UTC(y + 1, 0, 1)) - 1;
}

/** Whether a provision's period (absent: always) holds at `now`; an unreadable bound does not limit it. */
export function holds(period: unknown, now: number): boolean {
  if (!period || typeof period !== 'object') return true;
  const { start, end } = period as { start?: unknown; end?: unknown };
  const from = instant(start, false);
  const to = instant(end, true);
  return !(from > now) && !(to < now);
}

function walk(provision: unknown, inherited: Provision['type'], out: Provision[], depth: number, now: number): void {
  if (!provision || typeof provision !== 'object' || depth > 8) return;
  const p = provision as { type?: unknown; actor?: unknown; data?: unknown; purpose?: unknown; provision?: unknown; period?: unknown };
  // Outside its period a provision says nothing, nor do the exceptions nested in it.
  if (!holds(p.period, now)) return;
  const type = p.type === 'permit' || p.type === 'deny' ? p.type : inherited;
  out.push({ type, actors: refs(p.actor, 'reference'), data: refs(p.data, 'reference'), purposes: purposes(p.purpose) });
  if (Array.isArray(p.provision)) for (const nested of p.provision) walk(nested, type, out, depth + 1, now);
}

/**
 * What an active Consent says at `now` (epoch ms): the provisions whose period holds then.
 * Undefined for any other status (inactive, rejected...: revoked).
 */
export function readConsent(consent: Resource, now: number): ConsentFacts | undefined {
  if (consent.status !== 'active') return undefined;
  const patient = (consent.patient as { reference?: unknown } | undefined)?.reference;
  const provisions: Provision[] = [];
  // A provision without a type permits (R4: the base policy applies; carnet reads a bare provision as a permit).
  walk(consent.provision, 'permit', provisions, 0, now);
  return { ...(typeof patient === 'string' ? { patient } : {}), provisions };
}
