import type { Principal } from '../auth/principal.js';
import type { CurrentRecord, Store } from '../store/store.js';
import { meaningOf, readConsent } from './consent.js';
import { lookedUp, type NamedFacts } from './lookup.js';

/**
 * Who the caller is for access decisions, from the verified token and the record. A system client
 * (system scopes and no fhirUser) has the power of its scopes; any token naming a fhirUser acts as
 * that user.
 */
export type Actor =
  | { kind: 'system' }
  | { kind: 'patient'; patient: string; self: string[] }
  | { kind: 'representative'; patient: string; self: string[] }
  /** organizations: those of the professional's roles in force, whose messages they read. */
  | { kind: 'professional'; self: string[]; emergency: boolean; organizations?: string[] }
  | { kind: 'nobody'; self: string[] };

/**
 * What the access decision of one request rests on, gathered once per request by ordinary store
 * queries on indexed search data. Patient references are 'Patient/<id>'.
 */
export interface AccessFacts {
  actor: Actor;
  /** Professional: patients whose médecin traitant they are (Patient.generalPractitioner), not blocked. */
  gp: string[];
  /** Professional: patients whose active Consent permits them, not blocked. */
  permitted: string[];
  /** Professional: patients whose active Consent denies them. Overrides everything but authorship. */
  blocked: string[];
  /** Professional with purpose_of_use BTG: the patients the request names who did not oppose it. */
  emergency: string[];
  /**
   * What Consent provisions mask from this professional: [patient, 'Type/id'] pairs. A mask holds
   * within its own patient's record only (a Consent cannot hide another patient's resource).
   */
  masked: Array<[patient: string, ref: string]>;
  /**
   * Professional: the documents patients attached to the messages they sent this professional or
   * their organizations (Communication.payload.contentReference): [patient, 'DocumentReference/id'].
   */
  shared?: Array<[patient: string, ref: string]>;
  /**
   * Professional: 'Patient/x|<reference>' for the first-access notices the store holds, of the named
   * patients and the professional's references, when their facts were read by key (lookup.ts); the
   * notifier reads the others by id.
   */
  seen?: string[];
  /** Request time, epoch milliseconds (to the minute: clauses stay the same within it). */
  now: number;
}

/** v3 RoleCode parents and guardians: who may act for a minor. */
export const REPRESENTATIVE_CODES = new Set([
  'PRN', 'MTH', 'FTH', 'NPRN', 'NMTH', 'NFTH', 'NMTHF', 'NFTHF', 'ADOPTP', 'ADOPTM', 'ADOPTF', 'STPPRN', 'STPMTH', 'STPFTH',
  'PRNFOST', 'MTHFOST', 'FTHFOST', 'GESTM', 'GUARD',
]);
const V3_ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const PROFESSIONAL_TYPES = new Set(['Practitioner', 'PractitionerRole']);
const ADULT_YEARS = 18;

const ref = (value: unknown): string | undefined => {
  const r = (value as { reference?: unknown } | undefined)?.reference;
  return typeof r === 'string' ? r : undefined;
};

/** Whether someone born on `birthDate` (FHIR date, possibly partial) is under 18 at `now`; partial dates count from their earliest day. */
export function isMinor(birthDate: unknown, now: Date): boolean {
  if (typeof birthDate !== 'string') return false;
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(birthDate);
  if (!m) return false;
  const adult = Date.UTC(Number(m[1]) + ADULT_YEARS, Number(m[2] ?? 1) - 1, Number(m[3] ?? 1));
  return now.getTime() < adult;
}

export function isRepresentativeOf(related: CurrentRecord | undefined): string | undefined {
  const r = related?.resource;
  if (!r || related.deleted || r.active === false) return undefined;
  const codes = ((r.relationship as Array<{ coding?: Array<{ system?: string; code?: string }> }> | undefined) ?? []).flatMap((c) => c.coding ?? []);
  if (!codes.some((c) => c.system === V3_ROLE_CODE && typeof c.code === 'string' && REPRESENTATIVE_CODES.has(c.code))) return undefined;
  const patient = ref(r.patient);
  return patient && /^Patient\/[^/]+$/.test(patient) ? patient : undefined;
}

async function find(store: Store, type: string, filter: Record<string, unknown>, limit = 10_000): Promise<CurrentRecord[]> {
  return (await store.search({ types: [type], filter, sort: [], offset: 0, limit, count: false })).records;
}

