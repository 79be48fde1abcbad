import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, release, tmpdir, totalmem, type as osType } from 'node:os';
import { createServer } from 'node:net';
import autocannon from 'autocannon';
import { ensureLocalIssuer } from '../../src/auth/local-issuer.js';
import { buildRecord } from '../../src/interactions/records.js';
import { createSearchRegistry } from '../../src/search/registry.js';
import { searchDataOf } from '../../src/search/extract.js';
import { createLmdbStore } from '../../src/store/lmdb/lmdb-store.js';
import { ACCESS_TYPES } from '../../src/access/facts-cache.js';
import { ACCESS_DERIVATION } from '../../src/access/lookup.js';
import type { Write } from '../../src/store/store.js';

export const ROOT = new URL('../..', import.meta.url).pathname;

export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'unknown cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${osType()} ${release()}, Node ${process.version}`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts a server script in its own process (the load generator must not share its event loop). */
export async function startProcess(script: string, env: Record<string, string>, readyUrl: string, nodeArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(readyUrl)).status < 500) return child;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${script} did not start`);
}

let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, in µs) used so far by a process and its living descendants (a
 * supervisor and its workers), read from /proc; undefined where there is none. On this kind of
 * noisy VM, CPU per request varies less between runs than requests per second.
 */
export function cpuMicros(pid: number): number | undefined {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stats = new Map<number, { ppid: number; ticks: number }>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // pid (comm) state ppid ...: comm may hold spaces; utime and stime are the 12th and 13th fields after it.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        stats.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
      } catch {
        // the process ended while the list was read
      }
    }
    let ticks = 0;
    const tree = [pid];
    for (let i = 0; i < tree.length; i++) {
      ticks += stats.get(tree[i])?.ticks ?? 0;
      for (const [child, s] of stats) if (s.ppid === tree[i]) tree.push(child);
    }
    return (ticks / ticksPerSecond) * 1e6;
  } catch {
    return undefined;
  }
}

/** `   cpu N µs/req` for a run that used `micros` of a server's CPU, or nothing where it is unknown. */
export function cpuPerRequest(micros: number | undefined, r: LoadResult): string {
  return micros === undefined || r.total === 0 ? '' : `   cpu ${(micros / r.total).toFixed(0)} µs/req`;
}

export interface LoadResult {
  requestsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
}

export async function load(opts: autocannon.Options): Promise<LoadResult> {
  const r = await autocannon({ ...opts });
  return {
    requestsPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    total: r.requests.total,
  };
}

export function row(name: string, r: LoadResult, extra = ''): string {
  return `${name.padEnd(34)} ${r.requestsPerSec.toFixed(0).padStart(8)} req/s   p50 ${String(r.p50).padStart(4)} ms   p99 ${String(r.p99).padStart(4)} ms   errors ${r.errors}  non-2xx ${r.non2xx}${extra}`;
}

export interface Carnet {
  base: string;
  /** The server's process (its CPU time: cpuMicros). */
  pid: number;
  /** A system client's token with every scope (no consent decides what it sees), and the FHIR JSON content type. */
  headers: Record<string, string>;
  /** Starts another server on the same data directory (e.g. CARNET_AUDIT=off), stopped with this one. */
  also(env: Record<string, string>): Promise<{ base: string; pid: number }>;
}

/** Runs `fn` against a carnet server started in its own process on a fresh data directory, then stops it. */
export async function withCarnet(name: string, fn: (carnet: Carnet & { dataDir: string }) => Promise<void>, env: Record<string, string> = {}): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `carnet-bench-${name}-`));
  const token = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
  const children: ChildProcess[] = [];
  const start = async (more: Record<string, string>) => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child = await startProcess('src/main.ts', { PORT: String(port), CARNET_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env, ...more }, `${base}/health`);
    children.push(child);
    return { base, pid: child.pid! };
  };
  try {
    const first = await start({});
    await fn({ ...first, dataDir, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, also: start });
  } finally {
    for (const child of children) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export interface Measured extends LoadResult {
  /** Server CPU time over the run, µs (undefined where /proc is not readable). */
  cpu?: number;
}

/** One load run with the server's CPU time over it. */
export async function measuredOn(pid: number, run: () => Promise<LoadResult>): Promise<Measured> {
  const before = cpuMicros(pid);
  const r = await run();
  const after = cpuMicros(pid);
  return { ...r, cpu: before === undefined || after === undefined ? undefined : after - before };
}

function mean(a: Measured, b: Measured): Measured {
  return {
    requestsPerSec: (a.requestsPerSec + b.requestsPerSec) / 2,
    p50: (a.p50 + b.p50) / 2,
    p99: (a.p99 + b.p99) / 2,
    errors: a.errors + b.errors,
    non2xx: a.non2xx + b.non2xx,
    total: a.total + b.total,
    cpu: a.cpu === undefined || b.cpu === undefined ? undefined : a.cpu + b.cpu,
  };
}

/**
 * The same load with the access history on and off (CARNET_AUDIT=off), run on, off, off, on and
 * averaged per setting, so that the drift of a shared VM falls on both alike. Returns three lines:
 * each setting, and what audit on loses. `factor` turns requests/s into the unit printed (resources/s).
 */
export async function auditOnOff(
  label: string,
  run: (setting: 'on' | 'off') => Promise<Measured>,
  unit?: { name: string; factor: number },
): Promise<string[] & { on: Measured; off: Measured }> {
  const on1 = await run('on');
  const off1 = await run('off');
  const off2 = await run('off');
  const on2 = await run('on');
  const on = mean(on1, on2);
  const off = mean(off1, off2);
  const cpu = (m: Measured) => (m.cpu === undefined || m.total === 0 ? undefined : m.cpu / m.total);
  const extra = (m: Measured) => `${cpuPerRequest(m.cpu, m)}${unit ? `   = ${(m.requestsPerSec * unit.factor).toFixed(0)} ${unit.name}` : ''}`;
  const loss = (100 * (off.requestsPerSec - on.requestsPerSec)) / off.requestsPerSec;
  const [cOn, cOff] = [cpu(on), cpu(off)];
  const cpuLine = cOn !== undefined && cOff !== undefined ? `, server CPU ${cOff.toFixed(0)} -> ${cOn.toFixed(0)} µs/req (${(((cOn - cOff) / cOff) * 100).toFixed(0)}%)` : '';
  const lines = [
    row(`${label}, audit on`, on, extra(on)),
    row(`${label}, audit off`, off, extra(off)),
    `  audit on loses ${loss.toFixed(1)}% of the throughput${cpuLine} (each figure: mean of two runs, order on/off/off/on)`,
  ];
  // The lines, and the two means for a caller that sets another figure against them.
  return Object.assign(lines, { on, off });
}

/** Runs a benchmark's main, exiting non-zero on failure. */
export function run(main: () => Promise<void>): void {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/**
 * Writes resources straight into an embedded store through the server's own indexing, 2,000 per
 * commit, each a millisecond after the one before from 2026-01-01: how the benchmarks load their data.
 */
export async function bulkLoader(path: string, baseUrl: string): Promise<{ add(resource: Record<string, unknown>, type: string, id: string): Promise<void>; close(): Promise<void> }> {
  // As the server opens it (src/app.ts): the lookup table is written with the records, not derived at the server's first open.
  const registry = createSearchRegistry();
  const store = await createLmdbStore({ path, marked: ACCESS_TYPES, derivation: ACCESS_DERIVATION, searchData: searchDataOf(registry, { baseUrl }) });
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const ctx = { now: () => new Date(clock++), registry, baseUrl };
  let writes: Write[] = [];
  const flush = async () => {
    await store.commit(writes);
    writes = [];
  };
  return {
    async add(resource, type, id) {
      writes.push({ record: buildRecord(resource as never, type, id, undefined, ctx), expect: { kind: 'absent' } });
      if (writes.length >= 2000) await flush();
    },
    async close() {
      await flush();
      await store.close();
    },
  };
}
