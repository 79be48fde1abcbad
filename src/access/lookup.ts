import type { CurrentRecord, Derivation, LookupEntry, Store } from '../store/store.js';
import { firstAccessId, noticedAs, NOTIFICATION_SYSTEM } from '../notify/once-id.js';
import { holds, purposes, refs, type ConsentFacts, type Provision } from './consent.js';

/**
 * The access facts of a request about a few named patients, read by key from the store's lookup
 * table (Store.lookup) rather than searched: the entries of one patient lie together, in a table
 * small enough to stay in memory, where the Consents and term keys a search reads lie among all of
 * a large store's records, cold for a request about a patient the process has not served lately.
 * The store keeps the entries with each write of the records they come from, in the same
 * transaction on the embedded engine: a Consent revoked is revoked for the next request, in every
 * process, with nothing cached.
 *
 * Keys, for a patient P ('Patient/<id>', each Patient compartment of the record), so that a
 * request reads one key per reference the professional acts or receives messages as, and two more:
 * - `P|<reference>` of a Consent: a Consent of P with a provision (at any depth) naming that actor;
 *   value: the Consent's status and provisions, packed (consentFactsOf reads in them what readConsent reads in the Consent);
 * - `P|<reference>` of a Communication: a message in P's compartment addressed to that recipient,
 *   when the patient whose record holds it wrote it and it attaches documents (value: that patient
 *   and the documents);
 * - `P|<professional>|first-access`: the notice of that professional's first access to P's record,
 *   under the id the notifier gives it (value 'first-access'), so the read of a request's facts says
 *   whether the notice is stored, where the notifier would read it by id among all of the store's
 *   records. Only that notice gives the key (it is `sole`): the journal appends it without reading;
 * - `P|*` of a Consent: a Consent of P with a deny provision naming no actor (a mask or an
 *   opposition to emergency access for everyone); the same value as above;
 * - `P|*` of the Patient: P's médecin traitant, the references of its indexed `general-practitioner`.
 */
export const ACCESS_DERIVATION: Derivation = {
  // Change it whenever derive() changes: stores derive every entry again at open.
  version: 'access-6',
  types: ['Consent', 'Patient', 'Communication'],
  derive: (record) =>
    record.type === 'Consent' ? consentEntries(record) : record.type === 'Patient' ? patientEntries(record) : [...messageEntries(record), ...firstAccessEntries(record)],
};

/** What a request's facts are read from, whichever way: the Consents, médecin traitant and messages of the named patients. */
export interface NamedFacts {
  /** What the active Consents of the named patients with a provision naming one of `self` say at the request's time. */
  naming: ConsentFacts[];
  /** The named patients whose médecin traitant is one of `self`. */
  gp: string[];
  /** What the active Consents of these patients that deny someone they name or deny everyone say. */
  denies(patients: Set<string>): Promise<ConsentFacts[]>;
  /** The documents patients shared by message with these parties: [patient, 'DocumentReference/id']. */
  shared: Array<[string, string]>;
  /** 'Patient/x|<reference>': the first-access notices stored for these patients and one of `self` (none known when not read). */
  seen: string[];
}

const REFERENCE = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;
const DOCUMENT_REFERENCE = /^(?:.*\/)?(DocumentReference\/[A-Za-z0-9\-.]{1,64})$/;
const patientsOf = (record: CurrentRecord) => [...new Set(record.comp.filter((c) => c.startsWith('Patient/')))];
const refOf = (value: unknown): string | undefined => {
  const r = (value as { reference?: unknown } | undefined)?.reference;
  return typeof r === 'string' ? r : undefined;
};

/** The actors a Consent's provisions name at any depth readConsent reads, and whether a deny names none. */
function actorsOf(provision: unknown, inherited: string, out: { actors: Set<string>; denyAll: boolean }, depth = 0): void {
  if (!provision || typeof provision !== 'object' || depth > 8) return;
  const p = provision as { type?: unknown; actor?: unknown; provision?: unknown };
  const type = p.type === 'permit' || p.type === 'deny' ? p.type : inherited;
  const actors = (Array.isArray(p.actor) ? p.actor : []).map((a) => refOf((a as { reference?: unknown })?.reference)).filter((r): r is string => r !== undefined);
  for (const a of actors) if (REFERENCE.test(a)) out.actors.add(a);
  if (type === 'deny' && actors.length === 0) out.denyAll = true;
  if (Array.isArray(p.provision)) for (const nested of p.provision) actorsOf(nested, type, out, depth + 1);
}