const entry = (p: string, field: 'r' | 'c', values: string[]) => ({ idx: { $elemMatch: { p, [field]: values.length === 1 ? values[0] : { $in: values } } } });

/** Whether a PractitionerRole is in force at `now`: not inactive, its period (if any) around now. */
function roleInForce(role: CurrentRecord, now: Date): boolean {
  const r = role.resource;
  if (!r || role.deleted || r.active === false) return false;
  const period = r.period as { start?: string; end?: string } | undefined;
  const at = now.getTime();
  return !(period?.start && Date.parse(period.start) > at) && !(period?.end && Date.parse(period.end) < at);
}

/**
 * The references a professional acts as: the token's Practitioner or PractitionerRole, its
 * practitioner, and that practitioner's roles; and the organizations of the roles in force (a
 * pharmacist reads the messages sent to their pharmacy).
 */
async function professionalSelf(store: Store, fhirUser: { type: string; reference: string; id: string }, now: Date): Promise<{ self: string[]; organizations: string[] }> {
  const self = new Set([fhirUser.reference]);
  const organizations = new Set<string>();
  const addOrganization = (role: CurrentRecord) => {
    const org = ref(role.resource?.organization);
    if (org && /^Organization\/[^/]+$/.test(org) && roleInForce(role, now)) organizations.add(org);
  };
  let practitioner: string | undefined = fhirUser.type === 'Practitioner' ? fhirUser.reference : undefined;
  if (fhirUser.type === 'PractitionerRole') {
    const role = await store.read('PractitionerRole', fhirUser.id);
    const p = role && !role.deleted ? ref(role.resource?.practitioner) : undefined;
    if (p && /^Practitioner\/[^/]+$/.test(p)) practitioner = p;
    if (role) addOrganization(role);
  }
  if (practitioner) {
    self.add(practitioner);
    for (const role of await find(store, 'PractitionerRole', entry('practitioner', 'r', [practitioner]), 1000)) {
      self.add(`PractitionerRole/${role.id}`);
      addOrganization(role);
    }
  }
  return { self: [...self], organizations: [...organizations] };
}

const DOCUMENT_REFERENCE = /^(?:.*\/)?(DocumentReference\/[A-Za-z0-9\-.]{1,64})$/;

/**
 * The documents patients shared by message with these parties: those a Communication addressed
 * to them attaches, when the patient whose record holds the message wrote it (the patient decides
 * who reads their documents; a professional cannot forward them to someone the patient did not
 * authorize). Among the named patients when the request names them.
 */
async function sharedWith(store: Store, parties: string[], names: string[] | undefined): Promise<Array<[string, string]>> {
  if (names?.length === 0) return [];
  const filter: Record<string, unknown>[] = [entry('recipient', 'r', parties)];
  if (names) filter.push({ comp: { $in: names } });
  const out = new Map<string, [string, string]>();
  for (const message of await find(store, 'Communication', { $and: filter }, 1000)) {
    const patient = message.comp.find((c) => message.by?.includes(c));
    const payload = message.resource?.payload;
    if (!patient || !Array.isArray(payload)) continue;
    for (const part of payload) {
      const m = DOCUMENT_REFERENCE.exec(ref((part as { contentReference?: unknown })?.contentReference) ?? '');
      if (m) out.set(`${patient} ${m[1]}`, [patient, m[1]]);
    }
  }
  return [...out.values()];
}

/**
 * Every patient whose active Consent blocks one of these references (a deny provision naming them,
 * without data or purpose), whichever patients a request names. Blocks are few beside permits, and
 * the `provision-denied-actor` index reads only the Consents that deny someone they name.
 */
export async function blockers(store: Store, self: string[], now: Date, page = 10_000): Promise<string[]> {
  const mine = new Set(self);
  const out = new Set<string>();
  // Every one of them, page after page by id: a block missed would show its patient's shared resources.
  for (let after = '';;) {
    const filter = { $and: [entry('provision-denied-actor', 'r', self), { id: { $gt: after } }] };
    const { records } = await store.search({ types: ['Consent'], filter, sort: [['id', 1]], offset: 0, limit: page, count: false });
    for (const rec of records) {
      const consent = rec.resource && readConsent(rec.resource, now.getTime());
      if (consent?.patient && consent.provisions.some((p) => meaningOf(p) === 'block' && p.actors.some((a) => mine.has(a)))) out.add(consent.patient);
    }
    if (records.length < page) return [...out];
    after = records[records.length - 1].id;
  }
}

