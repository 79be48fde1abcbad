// npm run bench:subscriptions: documents/s ingested (POST DocumentReference, concurrency 8) with no
// active Subscription and with 1,000 active rest-hook Subscriptions (one per patient, each written
// by its patient, criteria DocumentReference?patient=...), alternated over several rounds of one
// run against one carnet process whose subscription job runs every second, as in production. The
// notifications go to a receiver in this process on 127.0.0.1; how many arrived, and how soon after
// the ingest stopped, is printed too.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureLocalIssuer } from '../../src/auth/local-issuer.js';
import { cpuMicros, load, machine, run, withCarnet, type LoadResult } from './lib.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const SUBSCRIPTIONS = Number(process.env.BENCH_SUBSCRIPTIONS ?? 1000);
const PATIENTS = SUBSCRIPTIONS;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

let counter = 0;
function documentBody(): string {
  const n = ++counter;
  return JSON.stringify({
    resourceType: 'DocumentReference', status: 'current',
    subject: { reference: `Patient/p${n % PATIENTS}` },
    type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
    date: '2026-06-12T11:00:00+02:00',
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(`compte rendu ${n}`).toString('base64') } }],
  });
}

async function main() {
  let received = 0;
  const seen = new Set<string>();
  let duplicates = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      if (seen.has(req.url!)) duplicates++;
      seen.add(req.url!);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  await withCarnet('subscriptions', async ({ base, headers, dataDir, pid }) => {
    console.log(`carnet subscriptions benchmark: ${machine()}`);
    const issuer = await ensureLocalIssuer(dataDir);
    for (let i = 0; i < PATIENTS; i++) {
      const res = await fetch(`${base}/fhir/Patient/p${i}`, { method: 'PUT', headers, body: JSON.stringify({ resourceType: 'Patient', id: `p${i}`, birthDate: '1980-01-01' }) });
      if (res.status >= 300) throw new Error(`Patient p${i}: ${res.status}`);
    }
    const ingest = async (): Promise<{ r: LoadResult; cpu?: number }> => {
      const before = cpuMicros(pid);
      const r = await load({
        url: base, connections: CONNECTIONS, duration: DURATION, headers: { ...headers, prefer: 'return=minimal' },
        requests: [{ method: 'POST', path: '/fhir/DocumentReference', setupRequest: (req) => ({ ...req, body: documentBody() }) }],
      });
      const after = cpuMicros(pid);
      return { r, ...(before !== undefined && after !== undefined ? { cpu: after - before } : {}) };
    };
    // Warm-up: validators compiled, page cache filled.
    for (let i = 0; i < 200; i++) await fetch(`${base}/fhir/DocumentReference`, { method: 'POST', headers, body: documentBody() });

    const subs: Array<{ id: string; token: string; body: Record<string, unknown> }> = [];
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const token = await issuer.sign({ fhirUser: `Patient/p${i}`, scope: 'patient/*.cruds', patient: `p${i}` });
      const body = { resourceType: 'Subscription', status: 'off', reason: 'bench', criteria: `DocumentReference?patient=Patient/p${i}`, channel: { type: 'rest-hook', endpoint: hook, payload: 'application/fhir+json' } };
      const res = await fetch(`${base}/fhir/Subscription`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`Subscription ${i}: ${res.status} ${await res.text()}`);
      subs.push({ id: ((await res.json()) as { id: string }).id, token, body });
    }
    const setAll = async (status: string) => {
      for (const s of subs) {
        const res = await fetch(`${base}/fhir/Subscription/${s.id}`, { method: 'PUT', headers: { ...headers, authorization: `Bearer ${s.token}` }, body: JSON.stringify({ ...s.body, id: s.id, status }) });
        if (res.status !== 200) throw new Error(`Subscription ${s.id}: ${res.status} ${await res.text()}`);
      }
      // Two passes of the job (every second): the dispatcher sees the change before measuring.
      await new Promise((r) => setTimeout(r, 2500));
    };

    // The machine is shared and noisy: phases alternate, and CPU per document is printed with the rate.
    const runs: Record<'none' | 'active', Array<{ r: LoadResult; cpu?: number }>> = { none: [], active: [] };
    let delivered = 0;
    let expected = 0;
    let drainMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      runs.none.push(await ingest());
      await setAll('requested');
      received = 0;
      const active = await ingest();
      runs.active.push(active);
      const drainStart = performance.now();
      for (let i = 0; i < 1200 && received < active.r.total; i++) await new Promise((r) => setTimeout(r, 100));
      drainMs = Math.max(drainMs, performance.now() - drainStart);
      delivered += received;
      expected += active.r.total;
      await setAll('off');
    }

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const line = (name: string, rs: Array<{ r: LoadResult; cpu?: number }>) => {
      const rates = rs.map((x) => x.r.requestsPerSec);
      const cpus = rs.filter((x) => x.cpu !== undefined).map((x) => x.cpu! / Math.max(1, x.r.total));
      const errors = rs.reduce((n, x) => n + x.r.errors + x.r.non2xx, 0);
      return `${name.padEnd(30)} median ${median(rates).toFixed(0).padStart(4)} documents/s (runs: ${rates.map((r) => r.toFixed(0)).join(', ')})` +
        (cpus.length ? `   cpu ${median(cpus).toFixed(0)} µs/document` : '') + `   errors ${errors}`;
    };
    console.log('');
    console.log(`ingest: POST DocumentReference, c=${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} alternated rounds, audit on`);
    console.log(line('no active Subscription', runs.none));
    console.log(line(`${SUBSCRIPTIONS} active Subscriptions`, runs.active));
    console.log(`notifications: ${delivered} of ${expected} delivered to 127.0.0.1 (each document matches one Subscription; autocannon does not count the requests still in flight when a run ends), ${duplicates} twice; the last round's were all sent within ${(drainMs / 1000).toFixed(1)} s of the end of its ingest`);
    const docs = 200 + [...runs.none, ...runs.active].reduce((n, x) => n + x.r.total, 0);
    console.log(`data size: ${PATIENTS} Patients, ${SUBSCRIPTIONS} Subscriptions, ${docs} DocumentReferences at the end (+ one AuditEvent per request)`);
  }, { CARNET_SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', ...(process.env.CARNET_JOBS ? { CARNET_JOBS: process.env.CARNET_JOBS } : {}) });
  receiver.close();
}

run(main);