/**
 * A provision as an array of what readConsent reads, with nothing else: [type, period, actors, data,
 * purposes, nested], trailing empty parts left out (absent is null). An entry is then about half the
 * size it was as a slim Consent, so a patient's entries take fewer pages of the table and the table
 * fewer pages of memory; the keys of the object form were written again in every value.
 */
type Packed = unknown[];

function pack(provision: unknown, depth = 0): Packed | null {
  if (!provision || typeof provision !== 'object' || depth > 8) return null;
  const p = provision as Record<string, unknown>;
  const nested = Array.isArray(p.provision) ? p.provision.map((n) => pack(n, depth + 1)) : [];
  const out: unknown[] = [p.type ?? null, p.period ?? null, refs(p.actor, 'reference'), refs(p.data, 'reference'), purposes(p.purpose), nested];
  const empty = (part: unknown) => part === null || (Array.isArray(part) && part.length === 0);
  while (out.length > 0 && empty(out[out.length - 1])) out.pop();
  return out;
}

/** The provisions of a packed provision whose period holds at `now`, as readConsent reads them from the Consent. */
function unpacked(packed: unknown, inherited: Provision['type'], out: Provision[], now: number): void {
  if (!Array.isArray(packed)) return;
  const [type, period, actors, data, purposes, nested] = packed as [unknown, unknown, string[]?, string[]?, string[]?, unknown[]?];
  if (!holds(period, now)) return;
  const own = type === 'permit' || type === 'deny' ? type : inherited;
  out.push({ type: own, actors: actors ?? [], data: data ?? [], purposes: purposes ?? [] });
  for (const n of nested ?? []) unpacked(n, own, out, now);
}

/**
 * What the Consent an entry of patient P stands for says at `now`, as readConsent says it of the
 * Consent itself: undefined unless active; its patient (P unless the value names another) and the
 * provisions whose period holds.
 */
export function consentFactsOf(patient: string, value: unknown, now: number): ConsentFacts | undefined {
  const [status, provision, other] = value as [unknown, unknown, (string | null)?];
  if (status !== 'active') return undefined;
  const reference = (value as unknown[]).length > 2 ? (other ?? undefined) : patient;
  const provisions: Provision[] = [];
  // A provision without a type permits (readConsent).
  unpacked(provision, 'permit', provisions, now);
  return { ...(typeof reference === 'string' ? { patient: reference } : {}), provisions };
}

function consentEntries(record: CurrentRecord): LookupEntry[] {
  const r = record.resource;
  if (!r) return [];
  const found = { actors: new Set<string>(), denyAll: false };
  actorsOf(r.provision, 'permit', found);
  const provision = pack(r.provision);
  const own = refOf(r.patient);
  return patientsOf(record).flatMap((p) => {
    // The Consent's own patient reference when it is not the key's (an absolute URL, say).
    const value = own === p ? [r.status, provision] : [r.status, provision, own ?? null];
    return [...[...found.actors].map((a) => `${p}|${a}`), ...(found.denyAll ? [`${p}|*`] : [])].map((key) => ({ key, value }));
  });
}

function patientEntries(record: CurrentRecord): LookupEntry[] {
  const gp = record.idx.filter((e) => e.p === 'general-practitioner' && typeof e.r === 'string').map((e) => e.r as string);
  return gp.length > 0 ? [{ key: `Patient/${record.id}|*`, value: gp }] : [];
}

function messageEntries(record: CurrentRecord): LookupEntry[] {
  const patient = record.comp.find((c) => record.by?.includes(c));
  const payload = record.resource?.payload;
  if (!patient || !Array.isArray(payload)) return [];
  const documents = [...new Set(payload.flatMap((part) => DOCUMENT_REFERENCE.exec(refOf((part as { contentReference?: unknown })?.contentReference) ?? '')?.[1] ?? []))];
  if (documents.length === 0) return [];
  const recipients = new Set(record.idx.filter((e) => e.p === 'recipient' && typeof e.r === 'string' && REFERENCE.test(e.r)).map((e) => e.r as string));
  return patientsOf(record).flatMap((p) => [...recipients].map((to) => ({ key: `${p}|${to}`, value: { patient, documents } })));
}