/**
 * What holds for a professional whichever patients a request names: who they act as (facts.ts
 * `professionalSelf`) and who blocks them (`blockers`). Read from the PractitionerRoles and the
 * Consents alone, so the store's type marks of those two say when they may have changed.
 */
export interface ProfessionalFacts {
  self: string[];
  organizations: string[];
  blockers: string[];
}

export async function professionalFacts(store: Store, fhirUser: { type: string; reference: string; id: string }, now: Date): Promise<ProfessionalFacts> {
  const { self, organizations } = await professionalSelf(store, fhirUser, now);
  return { self, organizations, blockers: await blockers(store, self, now) };
}

/** Up to this many named patients, their médecin traitant is checked on each Patient read by id. */
const GP_READS = 16;

/**
 * The named patients whose médecin traitant the professional is: each Patient read by id, its
 * indexed `general-practitioner` references (what the search parameter matches) checked; a read by
 * id costs less than a search when a request names a few patients.
 */

async function gpOf(store: Store, names: string[], mine: Set<string>): Promise<string[]> {
  const out: string[] = [];
  for (const name of new Set(names)) {
    if (!name.startsWith('Patient/')) continue;
    const rec = await store.read('Patient', name.slice('Patient/'.length));
    if (rec && !rec.deleted && rec.idx.some((e) => e.p === 'general-practitioner' && typeof e.r === 'string' && mine.has(e.r))) out.push(name);
  }
  return out;
}

/** Up to this many named patients, their facts are read from the store's lookup table (lookup.ts). */
const LOOKUP_NAMED = 16;

/**
 * The facts of the named patients (or, `names` undefined, of every patient linked to the
 * professional) by searches on the store's indexes: Consents naming them (among the named patients:
 * a professional may be named by many thousands of records), their médecin traitant, the messages
 * shared with them. Status is left to readConsent: as a query term it would make the engine read
 * every active Consent of the patient instead of the few naming this professional.
 */
async function searched(store: Store, names: string[] | undefined, self: string[], parties: string[] | undefined, now: number): Promise<NamedFacts> {
  const mine = new Set(self);
  const naming: Record<string, unknown>[] = [entry('provision-actor', 'r', self)];
  if (names) naming.push({ comp: { $in: names } });
  const consents = names?.length === 0 ? [] : await find(store, 'Consent', { $and: naming });
  // A few named patients are read by id; many (a Group's members exported), or none named, by the index.
  const gpFilter: Record<string, unknown>[] = [entry('general-practitioner', 'r', self)];
  if (names) gpFilter.push({ id: { $in: names.map((n) => n.slice('Patient/'.length)) } });
  const gp =
    names && names.length <= GP_READS
      ? await gpOf(store, names, mine)
      : (await find(store, 'Patient', { $and: gpFilter })).map((r) => `Patient/${r.id}`);
  const read = (records: CurrentRecord[]) => records.flatMap((r) => (r.resource ? (readConsent(r.resource, now) ?? []) : []));
  return {
    naming: read(consents),
    gp,
    denies: async (reached) => read(await find(store, 'Consent', { $and: [{ comp: { $in: [...reached] } }, entry('provision-type', 'c', ['deny'])] })),
    shared: parties ? await sharedWith(store, parties, names) : [],
    seen: [],
  };
}

function minuteOf(now: Date): number {
  return Math.floor(now.getTime() / 60_000) * 60_000;
}

const empty = (actor: Actor, now: Date): AccessFacts => ({ actor, gp: [], permitted: [], blocked: [], emergency: [], masked: [], shared: [], now: minuteOf(now) });

/**
 * Gathers the facts of one request. `named` gives the patients the request is about when it names
 * them (a compartment, a patient parameter, the resource it reads): a professional's facts are then
 * read for those patients alone; without it, for every patient they are linked to. `documents`
 * false (the request reads no DocumentReference) leaves out the documents shared by message.
 * `professional`, when the caller kept them (facts-cache.ts), are the professional's roles and blocks.
 */
