import { fhirError } from '../../errors.js';
import { SERVED_TYPES, isServedType } from '../../fhir/resource-types.js';
import { authorize } from '../../access/permissions.js';
import { canSee } from '../../interactions/records.js';
import type { Context } from '../../interactions/types.js';
import { andFilters, compileSearch, type Filter } from '../../search/compile.js';
import { parseSearch } from '../../search/parse.js';
import type { CurrentRecord } from '../../store/store.js';
import { referencesOf } from './references.js';

/**
 * The care date of each type for `start`/`end` (a search parameter of the type): when the care
 * happened, not when the record was written. Types absent here (Patient, RelatedPerson, Binary,
 * directory data...) have no care date and are never left out by `start`/`end`; nor is a record
 * whose care date is missing, since nothing says it falls outside the range.
 */
export const CARE_DATE: Record<string, string> = {
  AllergyIntolerance: 'date', // recordedDate
  Appointment: 'date', // start
  AuditEvent: 'date', // recorded
  Communication: 'sent',
  CommunicationRequest: 'authored', // authoredOn
  Condition: 'onset-date', // onset[x]
  Consent: 'date', // dateTime
  DocumentReference: 'period', // context.period, the time of service documented
  FamilyMemberHistory: 'date',
  Immunization: 'date', // occurrence[x]
  List: 'date',
  Observation: 'date', // effective[x]
};

/**
 * What an $everything answers, as three streams of records, each ordered by type then id:
 *   0. the Patient itself (type level: every Patient);
 *   1. the patient's compartment (type level: every record in some compartment);
 *   2. what the records of streams 0 and 1 refer to (Practitioner, Organization, Binary...)
 *      and that those streams did not give.
 * A page is a run of this sequence after a position (stream, type, id): the keyset of the cursor.
 * Each stream is read with ordinary store queries, the caller's access clauses inside, records
 * above the position, one more than the page: no filter after the query. Stream 0 takes two
 * queries (the patient's id, and the patients whose `link` names them), stream 1 one query over
 * every compartment type, stream 2 one per type it holds.
 *
 * Stream 2's members are the referenced ids (a candidate set the query narrows with `id: {$in}`,
 * leaving out what streams 0 and 1 give), so it needs the references of the whole of streams 0
 * and 1. They are read again on each page that reaches stream 2 (never before), from the records
 * the caller may see within the care-date range: a referenced record appears on one page, once,
 * whatever was written in between.
 */
export interface Selection {
  at: string;
  /** The records of one stream after `after`, at most `limit`, in type then id order. */
  read(stream: number, after: Position | undefined, limit: number): Promise<CurrentRecord[]>;
}

export interface Position {
  type: string;
  id: string;
}

export interface SelectionParams {
  /** 'Patient/<id>', or undefined for the type level (every patient). */
  patient?: string;
  at: string;
  /** FHIR instant, normalised as stored `lastUpdated` (UTC, milliseconds). */
  since?: string;
  start?: string;
  end?: string;
  /** Requested types (_type), or undefined for all. */
  only?: Set<string>;
}

/** Records read per query while gathering references. */
const CHUNK = 500;

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Whether the caller's scopes let them search a type (Patient: the operation's own grant, checked by the executor). */
export function maySearch(ctx: Context, type: string): boolean {
  if (type === 'Patient') return true;
  try {
    authorize(ctx.principal, type, 'search-type');
    return true;
  } catch {
    return false;
  }
}

