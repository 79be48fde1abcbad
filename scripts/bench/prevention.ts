// npm run bench:prevention: one run of the prevention calendar over N patients (BENCH_PATIENTS,
// default 100,000) on the embedded engine, as the nightly job runs it (batches of
// CARNET_PREVENTION_BATCH, default 500, one commit each). A fifth of the patients carry a
// vaccination. Reminders are validated and audited, and notified, as the server's job does. Prints patients/s and reminders/s for the first run (which creates the reminders) and
// for a second one (which finds them there), with the machine and the data size.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJournal } from '../../src/audit/journal.js';
import { buildRecord } from '../../src/interactions/records.js';
import { runPrevention, type RunState } from '../../src/prevention/job.js';
import { loadRules } from '../../src/prevention/rules.js';
import { createSearchRegistry } from '../../src/search/registry.js';
import { createLmdbStore } from '../../src/store/lmdb/lmdb-store.js';
import type { Write } from '../../src/store/store.js';
import { createValidator } from '../../src/validation/validator.js';
import { machine, run } from './lib.js';

const N = Number(process.env.BENCH_PATIENTS ?? 100_000);
const BATCH = Number(process.env.CARNET_PREVENTION_BATCH ?? 500);
const NOW = new Date('2026-06-10T00:30:00Z');
const BASE = 'http://127.0.0.1/fhir';

function birthDate(i: number): string {
  // Ages 0 to 89, spread over the days of the year.
  const year = 2026 - (i % 90);
  const day = 1 + ((i * 7) % 365);
  return new Date(Date.UTC(year, 0, day)).toISOString().slice(0, 10);
}

run(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'carnet-bench-prevention-'));
  const store = await createLmdbStore({ path: join(dir, 'store') });
  try {
    const registry = createSearchRegistry();
    const ctx = { now: () => NOW, registry, baseUrl: BASE };
    const t0 = performance.now();
    for (let start = 0; start < N; start += 1000) {
      const writes: Write[] = [];
      for (let i = start; i < Math.min(N, start + 1000); i++) {
        const id = `p${String(i).padStart(7, '0')}`;
        writes.push({ record: buildRecord({ resourceType: 'Patient', birthDate: birthDate(i), gender: i % 2 ? 'female' : 'male' }, 'Patient', id, undefined, ctx), expect: { kind: 'absent' } });
        if (i % 5 === 0) {
          const imm = { resourceType: 'Immunization', status: 'completed', patient: { reference: `Patient/${id}` }, occurrenceDateTime: '2026-01-15', vaccineCode: { coding: [{ system: 'http://www.whocc.no/atc', code: 'J07BB02' }] } };
          writes.push({ record: buildRecord(imm, 'Immunization', `i${id}`, undefined, ctx), expect: { kind: 'absent' } });
        }
      }
      await store.commit(writes);
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`loaded ${N} patients in ${loadSeconds.toFixed(1)} s\n`);
    // As the server runs it: each reminder validated, and the access history recorded.
    const validation = { validator: createValidator(), limits: { binaryBytes: 1 << 30, maxStringLength: 1024 * 1024, maxArrayItems: 10_000, maxElements: 100_000 } };
    const deps = { store, registry, baseUrl: BASE, rules: loadRules(), batchSize: BATCH, cron: '0 2 * * *', validation, journal: createJournal(store) };
    // Progress on stderr every 20 batches, so that a run cut short still says how fast it went.
    let batches = 0;
    const log = {
      info: (obj: object) => {
        const o = obj as { patients?: number; created?: number; secondsLeft?: number };
        if (++batches % 20 === 0) process.stderr.write(`  ${o.patients} patients, ${o.created} reminders created, about ${o.secondsLeft} s left\n`);
      },
      error: () => undefined,
    };
    const once = async (): Promise<[RunState, number]> => {
      const t = performance.now();
      const state = await runPrevention(deps, { now: () => NOW, log, signal: new AbortController().signal });
      return [state, (performance.now() - t) / 1000];
    };
    const [first, s1] = await once();
    const [second, s2] = await once();
    const size = execFileSync('du', ['-sh', dir]).toString().split('\t')[0];
    console.log(`machine: ${machine()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
    console.log(`data: ${N} patients, ${Math.ceil(N / 5)} immunizations, then ${first.created} reminders; ${size} on disk (LMDB); loaded in ${loadSeconds.toFixed(1)} s`);
    console.log(`rules: ${deps.rules.length}; batch ${BATCH} patients per commit; calendar day ${first.date}`);
    console.log(`first run:  ${s1.toFixed(1)} s, ${(first.patients / s1).toFixed(0)} patients/s, ${(first.created / s1).toFixed(0)} reminders created/s (${first.created})`);
    console.log(`second run: ${s2.toFixed(1)} s, ${(second.patients / s2).toFixed(0)} patients/s, ${second.created} created, ${second.completed} completed (nothing to do: idempotent)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
