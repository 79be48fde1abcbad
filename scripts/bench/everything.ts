/**
 * Patient/$everything benchmark: the time of each page of one patient's 1,000-resource record,
 * over HTTP on 127.0.0.1, against a server process of its own (embedded engine). The store also
 * holds other patients' records (BENCH_OTHER_PATIENTS, 200 resources each), so that the record is
 * found through the indexes among others. Prints the machine, the data size and, per page size,
 * the first page, the median and slowest page, the pages that reach the referenced resources
 * (stream 2, which reads the whole record's references again) and the whole walk, as a system
 * client and as the médecin traitant (whose access clauses are in every query).
 *
 *   npm run bench:everything            BENCH_RUNS (3), BENCH_OTHER_PATIENTS (20), BENCH_DIR to keep the data
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalIssuer } from '../../src/auth/local-issuer.js';
import { SEMI_SPACE_FLAG } from '../../src/cluster.js';
import { freePort, machine, startProcess } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const OTHERS = Number(process.env.BENCH_OTHER_PATIENTS ?? 20);
const COUNTS = [20, 100, 1000];

type Entry = Record<string, unknown>;
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** One patient's record: `size` resources, the Patient and the Practitioners and Organizations it refers to included. */
function record(size: number, tag: string): Entry[] {
  const entries: Array<{ fullUrl: string; resource: Entry }> = [];
  const add = (resource: Entry) => {
    const fullUrl = `urn:uuid:${crypto.randomUUID()}`;
    entries.push({ fullUrl, resource });
    return fullUrl;
  };
  const orgs = [0, 1].map((i) => add({ resourceType: 'Organization', name: `${tag} org ${i}` }));
  const doctors = Array.from({ length: 10 }, (_, i) => add({ resourceType: 'Practitioner', name: [{ family: `${tag} dr ${i}` }] }));
  const patient = add({ resourceType: 'Patient', name: [{ family: tag }], generalPractitioner: [{ reference: doctors[0] }], managingOrganization: { reference: orgs[0] } });
  const subject = { reference: patient };
  const day = (i: number) => new Date(Date.UTC(2015, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
  for (let i = 0; entries.length < size; i++) {
    const performer = [{ reference: doctors[i % doctors.length] }];
    switch (i % 10) {
      case 0: add({ resourceType: 'Condition', subject, code: { text: `problème ${i}` }, onsetDateTime: day(i), recorder: performer[0] }); break;
      case 1: add({ resourceType: 'Immunization', status: 'completed', patient: subject, vaccineCode: { text: 'DTP' }, occurrenceDateTime: day(i), performer: [{ actor: performer[0] }] }); break;
      case 2: add({ resourceType: 'AllergyIntolerance', patient: subject, code: { text: `allergène ${i}` }, recordedDate: day(i), recorder: performer[0],
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] } }); break;
      case 3: {
        if (entries.length + 2 > size) break;
        const binary = add({ resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from(`compte rendu ${i}`).toString('base64') });
        add({ resourceType: 'DocumentReference', status: 'current', subject, date: `${day(i)}T10:00:00Z`, author: performer, custodian: { reference: orgs[1] },
          content: [{ attachment: { contentType: 'text/plain', url: binary } }] });
        break;
      }
      default: add({ resourceType: 'Observation', status: 'final', category: [{ coding: [{ system: CATEGORY, code: i % 2 ? 'vital-signs' : 'laboratory' }] }],
        code: { text: `mesure ${i}` }, subject, effectiveDateTime: day(i), performer, valueQuantity: { value: i % 97, unit: 'kg' } });
    }
  }
  return entries.map(({ fullUrl, resource }) => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } }));
}

