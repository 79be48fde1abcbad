import type { Principal } from '../auth/principal.js';
import type { Store } from '../store/store.js';
import { blockers, gatherFacts, type AccessFacts } from './facts.js';

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

/**
 * Gathers a request's access facts, or reuses those of an earlier request of the same professional
 * about the same patients when nothing they rest on has changed since: the facts of a named request
 * come from the named patients' compartments (their Consents, their Patient record, the messages they
 * sent) and from the PractitionerRoles, so the marks of those compartments and of that type, read before the facts and
 * equal now, say the facts still hold. Only the blocks of other patients (facts.ts `blockers`) lie
 * outside them, and are read again at every request. Marks live in the store, so a Consent revoked through
 * another process or server is seen by the next request here. Entries last one minute at most: the
 * facts are taken to the minute, and on MongoDB a crash between a commit and its marks leaves the
 * marks unmoved.
 */
export function createFactsCache(store: Store, opts: FactsCacheOptions = {}) {
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxNamed = opts.maxNamed ?? 16;
  const entries = new Map<string, Entry>();
  const stats = { hits: 0, misses: 0 };

  return {
    stats,
    async gather(principal: Principal, now: Date, named: () => Promise<string[] | undefined>, options: { documents?: boolean } = {}): Promise<AccessFacts> {
      const user = principal.fhirUser;
      if (!user || !PROFESSIONAL_TYPES.has(user.type)) return gatherFacts(store, principal, now, named, options);
      const names = await named();
      const once = async () => names;
      if (names === undefined || names.length > maxNamed) return gatherFacts(store, principal, now, once, options);
      const emergency = principal.purposeOfUse?.includes('BTG') ?? false;
      const launch = emergency && principal.patient ? `Patient/${principal.patient}` : undefined;
      const patients = [...new Set([...names, ...(launch ? [launch] : [])])].sort();
      const key = `${user.reference}|${emergency ? 'BTG' : ''}|${launch ?? ''}|${options.documents === false ? '' : 'docs'}|${[...new Set(names)].sort().join(',')}`;
      // Read before the facts: a write landing in between moves a mark this entry then lacks.
      const marks = await store.readMarks(['type:PractitionerRole', ...patients.map((p) => `comp:${p}`)]);
      const minute = Math.floor(now.getTime() / 60_000);
      const entry = entries.get(key);
      if (entry && entry.minute === minute && entry.marks.every((m, i) => m === marks[i])) {
        stats.hits++;
        entries.delete(key);
        entries.set(key, entry);
        // The blocks of patients the request does not name are outside the marks read: read again.
        const named = new Set(patients);
        const self = entry.facts.actor.kind === 'professional' ? entry.facts.actor.self : [];
        const blocked = [...new Set([...entry.facts.blocked.filter((p) => named.has(p)), ...(await blockers(store, self, now))])];
        return { ...entry.facts, blocked };
      }
      stats.misses++;
      const facts = await gatherFacts(store, principal, now, once, options);
      entries.delete(key);
      entries.set(key, { minute, marks, facts });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
      return facts;
    },
  };
}
