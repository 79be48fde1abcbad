// Bulk Data $export of a large store on the embedded engine: BENCH_PATIENTS patients (default
// 100,000) with 10 DocumentReferences each (1.1M resources, the search benchmark's shape without
// its Consents), loaded straight into the store through the same indexing as the server; then a
// system-level export over HTTP from a server in its own process: kick-off, polling, download of
// every file. Reports resources/s and the server's resident memory (RSS) at rest and at its peak
// (VmHWM, read from /proc). BENCH_DIR keeps the data between runs; a store of `npm run bench:search`
// (BENCH_DIR of that one) is reused as it is (its Consents exported too).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalIssuer } from '../../src/auth/local-issuer.js';
import { SEMI_SPACE_FLAG } from '../../src/cluster.js';
import { bulkLoader, freePort, machine, run, startProcess } from './lib.js';

const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 100_000);
const PER_PATIENT = 10;
const BASE = 'http://127.0.0.1/fhir';
const TYPES = ['11502-2', '18748-4', '11488-4', '57833-6', '34133-9'];

function doc(p: number, k: number) {
  return {
    resourceType: 'DocumentReference',
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.250.1.999.${p}.${k}` },
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: TYPES[(p + k) % TYPES.length] }] },
    subject: { reference: `Patient/p${p}` },
    date: `202${4 + (k % 3)}-${String(1 + (k % 12)).padStart(2, '0')}-1${k % 10}T10:00:00Z`,
    author: [{ reference: `Practitioner/pr${p % 5000}` }],
    content: [{ attachment: { contentType: 'application/pdf', url: `${BASE}/Binary/b${p}-${k}`, size: 102400, title: `Compte rendu ${k}` } }],
  };
}

async function loadData(dir: string): Promise<void> {
  const loader = await bulkLoader(join(dir, 'store'), BASE);
  const t0 = performance.now();
  for (let p = 0; p < PATIENTS; p++) {
    await loader.add({ resourceType: 'Patient', name: [{ family: `Famille${p}` }], birthDate: '1970-01-01' }, 'Patient', `p${p}`);
    for (let k = 0; k < PER_PATIENT; k++) await loader.add(doc(p, k), 'DocumentReference', `d${p}-${k}`);
    if (p % 10_000 === 9_999) console.log(`  loaded ${p + 1} patients, ${(((p + 1) * (PER_PATIENT + 1)) / ((performance.now() - t0) / 1000)).toFixed(0)} resources/s`);
  }
  await loader.close();
}

/**
 * Resident memory of a process, MiB (Linux /proc): all of it, its peak, and its anonymous part
 * (heap and buffers; the rest is mostly the store's memory-mapped pages, which the OS may drop).
 */
function memory(pid: number): { rss: number; peak: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024, anon: kib('RssAnon') / 1024 };
}

async function main() {
  const keep = process.env.BENCH_DIR;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'carnet-bench-export-'));
  mkdirSync(dir, { recursive: true });
  console.log(`carnet export benchmark: ${machine()}`);
  let resources = PATIENTS * (PER_PATIENT + 1);
  if (existsSync(join(dir, 'store', 'loaded-with-consents'))) {
    resources = PATIENTS * (PER_PATIENT + 1 + 20);
    console.log(`reusing the search benchmark's store in ${dir}: ${resources} resources (BENCH_PATIENTS must be the one it was built with)`);
  } else if (existsSync(join(dir, 'store', 'loaded-for-export'))) {
    console.log(`reusing ${resources} resources in ${dir}`);
  } else {
    console.log(`loading ${PATIENTS} Patients with ${PER_PATIENT} DocumentReferences each (${resources} resources) into ${dir}`);
    const t0 = performance.now();
    await loadData(dir);
    console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    mkdirSync(join(dir, 'store', 'loaded-for-export'));
  }

  const headers = { authorization: `Bearer ${await (await ensureLocalIssuer(dir)).sign({ scope: 'system/*.rs' })}` };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // As `npm start` runs it; no access history, which would grow the store while measuring it.
  const server = await startProcess('src/main.ts', { PORT: String(port), CARNET_DATA_DIR: dir, LOG_LEVEL: 'warn', CARNET_AUDIT: 'off' }, `${base}/health`, [SEMI_SPACE_FLAG]);
  try {
    const atRest = memory(server.pid!);
    console.log(`server at rest: RSS ${atRest.rss.toFixed(0)} MiB`);
    const t0 = performance.now();
    const kick = await fetch(`${base}/fhir/$export`, { headers: { ...headers, prefer: 'respond-async', accept: 'application/fhir+json' } });
    if (kick.status !== 202) throw new Error(`kick-off answered ${kick.status}: ${await kick.text()}`);
    const status = kick.headers.get('content-location')!;
    let manifest: { output: Array<{ type: string; url: string; count: number }> } | undefined;
    let lastLog = 0;
    let peakAnon = atRest.anon;
    while (!manifest) {
      await new Promise((r) => setTimeout(r, 500));
      peakAnon = Math.max(peakAnon, memory(server.pid!).anon);
      const res = await fetch(status, { headers });
      if (res.status === 200) manifest = await res.json();
      else if (res.status !== 202) throw new Error(`status answered ${res.status}: ${await res.text()}`);
      else if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        const m = memory(server.pid!);
        console.log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${res.headers.get('x-progress')}; RSS ${m.rss.toFixed(0)} MiB`);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const exported = manifest.output.reduce((n, f) => n + f.count, 0);
    const afterExport = memory(server.pid!);

    // Every file downloaded to its end (streamed; counted, not kept).
    const t1 = performance.now();
    let lines = 0;
    let bytes = 0;
    for (const file of manifest.output) {
      const res = await fetch(file.url, { headers });
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.byteLength;
        for (const b of chunk) if (b === 10) lines++;
      }
    }
    const download = (performance.now() - t1) / 1000;
    const end = memory(server.pid!);
    if (lines !== exported || exported !== resources) throw new Error(`exported ${exported}, downloaded ${lines} lines, expected ${resources}`);
    console.log('');
    console.log(`data: ${resources} resources (${PATIENTS} Patients, ${resources - PATIENTS} others), ${manifest.output.length} files, ${(bytes / 2 ** 20).toFixed(0)} MiB of NDJSON`);
    console.log(`export: ${seconds.toFixed(1)} s from kick-off to manifest = ${(exported / seconds).toFixed(0)} resources/s (polling every 0.5 s)`);
    console.log(`download: ${download.toFixed(1)} s = ${(bytes / 2 ** 20 / download).toFixed(0)} MiB/s, ${(lines / download).toFixed(0)} resources/s`);
    console.log(`server RSS: ${atRest.rss.toFixed(0)} MiB at rest, ${afterExport.rss.toFixed(0)} MiB after the export, peak ${end.peak.toFixed(0)} MiB (VmHWM, export and download, the store's mapped pages included)`);
    console.log(`server anonymous RSS (heap, buffers): ${atRest.anon.toFixed(0)} MiB at rest, peak ${peakAnon.toFixed(0)} MiB sampled every 0.5 s during the export, ${end.anon.toFixed(0)} MiB after the download`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

run(main);