export async function gatherFacts(
  store: Store,
  principal: Principal,
  now: Date,
  named: () => Promise<string[] | undefined>,
  opts: { documents?: boolean; professional?: ProfessionalFacts } = {},
): Promise<AccessFacts> {
  const user = principal.fhirUser;
  if (!user) return empty({ kind: 'system' }, now);
  if (user.type === 'Patient') return empty({ kind: 'patient', patient: user.reference, self: [user.reference] }, now);
  if (user.type === 'RelatedPerson') {
    const patient = isRepresentativeOf(await store.read('RelatedPerson', user.id));
    const record = patient ? await store.read('Patient', patient.slice('Patient/'.length)) : undefined;
    if (patient && record && !record.deleted && isMinor(record.resource?.birthDate, now)) {
      return empty({ kind: 'representative', patient, self: [user.reference] }, now);
    }
    return empty({ kind: 'nobody', self: [user.reference] }, now);
  }
  if (!PROFESSIONAL_TYPES.has(user.type)) return empty({ kind: 'nobody', self: [user.reference] }, now);

  const emergencyAsked = principal.purposeOfUse?.includes('BTG') ?? false;
  const known = opts.professional ?? (await professionalFacts(store, user, now));
  const { self, organizations } = known;
  const mine = new Set(self);
  const facts = empty({ kind: 'professional', self, emergency: emergencyAsked, organizations }, now);
  const requested = await named();
  // Emergency access is to one record: the token's launch patient, else the patients the request names.
  const emergencyFor = !emergencyAsked ? [] : principal.patient ? [`Patient/${principal.patient}`] : (requested ?? []);
  // The facts of the emergency's patient are read too (a block of theirs must hold).
  const names = requested && [...new Set([...requested, ...emergencyFor])];
  const parties = opts.documents === false ? undefined : [...self, ...organizations];
  // A few named patients: their facts read by key (lookup.ts) where the store keeps the table;
  // else, and across patients, searched.
  const source =
    store.lookup && names && names.length <= LOOKUP_NAMED
      ? await lookedUp(store.lookup.bind(store), names, self, parties, now.getTime())
      : await searched(store, names, self, parties, now.getTime());
  const permitted = new Set<string>();
  const blocked = new Set<string>();
  const masked = new Map<string, [string, string]>();
  const mask = (patient: string, ref: string) => masked.set(`${patient} ${ref}`, [patient, ref]);
  const opposed = new Set<string>();

  // Consents naming this professional: who permits and who blocks them.
  for (const consent of source.naming) {
    if (!consent.patient) continue;
    for (const p of consent.provisions) {
      if (!p.actors.some((a) => mine.has(a))) continue;
      const meaning = meaningOf(p);
      if (meaning === 'authorization') permitted.add(consent.patient);
      else if (meaning === 'mask') for (const d of p.data) mask(consent.patient, d);
      else if (meaning === 'opposition') opposed.add(consent.patient);
      else if (meaning === 'block') blocked.add(consent.patient);
    }
  }
  // Every patient who blocks this professional, whichever patients the request names: a resource in
  // several records (an Appointment of A and B) is hidden by B's block even from a request about A;
  // and across patients the Consents read above stop at 10,000, where a block must not be missed.
  for (const p of known.blockers) blocked.add(p);
  const gp = source.gp;

  // The masks (and emergency oppositions) of the patients reached without being médecin traitant.
  const gpSet = new Set(gp);
  const inScope = (p: string) => !names || names.includes(p);
  const reached = new Set([...permitted].filter((p) => !gpSet.has(p) && inScope(p)));
  for (const p of emergencyFor) if (!gpSet.has(p)) reached.add(p);
  if (reached.size > 0) {
    for (const consent of await source.denies(reached)) {
      if (!consent.patient) continue;
      for (const p of consent.provisions) {
        if (p.type !== 'deny' || (p.actors.length > 0 && !p.actors.some((a) => mine.has(a)))) continue;
        for (const d of p.data) mask(consent.patient, d);
        if (p.purposes.includes('BTG')) opposed.add(consent.patient);
      }
    }
  }
  facts.blocked = [...blocked];
  facts.gp = gp.filter((p) => !blocked.has(p));
  facts.permitted = [...permitted].filter((p) => !blocked.has(p) && !gpSet.has(p) && inScope(p));
  facts.masked = [...masked.values()];
  if (parties) facts.shared = source.shared;
  facts.seen = source.seen;
  facts.emergency = emergencyFor.filter((p) => !blocked.has(p) && !opposed.has(p) && !gpSet.has(p));
  return facts;
}
