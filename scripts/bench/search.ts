// Patient-scoped document search on the embedded engine: BENCH_PATIENTS patients (default 100,000)
// with 10 DocumentReferences each, loaded straight into the store through the same indexing as
// the server; then `DocumentReference?patient=X&type=...&date=ge...` over HTTP with a token, at
// concurrency 1 and 16, next to bare Fastify serving the same bytes, in one run; first with one
// server process, then with one per core (CARNET_WORKERS). Every patient carries 20 Consents, one of
// which authorizes the professional of the access runs; 2,000 patients have a médecin traitant whose
// search across them is measured too (issue 12). The professional's searches run twice: each about
// another patient (pages of the store the process has not read lately), and in runs
// of BENCH_SESSION about one patient, as an app with a record opened asks. The first pattern runs
// twice over the same patients: the first time, a request about a patient the professional never
// asked about is their first access to the record, which writes the patient's first-access notice
// (issue 16; the row says how many there were: a store kept from earlier runs has fewer patients
// left that are new to them); the second time none is, and the store's pages the first read are
// warm (the access facts are read at every request either way: src/access/lookup.ts). The professional's rows are set against the mean of two runs of the
// system client, one before them and one after.
// With one process, the system client's search at concurrency 16 is also measured with the access
// history on and off (a second server on the same data with CARNET_AUDIT=off), side by side.
// BENCH_DIR keeps the data between runs (loading 1M resources takes minutes).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalIssuer } from '../../src/auth/local-issuer.js';
import { SEMI_SPACE_FLAG } from '../../src/cluster.js';
import { auditOnOff, bulkLoader, cpuMicros, cpuPerRequest, freePort, load, machine, measuredOn, row, startProcess, type LoadResult } from './lib.js';

const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 100_000);
const PER_PATIENT = 10;
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const SETTLE = Number(process.env.BENCH_SETTLE_SECONDS ?? 5);
// Server processes for the second series (CARNET_WORKERS); default one per core.
const WORKERS = Number(process.env.BENCH_WORKERS ?? availableParallelism());
const TYPES = ['11502-2', '18748-4', '11488-4', '57833-6', '34133-9'];
const CONSENTS = 20;
const GP_PATIENTS = 2000;
const PRO = 'Practitioner/bench-pro';
const GP = 'Practitioner/bench-gp';
const BASE = 'http://127.0.0.1/fhir';
// Requests built per run, shared out between its connections (a connection cycles through its own).
const REQUESTS_BUILT = 128_000;
// Where the pseudo-random patients start: a new place each run (BENCH_SEED to repeat one), so that a
// run on a store kept from an earlier run still asks mostly about patients it has not asked about.
const SEED = Number(process.env.BENCH_SEED ?? Date.now() % 1_000_000);
let sequence = SEED;
const nextPatient = () => Math.floor(Math.abs(Math.sin(++sequence) * 1e9)) % PATIENTS;
// A professional's app opening one record asks several things of it in a row: BENCH_SESSION
// requests per patient (default 10) in the "record opened" runs.
const SESSION = Number(process.env.BENCH_SESSION ?? 10);

/** How many first-access notifications the store holds (issue 16): one per professional and patient. */
async function firstAccesses(base: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${base}/fhir/Communication?category=urn:carnet:notification|first-access&_summary=count`, { headers });
  const total = ((await res.json()) as { total?: number }).total;
  if (!res.ok || typeof total !== 'number') throw new Error(`counting first-access notifications: HTTP ${res.status}`);
  return total;
}

function doc(p: number, k: number) {
  const day = 1 + ((p * 7 + k * 3) % 28);
  return {
    resourceType: 'DocumentReference',
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.250.1.999.${p}.${k}` },
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: TYPES[(p + k) % TYPES.length] }] },
    category: [{ coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.1', code: '10' }] }],
    subject: { reference: `Patient/p${p}` },
    date: `202${4 + (k % 3)}-${String(1 + (k % 12)).padStart(2, '0')}-${String(day).padStart(2, '0')}T10:00:00Z`,
    author: [{ reference: `Practitioner/pr${p % 5000}` }],
    content: [{ attachment: { contentType: 'application/pdf', url: `${BASE}/Binary/b${p}-${k}`, size: 102400, title: `Compte rendu ${k}` } }],
    context: { period: { start: `2024-0${1 + (k % 9)}-01` } },
  };
}

