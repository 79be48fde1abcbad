// What the patient's record adds to each request, in process on the embedded engine (no HTTP):
// gathering a pharmacist's access facts when their pharmacy has received BENCH_MESSAGES messages
// from BENCH_PATIENTS patients, each attaching a prescription (the shared documents are read from
// them), across patients and for one named patient; and a patient-scoped `written-by` search beside
// the same search without it. Prints the machine, the data size and the mean time of each.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatherFacts } from '../../src/access/facts.js';
import type { Principal } from '../../src/auth/principal.js';
import { buildRecord } from '../../src/interactions/records.js';
import { createSearchRegistry } from '../../src/search/registry.js';
import { createLmdbStore } from '../../src/store/lmdb/lmdb-store.js';
import type { Store, Write } from '../../src/store/store.js';
import { machine } from './lib.js';

const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 2_000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const BASE = 'http://127.0.0.1/fhir';

async function seed(store: Store): Promise<void> {
  const registry = createSearchRegistry();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  let writes: Write[] = [];
  const add = async (resource: Record<string, unknown>, type: string, id: string, writer: string) => {
    const principal = (writer.startsWith('Patient/') ? { fhirUser: { type: 'Patient', id: writer.slice(8), reference: writer } } : { subject: 'seed' }) as Principal;
    writes.push({ record: buildRecord(resource as never, type, id, undefined, { now: () => new Date(clock++), registry, baseUrl: BASE, principal }), expect: { kind: 'absent' } });
    if (writes.length >= 2000) {
      await store.commit(writes);
      writes = [];
    }
  };
  await add({ resourceType: 'Practitioner', name: [{ family: 'Officine' }] }, 'Practitioner', 'ph', 'system');
  await add({ resourceType: 'Organization', name: 'Pharmacie' }, 'Organization', 'o1', 'system');
  await add({ resourceType: 'PractitionerRole', active: true, practitioner: { reference: 'Practitioner/ph' }, organization: { reference: 'Organization/o1' } }, 'PractitionerRole', 'r1', 'system');
  for (let p = 0; p < PATIENTS; p++) {
    await add({ resourceType: 'Patient', name: [{ family: `Famille${p}` }], birthDate: '1970-01-01' }, 'Patient', `p${p}`, 'system');
    for (let c = 0; c < 5; c++) {
      await add({ resourceType: 'Condition', subject: { reference: `Patient/p${p}` }, code: { text: `antécédent ${c}` } }, 'Condition', `c${p}-${c}`, c % 2 ? 'system' : `Patient/p${p}`);
    }
  }
  for (let m = 0; m < MESSAGES; m++) {
    const patient = `Patient/p${m % PATIENTS}`;
    await add({ resourceType: 'DocumentReference', status: 'current', subject: { reference: patient }, content: [{ attachment: { contentType: 'text/plain', url: 'Binary/x' } }] }, 'DocumentReference', `rx${m}`, 'system');
    await add(
      {
        resourceType: 'Communication',
        status: 'completed',
        subject: { reference: patient },
        sender: { reference: patient },
        recipient: [{ reference: 'Organization/o1' }],
        payload: [{ contentString: 'Mon ordonnance' }, { contentReference: { reference: `DocumentReference/rx${m}` } }],
      },
      'Communication',
      `m${m}`,
      patient,
    );
  }
  await store.commit(writes);
}

async function mean(label: string, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 10; i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) await fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / ROUNDS;
  console.log(`${label.padEnd(72)} ${ms.toFixed(3)} ms`);
}

const dir = mkdtempSync(join(tmpdir(), 'carnet-bench-record-'));
try {
  const store = await createLmdbStore({ path: join(dir, 'store') });
  await seed(store);
  console.log(`machine: ${machine()}`);
  console.log(`data: ${PATIENTS} patients x 5 Conditions, ${MESSAGES} messages to one pharmacy, each with a DocumentReference; ${ROUNDS} rounds each`);
  const pharmacist = { fhirUser: { type: 'Practitioner', id: 'ph', reference: 'Practitioner/ph' }, scopes: [], subject: 'Practitioner/ph' } as unknown as Principal;
  const now = new Date();
  const facts = await gatherFacts(store, pharmacist, now, async () => undefined);
  console.log(`shared documents found across patients: ${facts.shared?.length} (at most 1,000 messages read)`);
  await mean('pharmacist facts, request naming no patient (reads up to 1,000 messages)', () => gatherFacts(store, pharmacist, now, async () => undefined));
  await mean('pharmacist facts, request naming one patient', () => gatherFacts(store, pharmacist, now, async () => ['Patient/p7']));
  const search = (filter: Record<string, unknown>) => store.search({ types: ['Condition'], filter, sort: [], offset: 0, limit: 20, count: true });
  await mean('Condition?patient=p7 (store)', () => search({ comp: 'Patient/p7' }));
  await mean('Condition?patient=p7&written-by=Patient/p7 (store)', () => search({ $and: [{ comp: 'Patient/p7' }, { by: 'Patient/p7' }] }));
  await mean('Condition?written-by=Patient/p7 across patients (store, writers index)', () => search({ by: 'Patient/p7' }));
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