export function createSelection(ctx: Context, p: SelectionParams): Selection {
  const granted = (type: string) => maySearch(ctx, type);
  const inCompartment = (type: string) => type !== 'Patient' && ctx.registry.compartmentParams(type).length > 0;
  const wanted = (type: string) => (p.only ? p.only.has(type) : true) && granted(type);

  /** The filters whose union is a type's share of streams 0 and 1, before access. */
  const members = (type: string): Filter[] => {
    if (p.patient) {
      const id = p.patient.slice('Patient/'.length);
      return type === 'Patient' ? [{ id }, { comp: p.patient }] : inCompartment(type) ? [{ comp: p.patient }] : [];
    }
    return type === 'Patient' ? [{}] : inCompartment(type) ? [{ comp: { $regex: '^Patient/' } }] : [];
  };

  const careFilters = new Map<string, Filter>();
  const care = (type: string): Filter => {
    const code = CARE_DATE[type];
    if (!code || (p.start === undefined && p.end === undefined)) return {};
    let filter = careFilters.get(type);
    if (!filter) {
      const compile = (query: Record<string, string[]>) =>
        compileSearch(parseSearch(type, query, ctx.registry, { strict: true, baseUrl: ctx.baseUrl }), { now: Date.parse(p.at) }).filter;
      const range = [...(p.start !== undefined ? [`ge${p.start}`] : []), ...(p.end !== undefined ? [`le${p.end}`] : [])];
      filter = { $or: [compile({ [code]: range }), compile({ [`${code}:missing`]: ['true'] })] };
      careFilters.set(type, filter);
    }
    return filter;
  };
  const since = (): Filter => (p.since ? { lastUpdated: { $gte: p.since } } : {});

  /** A type's share of streams 0 and 1 that the caller may see, as branches to union. */
  const memberBranches = (type: string, withSince: boolean): Filter[] =>
    members(type).map((m) => andFilters(m, ...ctx.accessClauses(type), care(type), withSince ? since() : {}));

  const search = async (types: string[], filter: Filter, limit: number): Promise<CurrentRecord[]> =>
    (await ctx.store.search({ types, filter, sort: [], offset: 0, limit, count: false, createdAtMost: p.at, budget: ctx.budget })).records;

  /** The union of branches' records of one type above `after`, in id order, at most `limit`. */
  const union = async (type: string, branches: Filter[], after: string | undefined, limit: number): Promise<CurrentRecord[]> => {
    const position = after !== undefined ? { id: { $gt: after } } : {};
    const byId = new Map<string, CurrentRecord>();
    for (const branch of branches) for (const r of await search([type], andFilters(branch, position), limit)) byId.set(r.id, r);
    return [...byId.values()].sort((a, b) => byCodeUnit(a.id, b.id)).slice(0, limit);
  };

  /** Stream 0: the Patient (or every Patient), above `after`. */
  const readPatients = (withSince: boolean, after: Position | undefined, limit: number) =>
    granted('Patient') ? union('Patient', memberBranches('Patient', withSince), after?.id, limit) : Promise.resolve([]);

  /** Stream 1 over `types` in one query: the compartment, each type under its own access clauses and care dates. */
  const readCompartment = async (types: string[], withSince: boolean, after: Position | undefined, limit: number): Promise<CurrentRecord[]> => {
    const from = after ? types.filter((t) => byCodeUnit(t, after.type) >= 0) : types;
    if (from.length === 0) return [];
    const perType = from.map((type) => andFilters({ type }, ...ctx.accessClauses(type), care(type), withSince ? since() : {}));
    const member = p.patient ? { comp: p.patient } : { comp: { $regex: '^Patient/' } };
    const position = after ? { $or: [{ type: { $gt: after.type } }, { type: after.type, id: { $gt: after.id } }] } : {};
    return search(from, andFilters(member, perType.length === 1 ? perType[0] : { $or: perType }, position), limit);
  };
  const compartmentTypes = (filter: (type: string) => boolean) => SERVED_TYPES.filter((t) => inCompartment(t) && filter(t)).sort(byCodeUnit);

  let referenced: Promise<Map<string, string[]>> | undefined;
  /** What the caller may see of streams 0 and 1 (care dates applied, not _since nor _type) refers to, by type. */
  const gatherReferences = async (): Promise<Map<string, string[]>> => {
    const refs = new Set<string>();
    const note = (records: CurrentRecord[]) => {
      for (const r of records) if (r.resource) for (const ref of referencesOf(r.resource, ctx.baseUrl)) refs.add(ref);
    };
    for (let after: Position | undefined, chunk: CurrentRecord[]; (chunk = await readPatients(false, after, CHUNK)).length > 0; ) {
      note(chunk);
      if (chunk.length < CHUNK) break;
      after = { type: 'Patient', id: chunk[chunk.length - 1].id };
    }
    const types = compartmentTypes(granted);
    for (let after: Position | undefined, chunk: CurrentRecord[]; (chunk = await readCompartment(types, false, after, CHUNK)).length > 0; ) {
      note(chunk);
      if (chunk.length < CHUNK) break;
      const last = chunk[chunk.length - 1];
      after = { type: last.type, id: last.id };
    }
    if (p.patient) refs.delete(p.patient);
    const byType = new Map<string, string[]>();
    for (const ref of refs) {
      const [type, id] = ref.split('/');
      if (wanted(type)) byType.set(type, [...(byType.get(type) ?? []), id]);
    }
    // A Binary is seen through what it belongs to (its securityContext), which its access clauses
    // cannot say: the referenced Binaries are checked one by one here, before any page is cut.
    const binaries = byType.get('Binary');
    if (binaries && ctx.facts.actor.kind !== 'system') {
      const visible: string[] = [];
      for (const id of binaries) {
        const record = await ctx.store.read('Binary', id);
        if (record && !record.deleted && (await canSee(record, ctx))) visible.push(id);
      }
      byType.set('Binary', visible);
    }
    return byType;
  };

  /** Stream 2's branch for a type: referenced, visible, and not a member of streams 0 and 1. */
  const referencedBranch = (type: string, ids: string[]): Filter => {
    // Binaries' access was decided above (gatherReferences) for users; system clients' clauses are the scopes'.
    const access = type === 'Binary' && ctx.facts.actor.kind !== 'system' ? [] : ctx.accessClauses(type);
    const inStreams = members(type).map((m) => andFilters(m, ...ctx.accessClauses(type)));
    return andFilters({ id: { $in: ids } }, ...access, care(type), since(), inStreams.length > 0 ? { $nor: inStreams } : {});
  };

  return {
    at: p.at,
    async read(stream, after, limit) {
      if (stream === 0) return wanted('Patient') ? readPatients(true, after, limit) : [];
      if (stream === 1) return readCompartment(compartmentTypes(wanted), true, after, limit);
      const out: CurrentRecord[] = [];
      const byType = await (referenced ??= gatherReferences());
      for (const type of [...byType.keys()].sort(byCodeUnit)) {
        const ids = byType.get(type)!;
        if (ids.length === 0 || (after && byCodeUnit(type, after.type) < 0)) continue;
        out.push(...(await union(type, [referencedBranch(type, ids)], after?.type === type ? after.id : undefined, limit - out.length)));
        if (out.length >= limit) break;
      }
      return out;
    },
  };
}

/** `_type`: served types, comma-separated. */
export function parseTypes(raw: string | undefined): Set<string> | undefined {
  if (raw === undefined) return undefined;
  const types = raw.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of types) if (!isServedType(t)) throw fhirError('bad-search', `_type: "${t}" is not a resource type this server serves`, '_type');
  return new Set(types);
}
