// npm run bench:ingest: IHE MHD ITI-65 Provide Document Bundles (SubmissionSet + DocumentReference
// + a 100 KB PDF Binary, the patient by conditional reference) at concurrency 8, then transactions
// of 100 mixed resources, on the embedded engine with durable acknowledgement. Prints bundles/s and
// resources/s with the machine and the data size, each with the access history on and off (a second
// server on the same data with CARNET_AUDIT=off).
import { createHash, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { auditOnOff, load, machine, measuredOn, run, withCarnet } from './lib.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const INS = 'urn:oid:1.2.250.1.213.1.4.8';
const PATIENTS = 100;
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(100 * 1024 - 20, 'x'), Buffer.from('\n%%EOF\n')]);

let counter = 0;

/** One ITI-65 bundle; every PDF differs (its last bytes), as real documents do. */
function provideBundle(): string {
  const n = ++counter;
  const pdf = Buffer.from(PDF);
  pdf.writeUInt32BE(n, pdf.length - 12);
  const [list, doc, bin] = [randomUUID(), randomUUID(), randomUUID()].map((u) => `urn:uuid:${u}`);
  const subject = { reference: `Patient?identifier=${INS}|${1000000000000 + (n % PATIENTS)}` };
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: list,
        resource: {
          resourceType: 'List', status: 'current', mode: 'working', subject,
          identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.250.1.999.1.${n}.${process.pid}` }],
          code: { coding: [{ system: 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes', code: 'submissionset' }] },
          extension: [{ url: 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId', valueIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.999' } }],
          date: '2026-06-12T11:00:00+02:00',
          entry: [{ item: { reference: doc } }],
        },
        request: { method: 'POST', url: 'List' },
      },
      {
        fullUrl: doc,
        resource: {
          resourceType: 'DocumentReference', status: 'current', subject,
          masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.250.1.999.2.${n}.${process.pid}` },
          type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
          category: [{ coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.1', code: '10' }] }],
          date: '2026-06-12T11:00:00+02:00',
          content: [{ attachment: { contentType: 'application/pdf', url: bin, size: pdf.length, hash: createHash('sha1').update(pdf).digest('base64') } }],
        },
        request: { method: 'POST', url: 'DocumentReference' },
      },
      { fullUrl: bin, resource: { resourceType: 'Binary', contentType: 'application/pdf', data: pdf.toString('base64') }, request: { method: 'POST', url: 'Binary' } },
    ],
  });
}

/** 100 mixed resources in one transaction: Patients, Observations, Conditions, AllergyIntolerances. */
function mixedTransaction(): string {
  const entry = [];
  for (let i = 0; i < 25; i++) {
    const p = `urn:uuid:${randomUUID()}`;
    entry.push({ fullUrl: p, resource: { resourceType: 'Patient', name: [{ family: `Mixte${++counter}` }], birthDate: '1980-01-01' }, request: { method: 'POST', url: 'Patient' } });
    entry.push({ resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: p }, effectiveDateTime: '2026-06-12T11:00:00+02:00', valueQuantity: { value: 70, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } }, request: { method: 'POST', url: 'Observation' } });
    entry.push({ resource: { resourceType: 'Condition', subject: { reference: p }, code: { text: 'asthme' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] } }, request: { method: 'POST', url: 'Condition' } });
    entry.push({ resource: { resourceType: 'AllergyIntolerance', patient: { reference: p }, code: { text: 'pollen' }, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] } }, request: { method: 'POST', url: 'AllergyIntolerance' } });
  }
  return JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry });
}

async function main() {
  await withCarnet('ingest', async ({ base, pid, headers, also }) => {
    console.log(`carnet ingest benchmark: ${machine()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    for (let i = 0; i < PATIENTS; i++) {
      await fetch(`${base}/fhir/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: INS, value: String(1000000000000 + i) }] }) });
    }
    const off = await also({ CARNET_AUDIT: 'off' });
    const servers = { on: { base, pid }, off };
    // Warm-up: the first requests compile the validators of their types.
    // A request the server refuses would measure its refusal: each must be accepted here first.
    const accepted = async (server: { base: string }, body: string) => {
      const res = await fetch(`${server.base}/fhir`, { method: 'POST', headers, body });
      if (res.status >= 300) throw new Error(`the benchmark's Bundle is refused (${res.status}): ${(await res.text()).slice(0, 500)}`);
    };
    for (const server of Object.values(servers)) {
      for (let i = 0; i < 3; i++) await accepted(server, provideBundle());
      await accepted(server, mixedTransaction());
    }

    const totals = { iti65: 0, mixed: 0 };
    const iti65 = await auditOnOff(
      `ITI-65 (3 resources + 100 KB PDF), c=${CONNECTIONS}`,
      async (setting) => {
        const r = await measuredOn(servers[setting].pid, () =>
          load({
            url: servers[setting].base, connections: CONNECTIONS, duration: DURATION, headers: { ...headers, prefer: 'return=minimal' },
            requests: [{ method: 'POST', path: '/fhir', setupRequest: (req) => ({ ...req, body: provideBundle() }) }],
          }),
        );
        totals.iti65 += r.total;
        return r;
      },
      { name: 'resources/s', factor: 3 },
    );
    const mixed = await auditOnOff(
      `transaction of 100 resources, c=${CONNECTIONS}`,
      async (setting) => {
        const r = await measuredOn(servers[setting].pid, () =>
          load({
            url: servers[setting].base, connections: CONNECTIONS, duration: DURATION, headers: { ...headers, prefer: 'return=minimal' },
            requests: [{ method: 'POST', path: '/fhir', setupRequest: (req) => ({ ...req, body: mixedTransaction() }) }],
          }),
        );
        totals.mixed += r.total;
        return r;
      },
      { name: 'resources/s', factor: 100 },
    );
    const single = performance.now();
    const one = await fetch(`${base}/fhir`, { method: 'POST', headers: { ...headers, prefer: 'return=minimal' }, body: mixedTransaction() });
    const oneMs = performance.now() - single;

    console.log('');
    for (const line of [...iti65, ...mixed]) console.log(line);
    console.log(`one transaction of 100 resources alone (audit on): ${oneMs.toFixed(0)} ms (status ${one.status})`);
    console.log(`data size at the end: ${PATIENTS} Patients + ${totals.iti65 + 6} ITI-65 bundles + ${totals.mixed + 3} transactions of 100; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  });
}

run(main);
