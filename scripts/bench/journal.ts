// npm run bench:journal: what durable-before-answer costs the access history, in one process on
// the embedded engine, without HTTP: the time to build and index one AuditEvent, one commit of
// one event alone (the sync), and the group-commit journal under 1, 16 and 64 concurrent appenders
// (events/s, commits/s, events per commit, CPU per event), and for comparison a compact event log
// of the same events and the floor of any durable-before-answer trail: the same events as lines of a
// file, hashed and synced in groups, indexed nowhere. Prints the machine and the data size.
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { open } from 'lmdb';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditEvent, patientEntity, requestEntity } from '../../src/audit/event.js';
import type { Resource } from '../../src/fhir/resource-types.js';
import { createJournal } from '../../src/audit/journal.js';
import { buildRecord } from '../../src/interactions/records.js';
import { newId } from '../../src/interactions/write-checks.js';
import { createSearchRegistry } from '../../src/search/registry.js';
import { searchDataOf } from '../../src/search/extract.js';
import { createLmdbStore } from '../../src/store/lmdb/lmdb-store.js';
import { groupSync } from './group-sync.js';
import { machine, run } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PATIENTS = 10_000;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'carnet-bench-journal-'));
  const registry = createSearchRegistry();
  // As the server opens it (src/app.ts): an event's search data is derived when it is read, not kept.
  const store = await createLmdbStore({ path: dir, searchData: searchDataOf(registry, { baseUrl: 'http://127.0.0.1/fhir' }) });
  const ctx = { now: () => new Date(), registry, baseUrl: 'http://127.0.0.1/fhir', principal: { subject: 'carnet-audit', scopes: [], scope: '' } };
  let n = 0;
  const event = () => {
    const patient = `Patient/p${n++ % PATIENTS}`;
    return buildRecord(readEvent(patient, n), 'AuditEvent', newId(), undefined, ctx, true);
  };
  try {
    console.log(`carnet journal benchmark: ${machine()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    // The first thousands are compiled as they run: measured after them.
    for (let i = 0; i < 5000; i++) event();
    const t0 = performance.now();
    for (let i = 0; i < 5000; i++) event();
    console.log(`build one AuditEvent (its compartments, not its index: the store derives it on read): ${(((performance.now() - t0) * 1000) / 5000).toFixed(0)} µs`);

    const single: number[] = [];
    for (let i = 0; i < 50; i++) {
      const record = event();
      const s = performance.now();
      await store.commit([{ record, expect: { kind: 'absent' } }]);
      single.push(performance.now() - s);
    }
    single.sort((a, b) => a - b);
    console.log(`one event committed alone (one sync): p50 ${single[25]!.toFixed(2)} ms, p99 ${single[49]!.toFixed(2)} ms`);

    for (const appenders of [1, 16, 64]) {
      const journal = createJournal(store);
      const { seconds: s, cpu } = await appendFor(appenders, () => journal.append([event()]));
      const { commits, events } = journal.stats;
      console.log(`journal, ${String(appenders).padStart(2)} appenders: ${(events / s).toFixed(0).padStart(6)} events/s, ${(commits / s).toFixed(0).padStart(5)} commits/s, ${(events / commits).toFixed(1)} events per commit, ${((cpu.user + cpu.system) / events).toFixed(0)} µs CPU per event (all threads)`);
      await journal.flushHeads();
    }
    await compactLog();
    await bareLog('a bare log file of these events (the floor: no index)', (i) => ({ ...readEvent(`Patient/p${i % PATIENTS}`, i), id: newId() }));
    // What a patient needs of the same read, written as a compact record (an AuditEvent made of it when read).
    await bareLog('the same of compact records of the same facts', (i) => ({
      at: Date.now(), request: `req-${i}`, interaction: 'read', outcome: 200, who: 'Practitioner/pr1', name: 'Dr Claire Dubois',
      role: 'Médecin généraliste', sub: 'sub-1', patient: `Patient/p${i % PATIENTS}`, what: `DocumentReference/d${i}`, title: 'Compte rendu',
    }));
    console.log(`data size at the end: ${n} AuditEvents over ${PATIENTS} patients`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `appenders` loops each appending one thing after another for SECONDS: how long they took, and the CPU used (all threads). */
async function appendFor(appenders: number, step: () => Promise<void>): Promise<{ seconds: number; cpu: NodeJS.CpuUsage }> {
  const end = performance.now() + SECONDS * 1000;
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (performance.now() < end) await step();
    }),
  );
  return { seconds: (performance.now() - t) / 1000, cpu: process.cpuUsage(cpu0) };
}

/** The event of a professional's read of a document (`n` names the document and the request). */
function readEvent(patient: string, n: number): Resource {
  return auditEvent({
    interaction: 'read', status: 200, recorded: new Date().toISOString(),
    user: { who: { reference: 'Practitioner/pr1', display: 'Dr Claire Dubois' }, altId: 'sub-1', role: [{ text: 'Médecin généraliste' }] },
    entities: [{ what: { reference: `DocumentReference/d${n}` }, name: 'Compte rendu' }, patientEntity(patient), requestEntity(`req-${n}`)],
  });
}

/**
 * For comparison, what the next step would cost (not what carnet does): the same events, built the
 * same way but neither indexed nor stored as resources, hashed into a per-patient chain, and written
 * to a log of their own in the same LMDB environment, one value and one per-patient key each, in
 * group commits of what 16 appenders made meanwhile.
 */
async function compactLog() {
  const dir = mkdtempSync(join(tmpdir(), 'carnet-bench-log-'));
  const root = open({ path: dir, overlappingSync: false });
  const log = root.openDB<{ resource: unknown; hash: string }, number>('log', {});
  const byPatient = root.openDB<null, Array<string | number>>('by-patient', {});
  const heads = new Map<string, string>();
  let seq = 0;
  let n = 0;
  let pending: Array<{ patient: string; resource: Record<string, unknown>; done: () => void }> = [];
  let inFlight = false;
  const flush = async (): Promise<void> => {
    if (inFlight || pending.length === 0) return;
    inFlight = true;
    const batch = pending;
    pending = [];
    await root.childTransaction(() => {
      for (const e of batch) {
        const hash = createHash('sha256').update(heads.get(e.patient) ?? '').update(JSON.stringify(e.resource)).digest('hex');
        heads.set(e.patient, hash);
        log.putSync(++seq, { resource: e.resource, hash });
        byPatient.putSync([e.patient, e.resource.recorded as string, seq], null);
      }
    });
    for (const e of batch) e.done();
    inFlight = false;
    if (pending.length > 0) setImmediate(() => void flush());
  };
  const append = (patient: string, resource: Record<string, unknown>) =>
    new Promise<void>((done) => {
      pending.push({ patient, resource, done });
      if (!inFlight) setImmediate(() => void flush());
    });
  try {
    const { seconds: s, cpu } = await appendFor(16, () => {
      const patient = `Patient/p${n++ % PATIENTS}`;
      return append(patient, { ...readEvent(patient, n), id: newId() });
    });
    console.log(`for comparison, a compact event log (not carnet's), 16 appenders: ${(n / s).toFixed(0).padStart(6)} events/s, ${((cpu.user + cpu.system) / n).toFixed(0)} µs CPU per event (all threads)`);
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor of a trail durable before the answer, on this machine (not what carnet does): the same
 * events as lines of one file, each hashed with the one before (one chain), written and synced
 * (`writev`, `fdatasync`) in groups of what 16 appenders made meanwhile, and indexed nowhere (no
 * patient could find their events in it). Whatever carnet does beyond this costs more.
 */
async function bareLog(label: string, make: (n: number) => Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'carnet-bench-bare-log-'));
  const fd = openSync(join(dir, 'events.log'), 'a');
  const log = groupSync(fd);
  let previous = '';
  let n = 0;
  const append = (event: Record<string, unknown>) => {
    const text = JSON.stringify(event);
    previous = createHash('sha256').update(previous).update(text).digest('hex');
    return log.append(Buffer.from(`${previous} ${text}\n`));
  };
  try {
    const { seconds: s, cpu } = await appendFor(16, () => append(make(++n)));
    console.log(`for comparison, ${label}, 16 appenders: ${(n / s).toFixed(0).padStart(6)} events/s, ${(n / log.syncs).toFixed(1)} events per sync, ${((cpu.user + cpu.system) / n).toFixed(0)} µs CPU per event (all threads; ${(cpu.user / n).toFixed(0)} user)`);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

run(main);
