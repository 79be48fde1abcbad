import type { AccessFacts } from '../access/facts.js';
import type { Journal } from '../audit/journal.js';
import { touched, type TouchedDeps } from '../audit/touched.js';
import { fhirError } from '../errors.js';
import type { FhirRequest, FhirResult, Log } from '../interactions/types.js';
import type { CurrentRecord, Store } from '../store/store.js';
import { noticeRecord, onceId, TEXTS, type Notice, type RecordDeps } from './notice.js';
import { firstAccessId, noticedAs } from './once-id.js';

export interface AccessNoticeDeps extends RecordDeps {
  store: Store;
}

export interface AccessOutcome {
  facts: AccessFacts | undefined;
  status: number;
  /** The patients whose records the request touched (asked only when a notification may follow). */
  patients: () => Promise<string[]>;
  /** The AuditEvent that records the access, when there is one: where the patient looks. */
  event?: string;
}

export interface AccessNotifier {
  /**
   * Appends `records` (the request's AuditEvent, or nothing with CARNET_AUDIT=off) to the journal
   * with the notifications the access causes, in one commit: a professional's first access to a
   * record they may see (médecin traitant, authorized), once per professional and patient; an
   * emergency access, once per professional, patient and day (UTC), to the patient and to their
   * médecin traitant. A notification that another request (or process) committed first is
   * dropped by the journal, not the commit.
   */
  appendWith(journal: Journal, records: CurrentRecord[], outcome: AccessOutcome): Promise<void>;
  /**
   * With CARNET_AUDIT=off: runs the request, then commits its access notifications (reading what
   * it touched as the audit would) before the answer leaves.
   */
  around(journal: Journal, deps: TouchedDeps, req: FhirRequest, log: Log, facts: () => AccessFacts | undefined, run: () => Promise<FhirResult>): Promise<FhirResult>;
}

/** The patients of an AuditEvent's entities (role 1, Patient). */
export function patientsOf(entities: Array<{ what?: { reference?: string }; role?: { code?: string } }>): string[] {
  return entities.filter((e) => e.role?.code === '1' && e.what?.reference?.startsWith('Patient/')).map((e) => e.what!.reference!);
}

/** Ids known to be stored already: most requests of a professional then cost no store read. Cleared when full. */
const KNOWN_LIMIT = 100_000;

const ref = (value: unknown): string | undefined => {
  const r = (value as { reference?: unknown } | undefined)?.reference;
  return typeof r === 'string' ? r : undefined;
};

export function createAccessNotifier(deps: AccessNoticeDeps): AccessNotifier {
  const known = new Set<string>();
  const remember = (ids: string[]) => {
    if (known.size + ids.length > KNOWN_LIMIT) known.clear();
    for (const id of ids) known.add(id);
  };
  const isNew = async (id: string) => {
    if (known.has(id)) return false;
    const stored = await deps.store.exists('Communication', id);
    if (stored) remember([id]);
    return !stored;
  };
  const doctorsOf = async (patient: string): Promise<string[]> => {
    const record = await deps.store.read('Patient', patient.slice('Patient/'.length));
    const gps = (record && !record.deleted ? (record.resource?.generalPractitioner as unknown[] | undefined) : undefined) ?? [];
    return gps.map(ref).filter((r): r is string => r !== undefined && /^(Practitioner|PractitionerRole)\/[^/]+$/.test(r));
  };

  const notices = async ({ facts, status, patients, event }: AccessOutcome): Promise<Notice[]> => {
    if (!facts || facts.actor.kind !== 'professional' || status >= 400) return [];
    const emergency = new Set(facts.emergency);
    const reached = new Set([...facts.gp, ...facts.permitted]);
    if (emergency.size === 0 && reached.size === 0) return [];
    // One professional, whichever of their roles the token names.
    const professional = noticedAs(facts.actor.self);
    const about = [...(event ? [event] : []), professional];
    const out: Notice[] = [];
    for (const patient of await patients()) {
      if (emergency.has(patient)) {
        const day = deps.now().toISOString().slice(0, 10);
        const id = onceId('emergency-access', patient, professional, day);
        if (!(await isNew(id))) continue;
        out.push({ kind: 'emergency-access', patient, recipient: patient, about, text: TEXTS.emergency, id });
        for (const gp of await doctorsOf(patient)) {
          out.push({ kind: 'emergency-access', patient, recipient: gp, about: [patient], text: TEXTS.emergencyToGp, id: onceId('emergency-access', patient, professional, day, gp) });
        }
      } else if (reached.has(patient) && !facts.seen?.includes(`${patient}|${professional}`)) {
        const id = firstAccessId(patient, professional);
        if (await isNew(id)) out.push({ kind: 'first-access', patient, recipient: patient, about, text: TEXTS.firstAccess, id });
      }
    }
    return out;
  };

  const appendWith: AccessNotifier['appendWith'] = async (journal, records, outcome) => {
    const notes = (await notices(outcome)).map((n) => noticeRecord(n, deps));
    await journal.append(records, notes);
    remember(notes.map((n) => n.id));
  };
  return {
    appendWith,
    async around(journal, touchedDeps, req, log, facts, run) {
      const result = await run();
      try {
        await appendWith(journal, [], { facts: facts(), status: result.status, patients: async () => patientsOf(await touched(touchedDeps, req, result)) });
      } catch (e) {
        log.error({ err: e }, 'the notifications of an access could not be recorded');
        throw fhirError('unavailable', 'The notifications of this access could not be recorded; try again');
      }
      return result;
    },
  };
}