function consent(p: number, k: number) {
  const who = k === 0 ? PRO : `Practitioner/pr${(p * CONSENTS + k) % 5000}`;
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/p${p}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'permit', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PRCP' }] }, reference: { reference: who } }] },
  };
}

async function loadData(dir: string): Promise<number> {
  const loader = await bulkLoader(join(dir, 'store'), BASE);
  const t0 = performance.now();
  for (let p = 0; p < PATIENTS; p++) {
    const gp = p < GP_PATIENTS ? { generalPractitioner: [{ reference: GP }] } : {};
    await loader.add({ resourceType: 'Patient', name: [{ family: `Famille${p}` }], birthDate: '1970-01-01', ...gp }, 'Patient', `p${p}`);
    for (let k = 0; k < PER_PATIENT; k++) await loader.add(doc(p, k), 'DocumentReference', `d${p}-${k}`);
    for (let k = 0; k < CONSENTS; k++) await loader.add(consent(p, k), 'Consent', `c${p}-${k}`);
    if (p % 10_000 === 9_999) console.log(`  loaded ${p + 1} patients, ${((p + 1) * (PER_PATIENT + 1) / ((performance.now() - t0) / 1000)).toFixed(0)} resources/s`);
  }
  await loader.close();
  return (performance.now() - t0) / 1000;
}