const FIRST_ACCESS = 'first-access';
const NOTICE_SUFFIX = `|${FIRST_ACCESS}`;
const noticeKey = (patient: string, professional: string) => `${patient}|${professional}${NOTICE_SUFFIX}`;
const PROFESSIONAL = /^(?:Practitioner|PractitionerRole)\/[A-Za-z0-9\-.]{1,64}$/;

function firstAccessEntries(record: CurrentRecord): LookupEntry[] {
  const r = record.resource;
  const codings = Array.isArray(r?.category) ? r.category.flatMap((c) => ((c as { coding?: unknown })?.coding as Array<{ system?: unknown; code?: unknown }> | undefined) ?? []) : [];
  if (!codings.some((c) => c?.system === NOTIFICATION_SYSTEM && c.code === 'first-access')) return [];
  const patient = refOf(r?.subject);
  if (!patient || !record.comp.includes(patient) || !Array.isArray(r?.about)) return [];
  const professionals = r.about.map(refOf).filter((x): x is string => x !== undefined && PROFESSIONAL.test(x));
  return professionals.filter((x) => record.id === firstAccessId(patient, x)).map((x) => ({ key: noticeKey(patient, x), value: FIRST_ACCESS, sole: true }));
}

/** The facts of the named patients, from one read of the lookup table: per patient, a key per reference, `P|*` and the notice's. */
export async function lookedUp(lookup: NonNullable<Store['lookup']>, names: string[], self: string[], parties: string[] | undefined, now: number): Promise<NamedFacts> {
  const patients = [...new Set(names.filter((n) => n.startsWith('Patient/')))];
  const references = [...new Set([...self, ...(parties ?? [])])];
  const noticed = noticedAs(self);
  const hits = await lookup(patients.flatMap((p) => [...references.map((r) => `${p}|${r}`), `${p}|*`, noticeKey(p, noticed)]));
  const mine = new Set(self);
  // By id: a Consent naming two of the professional's references lies under both keys.
  const naming = new Map<string, { patient: string; consent: ConsentFacts | undefined }>();
  const everyone = new Map<string, { patient: string; consent: ConsentFacts | undefined }>();
  const gp: string[] = [];
  const shared = new Map<string, [string, string]>();
  const seen: string[] = [];
  for (const { key, type, id, value } of hits) {
    const bar = key.indexOf('|');
    const patient = key.slice(0, bar);
    const what = key.slice(bar + 1);
    if (type === 'Patient') {
      if ((value as string[]).some((r) => mine.has(r))) gp.push(patient);
    } else if (type === 'Communication') {
      if (value === FIRST_ACCESS) {
        if (key.endsWith(NOTICE_SUFFIX)) seen.push(key.slice(0, -NOTICE_SUFFIX.length));
      } else if (parties) {
        const { patient: writer, documents } = value as { patient: string; documents: string[] };
        for (const d of documents) shared.set(`${writer} ${d}`, [writer, d]);
      }
    } else if (what === '*') {
      if (!everyone.has(id)) everyone.set(id, { patient, consent: consentFactsOf(patient, value, now) });
    }
    // A Consent naming one of the organizations whose messages are read: not this professional.
    else if (mine.has(what) && !naming.has(id)) naming.set(id, { patient, consent: consentFactsOf(patient, value, now) });
  }
  const active = (c: { consent: ConsentFacts | undefined }[]) => c.flatMap((x) => (x.consent ? [x.consent] : []));
  return {
    naming: active([...naming.values()]),
    gp,
    denies: async (reached) => {
      const out = new Map<string, { consent: ConsentFacts | undefined }>();
      for (const [id, c] of [...naming, ...everyone]) if (reached.has(c.patient)) out.set(id, c);
      return active([...out.values()]);
    },
    shared: [...shared.values()],
    seen,
  };
}