async function post(base: string, auth: Record<string, string>, entries: Entry[]): Promise<Entry[]> {
  const res = await fetch(`${base}/fhir`, { method: 'POST', headers: { ...auth, 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: entries }) });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`transaction: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body.entry;
}

const ms = (ns: bigint) => Number(ns) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));

/** Walks every page; the time of each, and whether it reached stream 2 (an entry of mode include). */
async function walk(base: string, auth: Record<string, string>, url: string): Promise<{ pages: Array<{ ms: number; bytes: number; include: boolean }>; resources: number }> {
  const pages: Array<{ ms: number; bytes: number; include: boolean }> = [];
  let resources = 0;
  for (let next: string | undefined = `${base}${url}`; next; ) {
    const t = process.hrtime.bigint();
    const res = await fetch(next, { headers: auth });
    const text = await res.text();
    const elapsed = ms(process.hrtime.bigint() - t);
    if (res.status !== 200) throw new Error(`${next}: ${res.status} ${text.slice(0, 300)}`);
    const body = JSON.parse(text);
    resources += body.entry?.length ?? 0;
    pages.push({ ms: elapsed, bytes: text.length, include: (body.entry ?? []).some((e: any) => e.search.mode === 'include') });
    next = body.link.find((l: any) => l.relation === 'next')?.url;
  }
  return { pages, resources };
}

async function main() {
  const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'carnet-bench-everything-'));
  console.log(`carnet $everything benchmark: ${machine()}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startProcess('src/main.ts', { PORT: String(port), CARNET_DATA_DIR: dir, LOG_LEVEL: 'warn', CARNET_BASE_URL: `${base}/fhir`, CARNET_AUDIT: 'off' }, `${base}/health`, [SEMI_SPACE_FLAG]);
  try {
    const issuer = await ensureLocalIssuer(dir);
    const auth = { authorization: `Bearer ${await issuer.sign({ scope: 'system/*.cruds' })}` };
    const t0 = Date.now();
    for (let i = 0; i < OTHERS; i++) await post(base, auth, record(200, `autre${i}`));
    const mine = await post(base, auth, record(1000, 'bench'));
    const patientId = String((mine.find((e: any) => e.response.location.includes('/Patient/')) as any).response.location.split('/Patient/')[1].split('/')[0]);
    console.log(`data: one patient's record of 1,000 resources (Patient, 10 Practitioners, 2 Organizations, Observations, Conditions, Immunizations, AllergyIntolerances, DocumentReferences and their Binaries) among ${OTHERS} other records of 200; ${1000 + OTHERS * 200} resources, loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s; embedded engine (LMDB), one server process; access history off, so that the record stays the same size from walk to walk (each page would add an AuditEvent to it)`);

    const pro = { authorization: `Bearer ${await issuer.sign({ fhirUser: `Practitioner/${String((mine.find((e: any) => e.response.location.includes('/Practitioner/')) as any).response.location.split('/Practitioner/')[1].split('/')[0])}`, scope: 'user/*.rs' })}` };
    // Warm up: the page cache of the VM is reclaimed after a pause (GOTCHAS).
    await walk(base, auth, `/fhir/Patient/${patientId}/$everything?_count=1000`);
    for (const [who, headers] of [['system client', auth], ['médecin traitant', pro]] as const) {
      for (const count of COUNTS) {
        const all: number[] = [];
        const stream2: number[] = [];
        const firsts: number[] = [];
        const walks: number[] = [];
        let pages = 0;
        let resources = 0;
        let bytes = 0;
        for (let run = 0; run < RUNS; run++) {
          const w = await walk(base, headers, `/fhir/Patient/${patientId}/$everything?_count=${count}`);
          pages = w.pages.length;
          resources = w.resources;
          bytes = w.pages.reduce((s, p) => s + p.bytes, 0);
          firsts.push(w.pages[0].ms);
          walks.push(w.pages.reduce((s, p) => s + p.ms, 0));
          for (const p of w.pages) (p.include ? stream2 : all).push(p.ms);
        }
        console.log(
          `${who}, _count=${count}: ${resources} resources in ${pages} pages (${(bytes / 1024).toFixed(0)} KiB); page median ${fmt(median(all))} ms, slowest ${fmt(Math.max(...all, ...stream2))} ms, ` +
            `first ${fmt(median(firsts))} ms, pages with referenced resources median ${fmt(median(stream2))} ms; whole walk median ${median(walks).toFixed(0)} ms (${RUNS} runs)`,
        );
      }
    }
  } finally {
    server.kill('SIGTERM');
    if (!process.env.BENCH_DIR) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
