// npm run bench: bare Fastify (the ceiling), carnet read-by-id with a token, and carnet create,
// in one run on the embedded engine, each with the access history on and off (a second server on
// the same data with CARNET_AUDIT=off). Prints the figures with the machine and the data size.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { auditOnOff, cpuPerRequest, freePort, type Measured, load, machine, measuredOn, row, run, startProcess, withCarnet } from './lib.js';

const N = Number(process.env.BENCH_N ?? 10_000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

const patient = (i: number) => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: String(100000000000000 + i) }],
  name: [{ family: `Famille${i}`, given: ['Hélène', 'Marie'] }],
  gender: i % 2 ? 'female' : 'male',
  birthDate: `19${String(50 + (i % 50)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 9}`,
  address: [{ line: [`${i} rue de la Paix`], city: 'Paris', postalCode: '75002', country: 'FR' }],
});

async function main() {
  await withCarnet('core', async ({ base, pid, headers, also, dataDir }) => {
    console.log(`carnet core benchmark: ${machine()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`embedded engine (LMDB), ${N} Patients loaded first, ${DURATION} s per figure, ${CONNECTIONS} connections, autocannon in this process`);

    const t0 = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < N; i += 64) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(64, N - i) }, (_, k) =>
          fetch(`${base}/fhir/Patient`, { method: 'POST', headers, body: JSON.stringify(patient(i + k)) }).then((r) => r.json() as Promise<{ id: string }>),
        ),
      );
      ids.push(...batch.map((b) => b.id));
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    console.log(`load: ${N} creates in ${loadSeconds.toFixed(1)} s (${(N / loadSeconds).toFixed(0)}/s, 64 in flight, fetch client, audit on)`);
    const off = await also({ CARNET_AUDIT: 'off' });
    const servers = { on: { base, pid }, off };

    const sample = await (await fetch(`${base}/fhir/Patient/${ids[0]}`, { headers })).text();
    // Bare Fastify serving the same bytes: alone, then with each answer waiting for a group
    // fdatasync of a record of that size in the data directory (the floor of durable-before-answer:
    // nothing built or hashed; the kernel's journal thread is not counted in its CPU).
    const bareRun = async (env: Record<string, string>) => {
      const barePort = await freePort();
      const bare = await startProcess('scripts/bench/bare-server.ts', { PORT: String(barePort), BENCH_BODY: sample, ...env }, `http://127.0.0.1:${barePort}/fhir/Patient/x`);
      try {
        return await measuredOn(bare.pid!, () => load({ url: `http://127.0.0.1:${barePort}/fhir/Patient/x`, connections: CONNECTIONS, duration: DURATION }));
      } finally {
        bare.kill('SIGTERM');
      }
    };
    const bareResult = await bareRun({});
    const syncFloor = await bareRun({ BENCH_SYNC_FILE: join(dataDir, 'sync-floor') });
    // Each connection cycles through its own ids, built before the run (see GOTCHAS: setupRequest costs the client CPU).
    let next = 0;
    const reads = await auditOnOff(`carnet read by id (token checked), c=${CONNECTIONS}`, (setting) =>
      measuredOn(servers[setting].pid, () =>
        load({
          url: servers[setting].base,
          connections: CONNECTIONS,
          duration: DURATION,
          headers,
          setupClient: (client) => client.setRequests(Array.from({ length: 2000 }, () => ({ method: 'GET', path: `/fhir/Patient/${ids[next++ % ids.length]}` }))),
        }),
      ),
    );
    let created = N;
    const creates = await auditOnOff(
      `carnet create (durable ack), c=${CONNECTIONS}`,
      (setting) =>
        measuredOn(servers[setting].pid, () =>
          load({
            url: servers[setting].base,
            connections: CONNECTIONS,
            duration: DURATION,
            headers: { ...headers, prefer: 'return=minimal' },
            requests: [{ method: 'POST', path: '/fhir/Patient', setupRequest: (req) => ({ ...req, body: JSON.stringify(patient(created++)) }) }],
          }),
        ),
      { name: 'resources/s', factor: 1 },
    );

    console.log('');
    console.log(row('bare Fastify, same JSON from memory', bareResult, cpuPerRequest(bareResult.cpu, bareResult)));
    const perRequest = (m: Measured) => (m.cpu ?? NaN) / m.total;
    const syncCpu = perRequest(syncFloor) - perRequest(bareResult);
    console.log(row('  the same, each answer after a group fdatasync', syncFloor, `${cpuPerRequest(syncFloor.cpu, syncFloor)}   = ${((100 * syncFloor.requestsPerSec) / bareResult.requestsPerSec).toFixed(0)}% of bare`));
    for (const line of reads) console.log(line);
    console.log(`  the sync alone (bare Fastify with it, against without): ${syncCpu.toFixed(0)} µs of CPU per request, = ${((100 * syncCpu) / perRequest(reads.off)).toFixed(0)}% of carnet's read by id with audit off (the throughput target allows 15%)`);
    for (const line of creates) console.log(line);
    console.log(`data size at the end: ${created} Patients; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  });
}

run(main);
