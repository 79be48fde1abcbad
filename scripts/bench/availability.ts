// Availability under costly requests: one client (the attacker) sends the worst requests of issue 11
// (batches of 20 and of 1,000 `Observation?value-string:contains=...` searches over BENCH_OBSERVATIONS
// Observations, a 3.4 MB Patient with 100,000 names, and the largest Patient the limits in the
// environment let through: CARNET_MAX_ARRAY_ITEMS and CARNET_MAX_ELEMENTS) while another client
// (the victim) reads other resources; prints the victim's latencies during each attack, the
// attacker's statuses and times, the machine and the data size.
// The server runs in its own process on 127.0.0.1, from this checkout or from BENCH_SERVER_ROOT
// (another checkout of carnet, e.g. an earlier commit, to measure before and after a change).
// Bounded: each attack stops after BENCH_ATTACK_SECONDS, and the victim stops with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalIssuer } from '../../src/auth/local-issuer.js';
import { loadConfig } from '../../src/config.js';
import { bulkLoader, freePort, machine, ROOT, run } from './lib.js';

const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 1_000);
const OBSERVATIONS = Number(process.env.BENCH_OBSERVATIONS ?? 50_000);
// The victim: one client reading one request at a time (the "another client"), then four
// connections in a closed loop, which alone keep the one server process busy (a stress figure).
const VICTIMS = (process.env.BENCH_VICTIM_CONNECTIONS ?? '1,4').split(',').map(Number);
const ATTACK_SECONDS = Number(process.env.BENCH_ATTACK_SECONDS ?? 60);
const SERVER_ROOT = process.env.BENCH_SERVER_ROOT ?? ROOT;
const BASE = 'http://127.0.0.1/fhir';

async function seed(dir: string): Promise<void> {
  const loader = await bulkLoader(join(dir, 'store'), BASE);
  for (let p = 0; p < PATIENTS; p++) await loader.add({ resourceType: 'Patient', name: [{ family: `Famille${p}`, given: ['Jeanne'] }], birthDate: '1970-01-01' }, 'Patient', `p${p}`);
  for (let o = 0; o < OBSERVATIONS; o++) {
    await loader.add(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8251-1' }] },
        subject: { reference: `Patient/p${o % PATIENTS}` },
        effectiveDateTime: `2025-${String(1 + (o % 12)).padStart(2, '0')}-15T08:00:00Z`,
        valueString: `observation libre numéro ${o}`,
      },
      'Observation',
      `o${o}`,
    );
  }
  await loader.close();
}

async function startServer(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', 'src/main.ts'], {
    cwd: SERVER_ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CARNET_DATA_DIR: dir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status < 500) return child;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('the server did not start');
}

const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);

interface Attack {
  name: string;
  /** The request's path and body, made before the victim starts: building a 3.4 MB body in this process would stall the victim's own timing. */
  path: string;
  body: string;
}

/** A Bundle's entry statuses, counted: `200 OK x5, 400 Bad Request x15`. */
function statuses(body: any): string {
  const counts = new Map<string, number>();
  for (const e of body?.entry ?? []) counts.set(e.response?.status, (counts.get(e.response?.status) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s} x${n}`).join(', ');
}

/** The attack's answer, read as text: it is parsed (described) once the victim has stopped. */
async function send(attack: Attack, base: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${attack.path}`, { method: 'POST', headers, body: attack.body, signal: AbortSignal.timeout(ATTACK_SECONDS * 1000) });
  return { status: res.status, text: await res.text() };
}

function describe(answer: { status: number; text: string }): string {
  let json: any;
  try {
    json = JSON.parse(answer.text);
  } catch {
    // not JSON: the status says it
  }
  const inner = json?.resourceType === 'Bundle' ? ` (entries: ${statuses(json)})` : json?.resourceType === 'OperationOutcome' ? ` (${json.issue?.[0]?.code})` : '';
  return `${answer.status}${inner}`;
}

const containsBatch = (n: number): Attack => ({
  name: `batch of ${n} value-string:contains searches`,
  path: '/fhir',
  body: JSON.stringify({
    resourceType: 'Bundle',
    type: 'batch',
    entry: Array.from({ length: n }, (_, i) => ({ request: { method: 'GET', url: `Observation?value-string:contains=introuvable${i}` } })),
  }),
});

const bigPatient = (names: number): Attack => ({
  name: `Patient with ${names.toLocaleString('en')} names`,
  path: '/fhir/Patient',
  body: JSON.stringify({ resourceType: 'Patient', name: Array.from({ length: names }, (_, i) => ({ family: `Famille${i}`, given: ['Marie-Claude'] })) }),
});

