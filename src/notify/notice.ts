import { eventId } from '../audit/event-id.js';
import type { Principal } from '../auth/principal.js';
import { buildRecord } from '../interactions/records.js';
import type { Context } from '../interactions/types.js';
import type { CurrentRecord } from '../store/store.js';
import { NOTIFICATION_SYSTEM } from './once-id.js';

export { NOTIFICATION_SYSTEM, onceId } from './once-id.js';

const COMMUNICATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/communication-category';

export type NoticeKind =
  | 'document-new'
  | 'document-changed'
  | 'first-access'
  | 'emergency-access'
  | 'document-embargoed'
  | 'authorization'
  | 'representative'
  | 'reminder-due';

/**
 * One notification: that something happened in a patient's record, when, and where to look
 * (`about`, references only). Never the content, title, type or author of a document.
 */
export interface Notice {
  kind: NoticeKind;
  /** 'Patient/x': whose record. */
  patient: string;
  /** Who is told: the patient, or their médecin traitant for an emergency access. */
  recipient: string;
  about: string[];
  text: string;
  /** A deterministic id, for what is notified once whatever the number of times it happens. */
  id?: string;
}

/** The writer of notifications (VersionRecord.writer `client:carnet-notify`): no user ever is, so no user sees them as their own. */
const NOTIFIER: Principal = { subject: 'carnet-notify', scopes: [], scope: '' };

export type RecordDeps = Pick<Context, 'now' | 'registry' | 'baseUrl'>;

export function noticeRecord(n: Notice, deps: RecordDeps): CurrentRecord {
  const resource = {
    resourceType: 'Communication',
    status: 'completed',
    category: [
      { coding: [{ system: COMMUNICATION_CATEGORY, code: 'notification' }] },
      { coding: [{ system: NOTIFICATION_SYSTEM, code: n.kind }] },
    ],
    subject: { reference: n.patient },
    recipient: [{ reference: n.recipient }],
    sent: deps.now().toISOString(),
    ...(n.about.length > 0 ? { about: n.about.map((reference) => ({ reference })) } : {}),
    payload: [{ contentString: n.text }],
  };
  // Without an id of its own, one in time order: notifications written together then land on the
  // same pages of the store's indexes keyed by id, where random ids each dirtied pages of their own
  // (appending notifications to a 10,000-patient LMDB store: about 330 against 570 µs of CPU each).
  return buildRecord(resource, 'Communication', n.id ?? `n-${eventId()}`, undefined, { ...deps, principal: NOTIFIER });
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many.replace('{n}', String(n)));

/** The short French texts; they say what happened, never what a document is. */
export const TEXTS = {
  documentsNew: (n: number) => plural(n, 'Un nouveau document a été ajouté à votre dossier.', '{n} nouveaux documents ont été ajoutés à votre dossier.'),
  documentsChanged: (n: number) => plural(n, 'Un document de votre dossier a été remplacé, modifié ou retiré.', '{n} documents de votre dossier ont été remplacés, modifiés ou retirés.'),
  documentsBoth: (added: number, changed: number) =>
    `Votre dossier a changé : ${plural(added, 'un document ajouté', '{n} documents ajoutés')}, ${plural(changed, 'un document remplacé, modifié ou retiré', '{n} documents remplacés, modifiés ou retirés')}.`,
  firstAccess: 'Un professionnel de santé a accédé à votre dossier pour la première fois. Votre historique des accès dit qui et quand.',
  emergency: 'Un professionnel de santé a accédé à votre dossier en urgence (accès bris de glace). Votre historique des accès dit qui et quand.',
  emergencyToGp: "Un professionnel de santé a accédé en urgence (accès bris de glace) au dossier d'un patient dont vous êtes le médecin traitant.",
  embargoed: "Un document de votre dossier ne vous est pas encore visible : le professionnel qui l'a déposé souhaite vous en parler d'abord. Il le sera au plus tard un mois après sa date.",
  authorization: "Un professionnel de santé a enregistré l'autorisation d'accès à votre dossier que vous lui avez donnée.",
  representative: 'Un représentant légal a été ajouté à votre dossier.',
  remindersDue: (n: number) => plural(n, 'Un rappel de prévention a été ajouté à votre agenda.', '{n} rappels de prévention ont été ajoutés à votre agenda.'),
} as const;
