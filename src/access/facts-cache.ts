import type { Principal } from '../auth/principal.js';
import type { Store } from '../store/store.js';
import { gatherFacts, professionalFacts, type AccessFacts, type ProfessionalFacts } from './facts.js';

type Reference = { type: string; reference: string; id: string };

/**
 * The types whose records a professional's access facts are read from (Communication: the documents
 * a patient shares by message): the store moves a change mark for each write of them
 * (Store.readMarks), in the commit itself on the embedded engine.
 */
export const ACCESS_TYPES = ['Consent', 'Patient', 'PractitionerRole', 'RelatedPerson', 'Communication'] as const;

export interface FactsCacheOptions {
  /** Most entries kept (least recently used go first). */
  maxEntries?: number;
  /** Requests naming more patients than this are not cached (their marks would cost more to read). */
  maxNamed?: number;
}

interface Entry {
  minute: number;
  marks: unknown[];
  facts: AccessFacts;
}

const PROFESSIONAL_TYPES = new Set(['Practitioner', 'PractitionerRole']);

/** The marks a professional's roles and blocks rest on (facts.ts `professionalFacts`). */
const PROFESSIONAL_MARKS = ['type:PractitionerRole', 'type:Consent'];

/** Least recently used first out, past `max` entries. */
function remember<T>(map: Map<string, T>, key: string, value: T, max: number) {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

/**
 * Gathers a request's access facts, reusing what earlier requests of the same professional read
 * when nothing it rests on has changed since, as the store's change marks (Store.readMarks) say:
 * - the professional's roles and the patients who block them, whatever the request names, rest on
 *   the PractitionerRoles and the Consents: the marks of those two types;
 * - the rest of a named request's facts come from the named patients' compartments (their
 *   Consents, their Patient record, the messages they sent) and the professional's roles: the marks
 *   of those compartments and of PractitionerRole.
 * Marks are read before the facts and must be equal now. They live in the store, so a Consent
 * revoked through another process or server is seen by the next request here. Entries last one
 * minute at most: the facts are taken to the minute, and on MongoDB a crash between a commit and
 * its marks leaves the marks unmoved.
 */
export function createFactsCache(store: Store, opts: FactsCacheOptions = {}) {
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxNamed = opts.maxNamed ?? 16;
  const entries = new Map<string, Entry>();
  const professionals = new Map<string, { minute: number; marks: unknown[]; facts: ProfessionalFacts }>();
  const stats = { hits: 0, misses: 0, professionalHits: 0 };
  const same = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((m, i) => m === b[i]);

  /** The professional's roles and blocks, kept under `marks` (those of PROFESSIONAL_MARKS, read now). */
  const professional = async (user: Reference, now: Date, minute: number, marks: unknown[]): Promise<ProfessionalFacts> => {
    const kept = professionals.get(user.reference);
    if (kept && kept.minute === minute && same(kept.marks, marks)) {
      stats.professionalHits++;
      return kept.facts;
    }
    const facts = await professionalFacts(store, user, now);
    remember(professionals, user.reference, { minute, marks, facts }, maxEntries);
    return facts;
  };

  return {
    stats,
    async gather(principal: Principal, now: Date, named: () => Promise<string[] | undefined>, options: { documents?: boolean } = {}): Promise<AccessFacts> {
      const user = principal.fhirUser;
      if (!user || !PROFESSIONAL_TYPES.has(user.type)) return gatherFacts(store, principal, now, named, options);
      const names = await named();
      const once = async () => names;
      const minute = Math.floor(now.getTime() / 60_000);
      if (names === undefined || names.length > maxNamed) {
        const pro = await professional(user, now, minute, await store.readMarks(PROFESSIONAL_MARKS));
        return gatherFacts(store, principal, now, once, { ...options, professional: pro });
      }
      const emergency = principal.purposeOfUse?.includes('BTG') ?? false;
      const launch = emergency && principal.patient ? `Patient/${principal.patient}` : undefined;
      const patients = [...new Set([...names, ...(launch ? [launch] : [])])].sort();
      const key = `${user.reference}|${emergency ? 'BTG' : ''}|${launch ?? ''}|${options.documents === false ? '' : 'docs'}|${[...new Set(names)].sort().join(',')}`;
      // Read before the facts: a write landing in between moves a mark this entry then lacks.
      const all = await store.readMarks([...PROFESSIONAL_MARKS, ...patients.map((p) => `comp:${p}`)]);
      const pro = await professional(user, now, minute, all.slice(0, PROFESSIONAL_MARKS.length));
      // The named facts rest on the roles and the named compartments (not on other patients' Consents).
      const marks = [all[0], ...all.slice(PROFESSIONAL_MARKS.length)];
      const entry = entries.get(key);
      if (entry && entry.minute === minute && same(entry.marks, marks)) {
        stats.hits++;
        remember(entries, key, entry, maxEntries);
        // The blocks of patients the request does not name are outside the compartments watched.
        const named = new Set(patients);
        const blocked = [...new Set([...entry.facts.blocked.filter((p) => named.has(p)), ...pro.blockers])];
        return { ...entry.facts, blocked };
      }
      stats.misses++;
      const facts = await gatherFacts(store, principal, now, once, { ...options, professional: pro });
      remember(entries, key, { minute, marks, facts }, maxEntries);
      return facts;
    },
  };
}
