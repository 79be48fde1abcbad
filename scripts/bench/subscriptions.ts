// npm run bench:subscriptions: documents/s ingested (POST DocumentReference, concurrency 8) with no
// active Subscription, with 1,000 active rest-hook Subscriptions that match none of them (the cost
// of following the feed and matching), and with 1,000 of which each document matches one (plus the
// cost of queuing and sending a notification per document); criteria DocumentReference?patient=...,
// written by a system client, alternated over several rounds of one
// run against one carnet process whose subscription job runs every second, as in production. The
// notifications go to a receiver in this process on 127.0.0.1; how many arrived, and how soon after
// the ingest stopped, is printed too.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  await withCarnet('subscriptions', async ({ base, headers, pid }) => {
    console.log(`carnet subscriptions benchmark: ${machine()}`);
    for (let from = 0; from < PATIENTS; from += 500) {
      const entry = [];
      for (let i = from; i < Math.min(PATIENTS, from + 500); i++) entry.push({ resource: { resourceType: 'Patient', id: `p${i}`, birthDate: '1980-01-01' }, request: { method: 'PUT', url: `Patient/p${i}` } });
      const res = await fetch(`${base}/fhir`, { method: 'POST', headers: { ...headers, prefer: 'return=minimal' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }) });
      if (res.status !== 200) throw new Error(`Patients: ${res.status} ${(await res.text()).slice(0, 300)}`);
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

    // One system client writes them all, in transactions: switching 1,000 Subscriptions on or off
    // is then two requests, not 1,000 (whose cost would dwarf the measure on this machine).
    // `matching`: each of its patient's documents; else criteria on patients who get none.
    const subscription = (i: number, status: string, matching: boolean) => ({
      resourceType: 'Subscription', id: `s${i}`, status, reason: 'bench', criteria: `DocumentReference?patient=Patient/${matching ? 'p' : 'nobody'}${i}`,
      channel: { type: 'rest-hook', endpoint: hook, payload: 'application/fhir+json' },
    });
    const setAll = async (status: string, matching = true) => {
      for (let from = 0; from < SUBSCRIPTIONS; from += 500) {
        const entry = [];
        for (let i = from; i < Math.min(SUBSCRIPTIONS, from + 500); i++) entry.push({ resource: subscription(i, status, matching), request: { method: 'PUT', url: `Subscription/s${i}` } });
        const res = await fetch(`${base}/fhir`, { method: 'POST', headers: { ...headers, prefer: 'return=minimal' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }) });
        if (res.status !== 200) throw new Error(`Subscriptions ${status}: ${res.status} ${(await res.text()).slice(0, 300)}`);
      }
      // Two passes of the job (every second): the dispatcher sees the change before measuring.
      await new Promise((r) => setTimeout(r, 2500));
    };
    await setAll('off');

    // The machine is shared and noisy: phases alternate, and CPU per document is printed with the rate.
    const runs: Record<'none' | 'idle' | 'active', Array<{ r: LoadResult; cpu?: number }>> = { none: [], idle: [], active: [] };
    let delivered = 0;
    let expected = 0;
    let drainMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      runs.none.push(await ingest());
      await setAll('requested', false);
      runs.idle.push(await ingest());
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
    console.log(line(`${SUBSCRIPTIONS} active, matching none`, runs.idle));
    console.log(line(`${SUBSCRIPTIONS} active, one per document`, runs.active));
    console.log(`notifications: ${delivered} of ${expected} delivered to 127.0.0.1 (each document matches one Subscription; autocannon does not count the requests still in flight when a run ends), ${duplicates} twice; the last round's were all sent within ${(drainMs / 1000).toFixed(1)} s of the end of its ingest`);
    const docs = 200 + [...runs.none, ...runs.idle, ...runs.active].reduce((n, x) => n + x.r.total, 0);
    console.log(`data size: ${PATIENTS} Patients, ${SUBSCRIPTIONS} Subscriptions, ${docs} DocumentReferences at the end (+ one AuditEvent per request)`);
  }, { CARNET_SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', ...(process.env.CARNET_JOBS ? { CARNET_JOBS: process.env.CARNET_JOBS } : {}) });
  receiver.close();
}

run(main);
