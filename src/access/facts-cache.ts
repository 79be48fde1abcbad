import type { Principal } from '../auth/principal.js';
import type { Store } from '../store/store.js';
import { gatherFacts, professionalFacts, type AccessFacts, type ProfessionalFacts } from './facts.js';

type Reference = { type: string; reference: string; id: string };

/**
 * The types whose writes move the change marks (Store.readMarks) the professional's kept facts rest
 * on: their roles (PractitionerRole) and the patients who block them (Consent). In the commit
 * itself on the embedded engine.
 */
export const ACCESS_TYPES = ['Consent', 'PractitionerRole'] as const;

export interface FactsCacheOptions {
  /** Most professionals kept (least recently used go first). */
  maxEntries?: number;
}

const PROFESSIONAL_TYPES = new Set(['Practitioner', 'PractitionerRole']);

/** The marks a professional's roles and blocks rest on (facts.ts `professionalFacts`). */
const PROFESSIONAL_MARKS = ACCESS_TYPES.map((type) => `type:${type}`);

/** Least recently used first out, past `max` entries. */
function remember<T>(map: Map<string, T>, key: string, value: T, max: number) {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}

/**
 * Gathers a request's access facts. What holds for a professional whatever the request names (the
 * roles they act in, the patients who block them) is read from every PractitionerRole and Consent
 * naming them, and kept per professional while the store's change marks of those two types (read
 * before the facts, at every request) stay equal: the marks live in the store, so a Consent written
 * through another process or server is seen by the next request here. Kept a minute at most: the
 * facts are taken to the minute, and on MongoDB a crash between a commit and its marks leaves the
 * marks unmoved. The rest, the facts of the patients a request names, is read at every request
 * (facts.ts: by key from the store's lookup table when it names a few).
 */
export function createFactsCache(store: Store, opts: FactsCacheOptions = {}) {
  const maxEntries = opts.maxEntries ?? 10_000;
  const professionals = new Map<string, { minute: number; marks: unknown[]; facts: ProfessionalFacts }>();
  const stats = { professionalHits: 0 };
  const same = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((m, i) => m === b[i]);

  const professional = async (user: Reference, now: Date): Promise<ProfessionalFacts> => {
    const minute = Math.floor(now.getTime() / 60_000);
    const marks = await store.readMarks(PROFESSIONAL_MARKS);
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
      return gatherFacts(store, principal, now, named, { ...options, professional: await professional(user, now) });
    },
  };
}
