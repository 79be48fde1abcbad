import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { SEMI_SPACE_FLAG, workerExecArgv } from '../src/cluster.js';
import { describeEngines } from './harness.js';
import { PROCESS_TIMEOUT, serverEnv, startProcess, workersOf, type Running } from './processes.js';

/** Waits for a condition of a running server; on time-out, says what the server printed. */
async function until(run: Running, what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}; the server printed:\n${run.stdout().slice(-4000)}\n${run.stderr().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The workers that logged having handled a request (each worker's lines carry its number). */
function workersThatServed(run: Running): Set<number> {
  return workersThat(run, 'request');
}

/** The workers that logged a line with this message. */
function workersThat(run: Running, msg: string): Set<number> {
  const ids = new Set<number>();
  for (const line of run.stdout().split('\n')) {
    if (!line.includes(`"msg":${JSON.stringify(msg)}`)) continue;
    const worker = JSON.parse(line).worker;
    if (typeof worker === 'number') ids.add(worker);
  }
  return ids;
}

describeEngines('several workers on one port (CARNET_WORKERS)', (engine) => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('serves from every worker, one conditional create wins across them, a dead worker is replaced, SIGTERM stops all', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'carnet-cluster-'));
    dirs.push(dataDir);
    const token = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
    const run = await startProcess({
      CARNET_DATA_DIR: dataDir,
      CARNET_WORKERS: '2',
      LOG_LEVEL: 'info',
      ...(engine === 'mongodb' ? { MONGODB_URI: process.env.MONGODB_URI!, MONGODB_DB: `carnet_cluster_${process.pid}_${Date.now()}` } : {}),
    });
    const base = `http://127.0.0.1:${run.port}/fhir`;
    try {
      await until(run, 'both workers run', () => workersOf(run.child.pid!).length === 2);
      // Each worker compiles its validators before it listens: the first one ready could take every connection.
      await until(run, 'both workers listen', () => workersThat(run, 'carnet is serving FHIR R4').size === 2);
      // Several processes writing one embedded store: the supervisor says what that risks (README's open problem).
      expect(run.stdout().includes('several server processes write one embedded store')).toBe(engine === 'lmdb');
      // Each worker runs with the larger young generation (see SEMI_SPACE_FLAG).
      for (const w of workersOf(run.child.pid!)) expect(readFileSync(`/proc/${w}/cmdline`, 'utf8').split('\0')).toContain(SEMI_SPACE_FLAG);

      // 16 clients at once, on 16 connections the primary deals out to both workers.
      const identifier = { system: 'urn:oid:1.2.250.1.213.1.4.8', value: '1850512345678' };
      const answers = await Promise.all(
        Array.from({ length: 16 }, async () => {
          const res = await fetch(`${base}/Patient`, {
            method: 'POST',
            headers: { ...headers, 'if-none-exist': `identifier=${identifier.system}|${identifier.value}` },
            body: JSON.stringify({ resourceType: 'Patient', identifier: [identifier] }),
          });
          return { status: res.status, id: ((await res.json()) as { id: string }).id };
        }),
      );
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(15);
      expect(new Set(answers.map((a) => a.id)).size).toBe(1);
      const found = await (await fetch(`${base}/Patient?identifier=${identifier.system}|${identifier.value}`, { headers })).json();
      expect((found as { total: number }).total).toBe(1);
      await until(run, 'the request lines are written', () => workersThatServed(run).size === 2, 10_000);

      // A worker killed outright is replaced; the server answers throughout.
      const [first] = workersOf(run.child.pid!);
      process.kill(first, 'SIGKILL');
      await until(run, 'a new worker replaces the dead one', () => {
        const now = workersOf(run.child.pid!);
        return now.length === 2 && !now.includes(first);
      });
      const read = await fetch(`${base}/Patient/${answers[0].id}`, { headers });
      expect(read.status).toBe(200);
      expect(run.stdout()).toContain('a worker died: starting another');

      const workers = workersOf(run.child.pid!);
      run.child.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
      expect(workers.filter(existsProcess)).toEqual([]);
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }, PROCESS_TIMEOUT);
});

it('stops with exit 1, rather than restarting forever, when its workers cannot start', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carnet-cluster-busy-'));
  // The port is taken: every worker fails to listen.
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: new URL('..', import.meta.url).pathname,
      env: serverEnv({ PORT: String(port), CARNET_DATA_DIR: dataDir, CARNET_WORKERS: '2', LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(1);
    expect(out).toContain('workers keep dying: stopping the server');
  } finally {
    taken.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, PROCESS_TIMEOUT);

function existsProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('refuses a CARNET_WORKERS that is neither auto nor a number from 1 to 64', async () => {
  const { loadConfig } = await import('../src/config.js');
  expect(() => loadConfig({ CARNET_WORKERS: 'many' })).toThrow(/CARNET_WORKERS: expected "auto" or a whole number/);
  expect(() => loadConfig({ CARNET_WORKERS: '0' })).toThrow(/CARNET_WORKERS/);
  expect(loadConfig({ CARNET_WORKERS: '3' }).workers).toBe(3);
  // auto: one process per core on MongoDB; one on the embedded engine (the README's open problem of lmdb-js).
  expect(loadConfig({ CARNET_WORKERS: 'auto', MONGODB_URI: 'mongodb://127.0.0.1:27017/' }).workers).toBe(Math.min(64, availableParallelism()));
  expect(loadConfig({ CARNET_WORKERS: 'auto' }).workers).toBe(1);
  expect(loadConfig({}).workers).toBe(1);
});

it("gives workers the larger young generation unless the operator chose a size in Node's options", () => {
  expect(workerExecArgv(['--import', 'tsx'])).toEqual(['--import', 'tsx', SEMI_SPACE_FLAG]);
  expect(workerExecArgv(['--max-semi-space-size=8'])).toEqual(['--max-semi-space-size=8']);
  expect(workerExecArgv([], '--max-old-space-size=4096 --max-semi-space-size=32')).toEqual([]);
  expect(workerExecArgv(['--max_semi_space_size=32'])).toEqual(['--max_semi_space_size=32']);
});
