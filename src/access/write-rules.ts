import { fhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord } from '../store/store.js';
import { checkAuthorship } from './authorship.js';
import { DIRECTORY } from './clauses.js';
import type { AccessFacts } from './facts.js';
import { REPRESENTATIVE_CODES } from './facts.js';
import { governedLabels, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX, MASQUE_PS, type GovernedLabel } from './labels.js';

/**
 * Who may write what, beyond seeing it (see the README, "Who sees what"): decided on the record
 * before and after the write and on the facts of the request. Each refusal is a 403 and nothing is
 * written. Visibility (404 for what the caller may not see) is checked before, by the interaction.
 */
export function checkWriteRules(before: CurrentRecord | undefined, after: CurrentRecord, facts: AccessFacts, baseUrl = ''): void {
  const actor = facts.actor;
  if (actor.kind === 'system') return;
  const live = before && !before.deleted ? before : undefined;
  const wrote = (record: CurrentRecord | undefined) => record?.by?.some((w) => actor.self.includes(w)) ?? false;
  const isPatientSide = actor.kind === 'patient' || actor.kind === 'representative';

  if (after.type === 'Group' && actor.kind !== 'professional') {
    throw fhirError('forbidden', 'Groups (lists of patients) are written by system clients and professionals only', 'Group');
  }
  if (actor.kind === 'professional') {
    if (after.comp.some((c) => facts.blocked.includes(c))) {
      throw fhirError('forbidden', 'The patient has not authorized this professional to write in their record');
    }
    if (before && !wrote(before)) throw fhirError('forbidden', 'A professional may change only the resources they wrote');
  }
  if ((isPatientSide || actor.kind === 'nobody') && DIRECTORY.has(after.type)) {
    throw fhirError('forbidden', `Only professionals (about themselves) and system clients write the directory (${after.type})`);
  }
  if (actor.kind === 'nobody' && before && !wrote(before)) throw fhirError('forbidden', 'This user may change only the resources they wrote');

  if (live && isPatientSide && after.type === 'DocumentReference' && !wrote(live) && !sameButLabels(live.resource, after.resource)) {
    throw fhirError('forbidden', 'In a document someone else wrote, the patient may change only its securityLabel (to mask it from professionals or show it again)');
  }

  const beforeLabels = governedLabels(live?.resource);
  const afterLabels = governedLabels(after.resource);
  for (const label of new Set<GovernedLabel>([...beforeLabels, ...afterLabels])) {
    if (beforeLabels.has(label) === afterLabels.has(label)) continue;
    const author = live ? wrote(live) : true;
    const allowed =
      label === MASQUE_PS ? isPatientSide
      : label === INVISIBLE_PATIENT ? author && !isPatientSide
      : label === INVISIBLE_REPRESENTANTS_LEGAUX ? (author && !isPatientSide) || actor.kind === 'patient'
      : false;
    if (!allowed) throw fhirError('forbidden', `This user may not set or remove the ${label} label`, `${after.type}.securityLabel`);
  }

  if (after.type === 'Patient' && !isPatientSide && !sameList(live?.resource?.generalPractitioner, after.resource?.generalPractitioner)) {
    throw fhirError('forbidden', 'Only the patient, a legal representative or a system client may choose the médecin traitant', 'Patient.generalPractitioner');
  }
  if (after.type === 'RelatedPerson' && !isPatientSide && (representsSomeone(after.resource) || representsSomeone(live?.resource))) {
    throw fhirError('forbidden', 'Only the patient, a legal representative or a system client may name a legal representative', 'RelatedPerson.relationship');
  }
  if (after.type === 'Consent' && !isPatientSide) {
    if (actor.kind !== 'professional' || !isAttestedPermit(after.resource, actor.self)) {
      throw fhirError(
        'forbidden',
        'A professional may record only the patient\'s authorization naming themselves: provision.type permit, every provision.actor the professional, no data, purpose or nested provision, and verification[].verified true',
        'Consent',
      );
    }
  }
  checkAuthorship(before, after, actor, baseUrl);
}

/** A deletion: by a professional (or another user who is not the patient's side), of what they wrote only. */
export function checkDeleteRules(before: CurrentRecord, facts: AccessFacts): void {
  const actor = facts.actor;
  if (actor.kind === 'system') return;
  if (actor.kind !== 'professional' && DIRECTORY.has(before.type)) {
    throw fhirError('forbidden', `Only professionals (about themselves) and system clients write the directory (${before.type})`);
  }
  if (actor.kind !== 'professional' && actor.kind !== 'nobody') return;
  if (!before.by?.some((w) => actor.self.includes(w))) throw fhirError('forbidden', 'A professional may delete only the resources they wrote');
}

const strip = (r: Resource | undefined): string => {
  if (!r) return '';
  const { meta: _meta, securityLabel: _labels, ...rest } = r;
  return JSON.stringify(rest);
};

function sameButLabels(a: Resource | undefined, b: Resource | undefined): boolean {
  return strip(a) === strip(b);
}

function sameList(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

function representsSomeone(r: Resource | undefined): boolean {
  const codes = ((r?.relationship as Array<{ coding?: Array<{ code?: string }> }> | undefined) ?? []).flatMap((c) => c.coding ?? []);
  return codes.some((c) => typeof c.code === 'string' && REPRESENTATIVE_CODES.has(c.code));
}

/** The attested authorization a professional may record: a permit naming only themselves, verified. */
export function isAttestedPermit(consent: Resource | undefined, self: string[]): boolean {
  const p = consent?.provision as { type?: string; actor?: Array<{ reference?: { reference?: string } }>; data?: unknown[]; purpose?: unknown[]; provision?: unknown[] } | undefined;
  if (!p || p.type !== 'permit' || p.data?.length || p.purpose?.length || p.provision?.length) return false;
  const actors = (p.actor ?? []).map((a) => a.reference?.reference);
  if (actors.length === 0 || !actors.every((a) => typeof a === 'string' && self.includes(a))) return false;
  const verification = consent?.verification as Array<{ verified?: boolean }> | undefined;
  return Array.isArray(verification) && verification.some((v) => v.verified === true);
}