/** The victim: closed-loop reads of Patients and patient-scoped Observation searches until `stop` is set. */
async function victim(base: string, headers: Record<string, string>, stop: { done: boolean }, connections = 4): Promise<number[]> {
  const times: number[] = [];
  let n = 0;
  const one = async (c: number) => {
    while (!stop.done) {
      const p = (c * 7919 + n++ * 104729) % PATIENTS;
      const path = n % 2 === 0 ? `/fhir/Patient/p${p}` : `/fhir/Observation?subject=Patient/p${p}&_count=10`;
      const t0 = performance.now();
      try {
        const res = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(ATTACK_SECONDS * 1000) });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`victim: ${path} answered ${res.status}`);
      } catch (e) {
        // A read that waited past the attack's bound counts with the time it waited.
        if ((e as Error).name !== 'TimeoutError') throw e;
      }
      times.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, c) => one(c)));
  return times;
}

function line(name: string, times: number[], extra = ''): string {
  const s = [...times].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(1).padStart(7);
  return `${name.padEnd(46)} victim n=${String(s.length).padStart(6)}  p50 ${f(quantile(s, 0.5))} ms  p99 ${f(quantile(s, 0.99))} ms  max ${f(s[s.length - 1] ?? NaN)} ms${extra}`;
}

run(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'carnet-bench-availability-'));
  console.log(`carnet availability benchmark: ${machine()}`);
  console.log(`server: ${SERVER_ROOT}`);
  const t0 = performance.now();
  await seed(dir);
  console.log(`seeded ${PATIENTS} Patients and ${OBSERVATIONS} Observations in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const token = await (await ensureLocalIssuer(dir)).sign({ scope: 'system/*.cruds' });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(dir, port);
  const results: string[] = [];
  try {
    // Warm-up (pages of the store mapped, validators compiled): not reported.
    await victim(base, headers, await stopAfter(3000));
    await send(containsBatch(1), base, headers);
    await send(bigPatient(100), base, headers);
    // The largest Patient the server takes: as many names as one array may hold and its values allow
    // (a name of a family and a given name is 4 values, plus resourceType and the array).
    const { maxArrayItems, maxElements } = loadConfig(process.env);
    const atCap = Math.min(maxArrayItems, Math.floor((maxElements - 2) / 4));
    for (const connections of VICTIMS) {
      results.push(`victim: ${connections} connection${connections > 1 ? 's' : ''}`);
      results.push(line('no attack (3 s)', await victim(base, headers, await stopAfter(3000), connections)));
      for (const attack of [containsBatch(20), containsBatch(1000), bigPatient(100_000), bigPatient(atCap)]) {
        const stop = { done: false };
        const victimRun = victim(base, headers, stop, connections);
        // The victim is under way before the attack starts.
        await new Promise((r) => setTimeout(r, 200));
        const a0 = performance.now();
        const answer = await send(attack, base, headers).catch((e: Error) => e);
        const took = performance.now() - a0;
        await new Promise((r) => setTimeout(r, 200));
        stop.done = true;
        // An attack cut at its bound may still hold the server (a batch runs on after its client left):
        // the server is then restarted on the same data, so that the next attack starts on an idle one.
        const idle = await answersWithin(base, headers, 10_000);
        const times = await victimRun;
        const status = answer instanceof Error ? `failed: ${answer.message}` : describe(answer);
        results.push(line(attack.name, times, `   attacker: ${status} in ${(took / 1000).toFixed(2)} s${idle ? '' : ' (still running: server restarted)'}`));
        if (!idle) {
          server.kill('SIGKILL');
          await new Promise((r) => server.once('exit', r));
          server = await startServer(dir, port);
          await victim(base, headers, await stopAfter(3000));
        }
      }
    }
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  for (const r of results) console.log(r);
  console.log(`data size: ${PATIENTS} Patients, ${OBSERVATIONS} Observations; victim: ${VICTIMS.join(' then ')} connections reading Patients and patient-scoped Observation searches (closed loop); one server process; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
});

async function answersWithin(base: string, headers: Record<string, string>, ms: number): Promise<boolean> {
  try {
    return (await fetch(`${base}/fhir/Patient/p0`, { headers, signal: AbortSignal.timeout(ms) })).ok;
  } catch {
    return false;
  }
}

async function stopAfter(ms: number): Promise<{ done: boolean }> {
  const stop = { done: false };
  setTimeout(() => (stop.done = true), ms);
  return stop;
}
