/**
 * The French document visibility labels (TRE_A07 StatutVisibiliteDocument), carried in
 * DocumentReference.securityLabel. See ../../../shared/domain/france.md, "Access rules".
 */
export const TRE_A07 = 'https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument';

/** Hidden from professionals, except the author and the médecin traitant (R1111-49, L1111-16). */
export const MASQUE_PS = 'MASQUE_PS';
/** Hidden from the patient until announced: removed by the author, or one month after the document's date (R1111-53). */
export const INVISIBLE_PATIENT = 'INVISIBLE_PATIENT';
/** Hidden from the legal representatives of a minor (R1111-50). */
export const INVISIBLE_REPRESENTANTS_LEGAUX = 'INVISIBLE_REPRESENTANTS_LEGAUX';

export const GOVERNED_LABELS = [MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX] as const;
export type GovernedLabel = (typeof GOVERNED_LABELS)[number];

/** One month of embargo for INVISIBLE_PATIENT, in milliseconds (a calendar month is not needed to the hour). */
export const EMBARGO_MS = 31 * 24 * 3600 * 1000;

interface Coding {
  system?: unknown;
  code?: unknown;
}

/** The governed labels a resource carries (DocumentReference.securityLabel[].coding[]). */
export function governedLabels(resource: unknown): Set<GovernedLabel> {
  const out = new Set<GovernedLabel>();
  const labels = (resource as { securityLabel?: Array<{ coding?: Coding[] }> } | undefined)?.securityLabel;
  if (!Array.isArray(labels)) return out;
  for (const label of labels) {
    for (const c of Array.isArray(label?.coding) ? label.coding : []) {
      if (c?.system === TRE_A07 && (GOVERNED_LABELS as readonly unknown[]).includes(c.code)) out.add(c.code as GovernedLabel);
    }
  }
  return out;
}

/** The index entry condition of a label (DocumentReference's `security-label` search parameter). */
export function labelEntry(code: GovernedLabel): Record<string, unknown> {
  return { idx: { $elemMatch: { p: 'security-label', s: TRE_A07, c: code } } };
}
