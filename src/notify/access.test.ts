import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccessFacts } from '../access/facts.js';
import { ACCESS_DERIVATION, lookedUp } from '../access/lookup.js';
import { createJournal } from '../audit/journal.js';
import { registry } from '../search/test-helpers.js';
import { createLmdbStore, type LmdbStore } from '../store/lmdb/lmdb-store.js';
import { createAccessNotifier } from './access.js';
import { firstAccessId } from './once-id.js';

const facts = (seen?: string[]): AccessFacts => ({
  actor: { kind: 'professional', self: ['Practitioner/a'], emergency: false },
  gp: [],
  permitted: ['Patient/x', 'Patient/y'],
  blocked: [],
  emergency: [],
  masked: [],
  now: Date.parse('2026-12-07T10:00:00Z'),
  ...(seen ? { seen } : {}),
});

describe("a professional's first access, told from the request's facts (src/notify/access.ts)", () => {
  let store: LmdbStore | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is written once; the lookup table then says it is stored, and a notice the facts say is stored is not read again by id', async () => {
    dir = await mkdtemp(join(tmpdir(), 'carnet-first-access-'));
    const s = (store = await createLmdbStore({ path: dir, derivation: ACCESS_DERIVATION }));
    let reads = 0;
    const counted = { ...s, exists: (type: string, id: string) => (reads++, s.exists(type, id)) };
    const notifier = createAccessNotifier({ store: counted, now: () => new Date('2026-12-07T10:00:00Z'), registry: registry(), baseUrl: 'http://carnet.test/fhir' });
    const journal = createJournal(counted);
    const access = (patient: string, seen?: string[]) => notifier.appendWith(journal, [], { facts: facts(seen), status: 200, patients: async () => [patient] });

    // Not known from the facts: read by id, then written.
    await access('Patient/x');
    expect(reads).toBe(1);
    expect(await s.exists('Communication', firstAccessId('Patient/x', 'Practitioner/a'))).toBe(true);
    // The store's lookup table now holds it beside the Consents naming the professional; another professional's is not there.
    expect((await lookedUp(s.lookup!.bind(s), ['Patient/x', 'Patient/y'], ['Practitioner/a'], undefined, Date.now())).seen).toEqual(['Patient/x|Practitioner/a']);
    expect((await lookedUp(s.lookup!.bind(s), ['Patient/x'], ['Practitioner/b'], undefined, Date.now())).seen).toEqual([]);

    // Known from the facts: neither read nor written (Patient/y has no notice, the facts say otherwise).
    reads = 0;
    await access('Patient/y', ['Patient/y|Practitioner/a']);
    expect(reads).toBe(0);
    expect(await s.exists('Communication', firstAccessId('Patient/y', 'Practitioner/a'))).toBe(false);
    // The facts of another professional's notice do not count for this one.
    await access('Patient/y', ['Patient/y|Practitioner/b']);
    expect(reads).toBe(1);
    expect(await s.exists('Communication', firstAccessId('Patient/y', 'Practitioner/a'))).toBe(true);
  });
});