async function main() {
  const keep = process.env.BENCH_DIR;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'carnet-bench-search-'));
  mkdirSync(dir, { recursive: true });
  console.log(`carnet search benchmark (BENCH_SEED ${SEED}): ${machine()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const resources = PATIENTS * (PER_PATIENT + 1 + CONSENTS);
  // A store loaded by an earlier version of this script lacks the Consents.
  if (!existsSync(join(dir, 'store', 'loaded-with-consents'))) {
    console.log(`loading ${PATIENTS} Patients with ${PER_PATIENT} DocumentReferences each (${resources} resources) into ${dir}`);
    const seconds = await loadData(dir);
    console.log(`loaded in ${seconds.toFixed(0)} s (${(resources / seconds).toFixed(0)} resources/s, indexing included, batches of 2000 per commit)`);
    mkdirSync(join(dir, 'store', 'loaded-with-consents'));
  } else {
    console.log(`reusing ${resources} resources in ${dir}`);
  }

  const issuer = await ensureLocalIssuer(dir);
  // The reference runs: a system client, whom no access clause confines.
  const headers = { authorization: `Bearer ${await issuer.sign({ scope: 'system/*.rs' })}` };
  const proHeaders = { authorization: `Bearer ${await issuer.sign({ fhirUser: PRO, scope: 'user/*.rs' })}` };
  const gpHeaders = { authorization: `Bearer ${await issuer.sign({ fhirUser: GP, scope: 'user/*.rs' })}` };
  const query = (p: number) => `/fhir/DocumentReference?patient=p${p}&type=http://loinc.org|${TYPES[p % TYPES.length]}&date=ge2024-06-01`;
  const results: string[] = [];
  let bare: { port: number; pid: number; stop: () => void } | undefined;
  let sampleBody: string | undefined;
  // CPU per request is measured over each run on the server's processes (the load generator not counted).
  const measured = async <T extends { total: number }>(pid: number, run: () => Promise<T>): Promise<[T, number | undefined]> => {
    const before = cpuMicros(pid);
    const r = await run();
    const after = cpuMicros(pid);
    return [r, before === undefined || after === undefined ? undefined : after - before];
  };
  const bareRun = async (connections: number, workers: number) => {
    const [b, cpu] = await measured(bare!.pid, () => load({ url: `http://127.0.0.1:${bare!.port}/fhir/Patient/x`, connections, duration: DURATION }));
    results.push(row(`bare Fastify, ${workers} process${workers > 1 ? 'es' : ''}, concurrency ${connections}`, b, cpuPerRequest(cpu, b)));
    return b.requestsPerSec;
  };
  try {
    // One server process, then one per core (CARNET_WORKERS): the bare figure of the same moment is
    // measured right before each carnet figure, the VM being noisy.
    for (const workers of [...new Set([1, WORKERS])]) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      // Launched as `npm start` launches it (one process: the flag given on the command line).
      const carnet = await startProcess('src/main.ts', { PORT: String(port), CARNET_DATA_DIR: dir, LOG_LEVEL: 'warn', CARNET_WORKERS: String(workers) }, `${base}/health`, [SEMI_SPACE_FLAG]);
      try {
        if (sampleBody === undefined) {
          sampleBody = await (await fetch(`${base}${query(1)}`, { headers })).text();
          const matches = (JSON.parse(sampleBody).entry ?? []).length;
          console.log(`query: DocumentReference?patient=X&type=...&date=ge2024-06-01 (sample answer: ${matches} matches, ${sampleBody.length} bytes)`);
          // The access runs must find what the system client finds: an empty answer would be a fast one.
          const asPro = JSON.parse(await (await fetch(`${base}${query(1)}`, { headers: proHeaders })).text());
          const asGp = JSON.parse(await (await fetch(`${base}/fhir/DocumentReference?type=http://loinc.org|${TYPES[0]}&_total=accurate`, { headers: gpHeaders })).text());
          console.log(`as the authorized professional: ${(asPro.entry ?? []).length} matches; as the médecin traitant across patients: ${asGp.total} matches (${GP_PATIENTS} patients)`);
          if ((asPro.entry ?? []).length !== matches || !asGp.total) throw new Error('the access runs do not see what they should');
        }
        // Bare Fastify runs in as many processes as this carnet.
        bare?.stop();
        const barePort = await freePort();
        const child = await startProcess('scripts/bench/bare-server.ts', { PORT: String(barePort), BENCH_BODY: sampleBody, BENCH_BARE_WORKERS: String(workers) }, `http://127.0.0.1:${barePort}/fhir/Patient/x`);
        bare = { port: barePort, pid: child.pid!, stop: () => child.kill('SIGTERM') };
        // Each connection sends its own pseudo-random sequence of patients, built before the run: a
        // request rebuilt at every send (autocannon's setupRequest) cost the load generator 6 to 10 µs
        // of CPU per request more than the fixed request bare Fastify gets, CPU that the servers
        // sharing this machine's cores with it then lacked.
        const searches = (connections: number, duration: number, as = headers, url = base, session = 1) => {
          const perConnection = Math.ceil(REQUESTS_BUILT / connections);
          const paths = () => {
            let patient = 0;
            return Array.from({ length: perConnection }, (_, i) => ({ method: 'GET' as const, path: query(i % session === 0 ? (patient = nextPatient()) : patient) }));
          };
          return load({ url, connections, duration, headers: as, setupClient: (client) => client.setRequests(paths()) });
        };
        // A fresh process has mapped none of the store's pages yet, and the OS may have dropped some
        // from its cache: the first seconds measure the disk, not the server. Not reported.
        const warm = await searches(16, WARMUP);
        console.log(`warm-up (${workers} worker${workers > 1 ? 's' : ''}): ${WARMUP} s at concurrency 16, ${warm.requestsPerSec.toFixed(0)} req/s (not counted)`);
        for (const connections of [1, 16]) {
          const b = await bareRun(connections, workers);
          // While bare Fastify ran, carnet sat idle and this kind of VM reclaims idle mappings: a few
          // seconds at the measured concurrency first, not counted.
          await searches(connections, SETTLE);
          const [c, cpu] = await measured(carnet.pid!, () => searches(connections, DURATION));
          results.push(row(`carnet search, ${workers} worker${workers > 1 ? 's' : ''}, concurrency ${connections}`, c, `   = ${((100 * c.requestsPerSec) / b).toFixed(0)}% of bare${cpuPerRequest(cpu, c)}`));
          if (workers !== 1) continue;
          // The same searches by a professional the patients authorized (20 Consents per record), right after.
          await searches(connections, SETTLE, proHeaders);
          const replayFrom = sequence;
          const noticesBefore = await firstAccesses(base, headers);
          const [pro, proCpu] = await measured(carnet.pid!, () => searches(connections, DURATION, proHeaders));
          // A store kept from earlier runs has seen some of these patients: say how many were first accesses.
          const first = (await firstAccesses(base, headers)) - noticesBefore;
          // The same requests again, in the same order: no first access is left (the run above sent
          // their notices, issue 16), and the pages of the store the run above read are warm.
          sequence = replayFrom;
          const [again, againCpu] = await measured(carnet.pid!, () => searches(connections, DURATION, proHeaders));
          // The same professional with a record opened: SESSION requests per patient in a row.
          await searches(connections, SETTLE, proHeaders, base, SESSION);
          const [opened, openedCpu] = await measured(carnet.pid!, () => searches(connections, DURATION, proHeaders, base, SESSION));
          // The system client once more, after them: the professional's rows are set against the mean
          // of its two runs (a run alone on this VM varies by a fifth from one to the next).
          const [c2, cpu2] = await measured(carnet.pid!, () => searches(connections, DURATION));
          results.push(row(`  the system client again, concurrency ${connections}`, c2, cpuPerRequest(cpu2, c2)));
          const rate = (c.requestsPerSec + c2.requestsPerSec) / 2;
          const p99 = Math.max((c.p99 + c2.p99) / 2, 0.001);
          const against = (r: LoadResult) => `   = ${((100 * r.requestsPerSec) / rate).toFixed(0)}% of the system client's throughput, p99 ${(r.p99 / p99).toFixed(2)}x`;
          results.push(row(`  as an authorized professional, concurrency ${connections}`, pro, `${against(pro)}${cpuPerRequest(proCpu, pro)}; first accesses: ${first} of ${pro.total} requests`));
          results.push(row(`  the same requests again (no first access; the store's pages warm), concurrency ${connections}`, again, `${against(again)}${cpuPerRequest(againCpu, again)}`));
          results.push(row(`  as an authorized professional, ${SESSION} requests per record, concurrency ${connections}`, opened, `${against(opened)}${cpuPerRequest(openedCpu, opened)}`));
        }
        if (workers === 1) {
          // Audit on and off side by side: a second server on the same data, without the access history.
          const offPort = await freePort();
          const offBase = `http://127.0.0.1:${offPort}`;
          const off = await startProcess('src/main.ts', { PORT: String(offPort), CARNET_DATA_DIR: dir, LOG_LEVEL: 'warn', CARNET_WORKERS: '1', CARNET_AUDIT: 'off' }, `${offBase}/health`, [SEMI_SPACE_FLAG]);
          try {
            await searches(16, WARMUP, headers, offBase);
            const servers = { on: { url: base, pid: carnet.pid! }, off: { url: offBase, pid: off.pid! } };
            results.push(
              ...(await auditOnOff('carnet search, 1 worker, concurrency 16', async (setting) => {
                await searches(16, SETTLE, headers, servers[setting].url);
                return measuredOn(servers[setting].pid, () => searches(16, DURATION, headers, servers[setting].url));
              })),
            );
          } finally {
            off.kill('SIGTERM');
            await new Promise((r) => off.once('exit', r));
          }
          // A médecin traitant's search across their 2,000 patients.
          for (const connections of [1, 16]) {
            const gpQuery = `${base}/fhir/DocumentReference?type=http://loinc.org|${TYPES[0]}`;
            await load({ url: gpQuery, connections, duration: SETTLE, headers: gpHeaders });
            const g = await load({ url: gpQuery, connections, duration: DURATION, headers: gpHeaders });
            results.push(row(`  médecin traitant of ${GP_PATIENTS} patients, DocumentReference?type=..., concurrency ${connections}`, g));
          }
        }
      } finally {
        carnet.kill('SIGTERM');
        await new Promise((r) => carnet.once('exit', r));
      }
    }
  } finally {
    bare?.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  for (const r of results) console.log(r);
  console.log(`data size: ${resources} resources (${PATIENTS} Patients, ${PATIENTS * PER_PATIENT} DocumentReferences); carnet workers: 1 and ${WORKERS} (BENCH_WORKERS); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
