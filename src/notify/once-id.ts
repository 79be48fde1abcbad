import { hash } from 'node:crypto';

/** The kind of a notification: a second category coding, so `Communication?category=urn:carnet:notification|first-access` finds them. */
export const NOTIFICATION_SYSTEM = 'urn:carnet:notification';

/** An id that names one happening (a first access, a document's embargo): the same every time it is computed. */
export function onceId(...parts: string[]): string {
  return `n-${hash('sha256', parts.join('\n'), 'hex').slice(0, 40)}`;
}

/** The id of the notice of a professional's first access to a patient's record: one per professional and patient. */
export const firstAccessId = (patient: string, professional: string) => onceId('first-access', patient, professional);

/** Who a professional's notices name, whichever of their roles the token names: their Practitioner, else the first reference they act as. */
export const noticedAs = (self: string[]): string => self.find((s) => s.startsWith('Practitioner/')) ?? self[0]!;
